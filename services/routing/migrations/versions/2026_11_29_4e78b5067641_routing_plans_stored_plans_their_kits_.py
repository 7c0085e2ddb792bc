"""routing plans: stored plans, their kits and the transfers their commit opened

Revision ID: 4e78b5067641
Revises: 7e39757a923e
Create Date: 2026-11-29 09:30:53.766618
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "4e78b5067641"
down_revision: str | None = "7e39757a923e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "DRAFT", "PARTIALLY_COMMITTED", "COMMITTED", name="plan_state", schema="routing"
            ),
            nullable=False,
        ),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("destinations", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("kits_on_time", sa.Integer(), nullable=False),
        sa.Column("kits_unmet", sa.Integer(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plans")),
        schema="routing",
    )
    op.create_index(
        "ix_plans_created_at_plan_id",
        "plans",
        ["created_at", "plan_id"],
        unique=False,
        schema="routing",
    )
    op.create_table(
        "plan_kits",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("kit_label", sa.String(length=64), nullable=False),
        sa.Column("source_depot", sa.String(length=64), nullable=False),
        sa.Column("receiving_depot", sa.String(length=64), nullable=False),
        sa.Column("demand_id", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["routing.plans.plan_id"],
            name=op.f("fk_plan_kits_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "kit_label", name=op.f("pk_plan_kits")),
        schema="routing",
    )
    op.create_table(
        "plan_transfers",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("from_depot", sa.String(length=64), nullable=False),
        sa.Column("to_depot", sa.String(length=64), nullable=False),
        sa.Column("kit_labels", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("sscc", sa.String(length=18), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["routing.plans.plan_id"],
            name=op.f("fk_plan_transfers_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "request_id", name=op.f("pk_plan_transfers")),
        schema="routing",
    )


def downgrade() -> None:
    op.drop_table("plan_transfers", schema="routing")
    op.drop_table("plan_kits", schema="routing")
    op.drop_index("ix_plans_created_at_plan_id", table_name="plans", schema="routing")
    op.drop_table("plans", schema="routing")
    sa.Enum(name="plan_state", schema="routing").drop(op.get_bind(), checkfirst=True)
