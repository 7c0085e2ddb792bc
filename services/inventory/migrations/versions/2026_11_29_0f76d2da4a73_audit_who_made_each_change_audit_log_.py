"""audit: who made each change (audit_log), and who sent each scan under which request id

Revision ID: 0f76d2da4a73
Revises: 7c3e9a51b2f4
Create Date: 2026-11-29 10:02:09.081760
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0f76d2da4a73"
down_revision: str | None = "7c3e9a51b2f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("keys", postgresql.ARRAY(sa.String(length=128)), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema="inventory",
    )
    op.create_index(
        "ix_audit_log_keys",
        "audit_log",
        ["keys"],
        unique=False,
        schema="inventory",
        postgresql_using="gin",
    )
    op.add_column(
        "scans",
        sa.Column("recorded_by", sa.String(length=128), server_default="", nullable=False),
        schema="inventory",
    )
    op.add_column(
        "scans",
        sa.Column("request_id", sa.String(length=128), server_default="", nullable=False),
        schema="inventory",
    )
    # Like the ledger, the audit log is only ever appended to.
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON inventory.audit_log "
        "FOR EACH ROW EXECUTE FUNCTION inventory.refuse_ledger_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON inventory.audit_log")
    op.drop_column("scans", "request_id", schema="inventory")
    op.drop_column("scans", "recorded_by", schema="inventory")
    op.drop_index(
        "ix_audit_log_keys", table_name="audit_log", schema="inventory", postgresql_using="gin"
    )
    op.drop_table("audit_log", schema="inventory")
