"""routing audit: who changed the network, made or committed a plan

Revision ID: cd565e15ca84
Revises: 4e78b5067641
Create Date: 2026-11-29 10:05:46.645478
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "cd565e15ca84"
down_revision: str | None = "4e78b5067641"
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
        schema="routing",
    )
    op.create_index(
        "ix_audit_log_keys",
        "audit_log",
        ["keys"],
        unique=False,
        schema="routing",
        postgresql_using="gin",
    )
    op.add_column(
        "plans",
        sa.Column("created_by", sa.String(length=128), server_default="", nullable=False),
        schema="routing",
    )
    op.add_column(
        "plans",
        sa.Column("committed_by", sa.String(length=128), server_default="", nullable=False),
        schema="routing",
    )


def downgrade() -> None:
    op.drop_column("plans", "committed_by", schema="routing")
    op.drop_column("plans", "created_by", schema="routing")
    op.drop_index(
        "ix_audit_log_keys", table_name="audit_log", schema="routing", postgresql_using="gin"
    )
    op.drop_table("audit_log", schema="routing")
