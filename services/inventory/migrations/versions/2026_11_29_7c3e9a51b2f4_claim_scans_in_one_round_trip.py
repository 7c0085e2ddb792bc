"""claim scans in one round trip: lock their ids, then look up what they got before

Revision ID: 7c3e9a51b2f4
Revises: 4d2020d1f835
Create Date: 2026-11-29 10:00:00.000000

A scan is recorded once per scan_id: its id is locked (an advisory lock), and
only then is the ledger asked whether it was seen. The lookup must see what
a copy committed while this one waited for the lock, so it cannot share the
lock's statement (one statement, one snapshot, taken before the wait). A
PL/pgSQL function runs each of its statements with a fresh snapshot: the
lock and the lookup become one round trip without losing that.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c3e9a51b2f4"
down_revision: str | None = "4d2020d1f835"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIM_SCANS = """
CREATE FUNCTION inventory.claim_scans(ids text[])
RETURNS TABLE (
    scan_id text, fingerprint text, result bytea, seq bigint,
    recorded_at timestamptz, refusal bytea
)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- In hash order, so two batches sharing scans cannot wait on each other in a circle.
    PERFORM pg_advisory_xact_lock(h) FROM (
        SELECT DISTINCT hashtextextended('scan:' || x, 0) AS h FROM unnest(ids) AS x
    ) AS keys ORDER BY h;
    RETURN QUERY
        SELECT s.scan_id::text, s.fingerprint::text, s.result, s.seq, s.recorded_at, NULL::bytea
        FROM inventory.scans AS s WHERE s.scan_id = ANY (ids)
        UNION ALL
        SELECT r.scan_id::text, r.fingerprint::text, NULL, NULL, NULL, r.status
        FROM inventory.scan_refusals AS r WHERE r.scan_id = ANY (ids);
END
$$
"""


def upgrade() -> None:
    op.execute(CLAIM_SCANS)


def downgrade() -> None:
    op.execute("DROP FUNCTION inventory.claim_scans(text[])")
