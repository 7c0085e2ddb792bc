"""prefetch scans in one statement: claim, lock and read a group of scans' rows at once

Revision ID: a41c7e2d9b30
Revises: 36cea8fbcd89
Create Date: 2026-11-29 18:40:00.000000

A set-based group of scans (a RecordScans batch, or RecordScan calls recorded
together) read its rows in two round trips of eight statements: claim the
scan ids; lock the kits, units and lots named, take ids for new rows; lock
the kits those are packed in, read every kit's contents. Scans arrive in
groups of two or three, so each statement's cost in the driver and in
PostgreSQL was paid for two or three scans. This function does the same in
one call, in the same order (its statements run one after the other, each
with a fresh snapshot, as the separate statements did), and answers all of
it as rows of one shape, `part` saying which block of columns is filled:
0 a claimed scan (see claim_scans), 1 a kit, 2 a unit, 3 a lot, 4 an id for
a new unit, 5 one for a new lot. Units and lots can come twice (found by key
and in a kit's contents); the first copy is the one to keep.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a41c7e2d9b30"
down_revision: str | None = "36cea8fbcd89"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The blocks of columns of the answer, each (name, type), in the order returned.
CLAIM = (
    ("s_scan_id", "text"),
    ("s_fingerprint", "text"),
    ("s_result", "bytea"),
    ("s_seq", "bigint"),
    ("s_recorded_at", "timestamptz"),
    ("s_refusal", "bytea"),
)
KIT = (
    ("k_id", "int"),
    ("k_label", "text"),
    ("k_giai", "text"),
    ("k_depot_id", "int"),
    ("k_location_id", "int"),
    ("k_state", "inventory.kit_state"),
    ("k_template_id", "int"),
    ("k_state_valid_until", "date"),
)
UNIT = (
    ("u_id", "bigint"),
    ("u_item_type_id", "int"),
    ("u_serial", "text"),
    ("u_kit_id", "int"),
    ("u_depot_id", "int"),
    ("u_location_id", "int"),
    ("u_condition", "inventory.condition"),
    ("u_expires_on", "date"),
    ("u_last_inspected_on", "date"),
    ("u_next_inspection_on", "date"),
    ("u_retired_on", "date"),
)
LOT = (
    ("l_id", "bigint"),
    ("l_item_type_id", "int"),
    ("l_lot_number", "text"),
    ("l_kit_id", "int"),
    ("l_depot_id", "int"),
    ("l_location_id", "int"),
    ("l_quantity", "int"),
    ("l_condition", "inventory.condition"),
    ("l_expires_on", "date"),
    ("l_next_inspection_on", "date"),
)
NEW_ID = (("n_id", "bigint"),)
BLOCKS = (CLAIM, KIT, UNIT, LOT, NEW_ID)


def _select(part: int, block: tuple[tuple[str, str], ...], values: str) -> str:
    """SELECT of one block's values (an expression list), NULL in every other block."""
    columns = [str(part)]
    for other in BLOCKS:
        columns += [values] if other is block else [f"NULL::{kind}" for _, kind in other]
    return "SELECT " + ", ".join(columns)


KIT_VALUES = (
    "k.id, k.label::text, k.giai::text, k.depot_id, k.location_id, k.state, k.template_id,"
    " k.state_valid_until"
)
UNIT_VALUES = (
    "u.id, u.item_type_id, u.serial::text, u.kit_id, u.depot_id, u.location_id, u.condition,"
    " u.expires_on, u.last_inspected_on, u.next_inspection_on, u.retired_on"
)
LOT_VALUES = (
    "l.id, l.item_type_id, l.lot_number::text, l.kit_id, l.depot_id, l.location_id, l.quantity,"
    " l.condition, l.expires_on, l.next_inspection_on"
)
ANSWER = ", ".join(f"{name} {kind}" for block in BLOCKS for name, kind in block)

PREFETCH_SCANS = f"""
CREATE FUNCTION inventory.prefetch_scans(
    claim_ids json, giais json, unit_keys json, lot_keys json, new_units int, new_lots int
)
RETURNS TABLE (part int, {ANSWER})
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    named inventory.kits[] := '{{}}';
    holders inventory.kits[] := '{{}}';
    units_found inventory.units[] := '{{}}';
    lots_found inventory.lots[] := '{{}}';
    kit_ids int[];
BEGIN
    -- Each step only when it has something to do: a group of one or two scans
    -- names a kit, or a unit, or a lot, seldom all three.
    -- The scan ids: locked, then looked up (claim_scans).
    IF json_array_length(claim_ids) > 0 THEN
        RETURN QUERY {_select(0, CLAIM, "c.*")} FROM inventory.claim_scans(
            ARRAY(SELECT json_array_elements_text(claim_ids))) AS c;
    END IF;
    -- The kits named, locked in id order.
    IF json_array_length(giais) > 0 THEN
        SELECT coalesce(array_agg(t.k), '{{}}') INTO named FROM (
            SELECT k FROM inventory.kits AS k
            WHERE k.giai = ANY (ARRAY(SELECT json_array_elements_text(giais)))
            ORDER BY k.id FOR UPDATE
        ) AS t;
    END IF;
    -- Units and lots by key, one probe of the key's index each (the keys come
    -- sorted), each row locked as it is found.
    IF json_array_length(unit_keys) > 0 THEN
        SELECT coalesce(array_agg(t.x), '{{}}') INTO units_found FROM (
            SELECT found.x FROM json_array_elements(unit_keys) AS key, LATERAL (
                SELECT x FROM inventory.units AS x
                WHERE x.item_type_id = (key->>0)::int AND x.serial = key->>1 OFFSET 0
            ) AS found FOR UPDATE OF found
        ) AS t;
    END IF;
    IF json_array_length(lot_keys) > 0 THEN
        SELECT coalesce(array_agg(t.x), '{{}}') INTO lots_found FROM (
            SELECT found.x FROM json_array_elements(lot_keys) AS key, LATERAL (
                SELECT x FROM inventory.lots AS x
                WHERE x.item_type_id = (key->>0)::int AND x.lot_number = key->>1
                  AND x.depot_id = (key->>2)::int
                ORDER BY x.id OFFSET 0
            ) AS found FOR UPDATE OF found
        ) AS t;
    END IF;
    -- The kits those are packed in, locked in id order.
    kit_ids := ARRAY(SELECT k.id FROM unnest(named) AS k);
    IF cardinality(units_found) + cardinality(lots_found) > 0 THEN
        SELECT coalesce(array_agg(t.k), '{{}}') INTO holders FROM (
            SELECT k FROM inventory.kits AS k
            WHERE k.id = ANY (ARRAY(
                SELECT u.kit_id FROM unnest(units_found) AS u
                UNION SELECT l.kit_id FROM unnest(lots_found) AS l
            )) AND k.id <> ALL (kit_ids)
            ORDER BY k.id FOR UPDATE
        ) AS t;
        kit_ids := kit_ids || ARRAY(SELECT k.id FROM unnest(holders) AS k);
    END IF;
    -- What was found, then what every kit holds (read without row locks, as a lone
    -- scan reads a kit's contents: the kit is locked).
    IF cardinality(kit_ids) > 0 THEN
        RETURN QUERY {_select(1, KIT, KIT_VALUES)} FROM unnest(named || holders) AS k;
    END IF;
    RETURN QUERY {_select(2, UNIT, UNIT_VALUES)} FROM unnest(units_found) AS u;
    RETURN QUERY {_select(3, LOT, LOT_VALUES)} FROM unnest(lots_found) AS l;
    IF cardinality(kit_ids) > 0 THEN
        RETURN QUERY {_select(2, UNIT, UNIT_VALUES)}
            FROM inventory.units AS u WHERE u.kit_id = ANY (kit_ids);
        RETURN QUERY {_select(3, LOT, LOT_VALUES)}
            FROM inventory.lots AS l WHERE l.kit_id = ANY (kit_ids);
    END IF;
    -- Ids for the rows the group may add.
    IF new_units > 0 THEN
        RETURN QUERY {_select(4, NEW_ID, "nextval('inventory.units_id_seq')")}
            FROM generate_series(1, new_units);
    END IF;
    IF new_lots > 0 THEN
        RETURN QUERY {_select(5, NEW_ID, "nextval('inventory.lots_id_seq')")}
            FROM generate_series(1, new_lots);
    END IF;
END
$$
"""


def upgrade() -> None:
    op.execute(PREFETCH_SCANS)


def downgrade() -> None:
    op.execute("DROP FUNCTION inventory.prefetch_scans(json, json, json, json, int, int)")
