"""scan fingerprints and refusals, one lot row per place

Revision ID: 4d2020d1f835
Revises: bc953c46ad69
Create Date: 2026-11-29 08:28:07.182907
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4d2020d1f835"
down_revision: str | None = "bc953c46ad69"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scan_refusals",
        sa.Column("scan_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.LargeBinary(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("scan_id", name=op.f("pk_scan_refusals")),
        schema="inventory",
    )
    _refuse_split_lots()
    op.create_index(
        "uq_lots_place",
        "lots",
        ["item_type_id", "lot_number", "depot_id", "kit_id"],
        unique=True,
        schema="inventory",
        postgresql_nulls_not_distinct=True,
    )
    op.add_column(
        "scans", sa.Column("fingerprint", sa.String(length=64), nullable=True), schema="inventory"
    )


def downgrade() -> None:
    op.drop_column("scans", "fingerprint", schema="inventory")
    op.drop_index(
        "uq_lots_place", table_name="lots", schema="inventory", postgresql_nulls_not_distinct=True
    )
    op.drop_table("scan_refusals", schema="inventory")


def _refuse_split_lots() -> None:
    """Stop with a clear message if a lot is already split over rows at one place.

    Merging them would orphan ledger rows that point at the extra rows, and the
    ledger is append-only; an operator must decide.
    """
    split = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT item_type_id, lot_number, depot_id, kit_id, count(*) FROM inventory.lots "
                "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1 LIMIT 5"
            )
        )
        .all()
    )
    if split:
        raise RuntimeError(
            "lots split over several rows at one place (item type, lot, depot, kit, rows): "
            f"{split}; merge their quantities by hand, then migrate again"
        )
