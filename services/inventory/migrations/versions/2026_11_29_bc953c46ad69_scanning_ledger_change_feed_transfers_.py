"""scanning ledger, change feed, transfers, counts; GLN for depots, GIAI for kits

Revision ID: bc953c46ad69
Revises: e0aed5029b2d
Create Date: 2026-11-29 07:47:29.424122
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bc953c46ad69"
down_revision: str | None = "e0aed5029b2d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("depot_code", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=False),
        sa.Column("kit_label", sa.String(length=128), nullable=False),
        sa.Column("kit_state", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
        schema="inventory",
    )
    op.create_index(
        "ix_changes_txid_id", "changes", ["txid", "id"], unique=False, schema="inventory"
    )
    op.create_table(
        "stock_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count_id", sa.String(length=32), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["inventory.depots.id"], name=op.f("fk_stock_counts_depot_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
        sa.UniqueConstraint("count_id", name=op.f("uq_stock_counts_count_id")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_stock_counts_depot_id"),
        "stock_counts",
        ["depot_id"],
        unique=False,
        schema="inventory",
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sscc", sa.String(length=18), nullable=True),
        sa.Column("from_depot_id", sa.Integer(), nullable=False),
        sa.Column("to_depot_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("OPEN", "IN_TRANSIT", "CLOSED", name="transfer_state", schema="inventory"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_depot_id"],
            ["inventory.depots.id"],
            name=op.f("fk_transfers_from_depot_id_depots"),
        ),
        sa.ForeignKeyConstraint(
            ["to_depot_id"], ["inventory.depots.id"], name=op.f("fk_transfers_to_depot_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("sscc", name=op.f("uq_transfers_sscc")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_transfers_from_depot_id"),
        "transfers",
        ["from_depot_id"],
        unique=False,
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_transfers_to_depot_id"),
        "transfers",
        ["to_depot_id"],
        unique=False,
        schema="inventory",
    )
    op.create_table(
        "count_discrepancies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("item_type_code", sa.String(length=64), nullable=False),
        sa.Column("expected_bin", sa.String(length=20), nullable=False),
        sa.Column("counted_bin", sa.String(length=20), nullable=False),
        sa.Column("adjustment", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["count_id"],
            ["inventory.stock_counts.id"],
            name=op.f("fk_count_discrepancies_count_id_stock_counts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_count_discrepancies")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_count_discrepancies_count_id"),
        "count_discrepancies",
        ["count_id"],
        unique=False,
        schema="inventory",
    )
    op.create_table(
        "transfer_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("kit_id", sa.Integer(), nullable=False),
        sa.Column("shipped", sa.Boolean(), nullable=False),
        sa.Column("received", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kit_id"], ["inventory.kits.id"], name=op.f("fk_transfer_lines_kit_id_kits")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["inventory.transfers.id"],
            name=op.f("fk_transfer_lines_transfer_id_transfers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_lines")),
        sa.UniqueConstraint(
            "transfer_id", "kit_id", name=op.f("uq_transfer_lines_transfer_id_kit_id")
        ),
        schema="inventory",
    )
    op.create_index(
        "uq_transfer_lines_kit_id_pending",
        "transfer_lines",
        ["kit_id"],
        unique=True,
        schema="inventory",
        postgresql_where=sa.text("NOT received"),
    )
    op.create_table(
        "scans",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "RECEIVE",
                "PUTAWAY",
                "PACK",
                "UNPACK",
                "ISSUE",
                "RETURN",
                "TRANSFER_OUT",
                "TRANSFER_IN",
                "COUNT",
                "INSPECT_PASS",
                "INSPECT_FAIL",
                "RETIRE",
                name="scan_action",
                schema="inventory",
            ),
            nullable=False,
        ),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("kit_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.BigInteger(), nullable=True),
        sa.Column("lot_id", sa.BigInteger(), nullable=True),
        sa.Column("transfer_id", sa.Integer(), nullable=True),
        sa.Column("count_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_reason", sa.String(length=200), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("result", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["count_id"], ["inventory.stock_counts.id"], name=op.f("fk_scans_count_id_stock_counts")
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["inventory.depots.id"], name=op.f("fk_scans_depot_id_depots")
        ),
        sa.ForeignKeyConstraint(
            ["kit_id"], ["inventory.kits.id"], name=op.f("fk_scans_kit_id_kits")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["inventory.locations.id"], name=op.f("fk_scans_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["inventory.lots.id"], name=op.f("fk_scans_lot_id_lots")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["inventory.transfers.id"], name=op.f("fk_scans_transfer_id_transfers")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["inventory.units.id"], name=op.f("fk_scans_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_scans")),
        sa.UniqueConstraint("scan_id", name=op.f("uq_scans_scan_id")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_scans_count_id"), "scans", ["count_id"], unique=False, schema="inventory"
    )
    op.create_index(
        op.f("ix_inventory_scans_kit_id"), "scans", ["kit_id"], unique=False, schema="inventory"
    )
    op.create_index(
        op.f("ix_inventory_scans_lot_id"), "scans", ["lot_id"], unique=False, schema="inventory"
    )
    op.create_index(
        op.f("ix_inventory_scans_unit_id"), "scans", ["unit_id"], unique=False, schema="inventory"
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER scans_append_only BEFORE UPDATE OR DELETE ON inventory.scans "
        "FOR EACH ROW EXECUTE FUNCTION inventory.refuse_ledger_change()"
    )
    op.add_column(
        "depots", sa.Column("gln", sa.String(length=13), nullable=True), schema="inventory"
    )
    op.create_unique_constraint(op.f("uq_depots_gln"), "depots", ["gln"], schema="inventory")
    op.add_column(
        "kits", sa.Column("giai", sa.String(length=30), nullable=True), schema="inventory"
    )
    op.create_unique_constraint(op.f("uq_kits_giai"), "kits", ["giai"], schema="inventory")
    _identify_existing_rows()
    op.alter_column(
        "locations",
        "label",
        existing_type=sa.VARCHAR(length=128),
        type_=sa.String(length=20),
        existing_nullable=False,
        schema="inventory",
    )
    op.drop_constraint(op.f("uq_locations_label"), "locations", schema="inventory", type_="unique")
    op.create_unique_constraint(
        op.f("uq_locations_depot_id_label"), "locations", ["depot_id", "label"], schema="inventory"
    )
    op.add_column("units", sa.Column("retired_on", sa.Date(), nullable=True), schema="inventory")


def downgrade() -> None:
    op.drop_column("units", "retired_on", schema="inventory")
    op.drop_constraint(
        op.f("uq_locations_depot_id_label"), "locations", schema="inventory", type_="unique"
    )
    op.create_unique_constraint(
        op.f("uq_locations_label"),
        "locations",
        ["label"],
        schema="inventory",
        postgresql_nulls_not_distinct=False,
    )
    op.alter_column(
        "locations",
        "label",
        existing_type=sa.String(length=20),
        type_=sa.VARCHAR(length=128),
        existing_nullable=False,
        schema="inventory",
    )
    op.drop_constraint(op.f("uq_kits_giai"), "kits", schema="inventory", type_="unique")
    op.drop_column("kits", "giai", schema="inventory")
    op.drop_constraint(op.f("uq_depots_gln"), "depots", schema="inventory", type_="unique")
    op.drop_column("depots", "gln", schema="inventory")
    op.drop_index(op.f("ix_inventory_scans_unit_id"), table_name="scans", schema="inventory")
    op.drop_index(op.f("ix_inventory_scans_lot_id"), table_name="scans", schema="inventory")
    op.drop_index(op.f("ix_inventory_scans_kit_id"), table_name="scans", schema="inventory")
    op.drop_index(op.f("ix_inventory_scans_count_id"), table_name="scans", schema="inventory")
    op.drop_table("scans", schema="inventory")
    op.execute("DROP FUNCTION IF EXISTS inventory.refuse_ledger_change()")
    op.drop_index(
        "uq_transfer_lines_kit_id_pending",
        table_name="transfer_lines",
        schema="inventory",
        postgresql_where=sa.text("NOT received"),
    )
    op.drop_table("transfer_lines", schema="inventory")
    op.drop_index(
        op.f("ix_inventory_count_discrepancies_count_id"),
        table_name="count_discrepancies",
        schema="inventory",
    )
    op.drop_table("count_discrepancies", schema="inventory")
    op.drop_index(
        op.f("ix_inventory_transfers_to_depot_id"), table_name="transfers", schema="inventory"
    )
    op.drop_index(
        op.f("ix_inventory_transfers_from_depot_id"), table_name="transfers", schema="inventory"
    )
    op.drop_table("transfers", schema="inventory")
    op.drop_index(
        op.f("ix_inventory_stock_counts_depot_id"), table_name="stock_counts", schema="inventory"
    )
    op.drop_table("stock_counts", schema="inventory")
    op.drop_index("ix_changes_txid_id", table_name="changes", schema="inventory")
    op.drop_table("changes", schema="inventory")
    for enum in ("scan_action", "transfer_state"):
        sa.Enum(name=enum, schema="inventory").drop(op.get_bind(), checkfirst=True)


APPEND_ONLY_FUNCTION = """
CREATE FUNCTION inventory.refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the scan ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""

# The corps' fictitious GS1 company prefix, as in services/inventory/domain/labels.py
# at the time of this revision (copied: a migration must not change with the code).
_PREFIX = "69500000"


def _check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _identify_existing_rows() -> None:
    """Give depots and kits made before this revision their GLN and GIAI."""
    bind = op.get_bind()
    for (depot_id,) in bind.execute(sa.text("SELECT id FROM inventory.depots WHERE gln IS NULL")):
        body = f"{_PREFIX}{depot_id:04d}"
        bind.execute(
            sa.text("UPDATE inventory.depots SET gln = :gln WHERE id = :id"),
            {"gln": body + _check_digit(body), "id": depot_id},
        )
    bind.execute(
        sa.text(
            "UPDATE inventory.kits SET giai = :prefix || 'K' || lpad(id::text, 8, '0') "
            "WHERE giai IS NULL"
        ),
        {"prefix": _PREFIX},
    )
