"""inventory schema: depots, bins, item types, kit templates, kits, units, lots, standards

Revision ID: e0aed5029b2d
Revises:
Create Date: 2026-11-29 07:31:07.889087
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0aed5029b2d"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "depots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "tier",
            sa.Enum(
                "PROVINCIAL",
                "REGIONAL",
                "TRAINING_SUPPORT",
                "CITY",
                "DISTRIBUTION_CENTER",
                name="tier",
                schema="inventory",
            ),
            nullable=False,
        ),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("floor_area_m2", sa.Float(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("floor_area_m2 >= 0", name=op.f("ck_depots_floor_area_not_negative")),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_depots_latitude_range")),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_depots_longitude_range")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["inventory.depots.id"], name=op.f("fk_depots_parent_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_depots")),
        sa.UniqueConstraint("code", name=op.f("uq_depots_code")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_depots_city"), "depots", ["city"], unique=False, schema="inventory"
    )
    op.create_table(
        "item_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "tracking_mode",
            sa.Enum("SERIAL", "LOT", "BULK", name="tracking_mode", schema="inventory"),
            nullable=False,
        ),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=False),
        sa.Column("volume_m3", sa.Float(), nullable=False),
        sa.Column("shelf_life_days", sa.Integer(), nullable=True),
        sa.Column("inspection_interval_days", sa.Integer(), nullable=True),
        sa.Column("retire_after_days", sa.Integer(), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.CheckConstraint("volume_m3 >= 0", name=op.f("ck_item_types_volume_not_negative")),
        sa.CheckConstraint("weight_kg >= 0", name=op.f("ck_item_types_weight_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_types")),
        sa.UniqueConstraint("code", name=op.f("uq_item_types_code")),
        sa.UniqueConstraint("gtin", name=op.f("uq_item_types_gtin")),
        schema="inventory",
    )
    op.create_table(
        "kit_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "GEOLOGICAL",
                "MOUNTAIN",
                "WATER",
                "PETROCHEMICAL",
                "BUILDING_FIRE",
                name="category",
                schema="inventory",
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kit_templates")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_kit_templates_code_version")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_kit_templates_category"),
        "kit_templates",
        ["category"],
        unique=False,
        schema="inventory",
    )
    op.create_table(
        "requests",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_requests")),
        schema="inventory",
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("zone", sa.String(length=32), nullable=False),
        sa.Column("aisle", sa.String(length=32), nullable=False),
        sa.Column("shelf", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["inventory.depots.id"], name=op.f("fk_locations_depot_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("label", name=op.f("uq_locations_label")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_locations_depot_id"),
        "locations",
        ["depot_id"],
        unique=False,
        schema="inventory",
    )
    op.create_table(
        "reserve_standards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_code", sa.String(length=64), nullable=False),
        sa.Column(
            "tier",
            sa.Enum(
                "PROVINCIAL",
                "REGIONAL",
                "TRAINING_SUPPORT",
                "CITY",
                "DISTRIBUTION_CENTER",
                name="tier",
                schema="inventory",
            ),
            nullable=True,
        ),
        sa.Column("depot_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(tier IS NULL) <> (depot_id IS NULL)", name=op.f("ck_reserve_standards_tier_xor_depot")
        ),
        sa.CheckConstraint(
            "quantity >= 0", name=op.f("ck_reserve_standards_quantity_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["inventory.depots.id"], name=op.f("fk_reserve_standards_depot_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reserve_standards")),
        schema="inventory",
    )
    op.create_index(
        "uq_reserve_standards_template_depot",
        "reserve_standards",
        ["template_code", "depot_id"],
        unique=True,
        schema="inventory",
        postgresql_where="depot_id IS NOT NULL",
    )
    op.create_index(
        "uq_reserve_standards_template_tier",
        "reserve_standards",
        ["template_code", "tier"],
        unique=True,
        schema="inventory",
        postgresql_where="tier IS NOT NULL",
    )
    op.create_table(
        "template_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("item_type_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("pacing", sa.Boolean(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_template_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["item_type_id"],
            ["inventory.item_types.id"],
            name=op.f("fk_template_lines_item_type_id_item_types"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["inventory.kit_templates.id"],
            name=op.f("fk_template_lines_template_id_kit_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_lines")),
        sa.UniqueConstraint(
            "template_id", "item_type_id", name=op.f("uq_template_lines_template_id_item_type_id")
        ),
        schema="inventory",
    )
    op.create_table(
        "kits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "READY",
                "INCOMPLETE",
                "IN_MAINTENANCE",
                "IN_TRANSIT",
                "DEPLOYED",
                "RETIRED",
                name="kit_state",
                schema="inventory",
            ),
            nullable=False,
        ),
        sa.Column("state_valid_until", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["inventory.depots.id"], name=op.f("fk_kits_depot_id_depots")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["inventory.locations.id"], name=op.f("fk_kits_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["inventory.kit_templates.id"],
            name=op.f("fk_kits_template_id_kit_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kits")),
        sa.UniqueConstraint("label", name=op.f("uq_kits_label")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_kits_template_id"),
        "kits",
        ["template_id"],
        unique=False,
        schema="inventory",
    )
    op.create_index(
        "ix_kits_depot_id_state", "kits", ["depot_id", "state"], unique=False, schema="inventory"
    )
    op.create_index(
        "ix_kits_state_valid_until", "kits", ["state_valid_until"], unique=False, schema="inventory"
    )
    op.create_table(
        "lots",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("item_type_id", sa.Integer(), nullable=False),
        sa.Column("lot_number", sa.String(length=64), nullable=False),
        sa.Column("kit_id", sa.Integer(), nullable=True),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "condition",
            sa.Enum(
                "SERVICEABLE",
                "UNSERVICEABLE",
                "QUARANTINED",
                "EXPIRED",
                "LOST",
                name="condition",
                schema="inventory",
            ),
            nullable=False,
        ),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("next_inspection_on", sa.Date(), nullable=True),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_lots_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["inventory.depots.id"], name=op.f("fk_lots_depot_id_depots")
        ),
        sa.ForeignKeyConstraint(
            ["item_type_id"],
            ["inventory.item_types.id"],
            name=op.f("fk_lots_item_type_id_item_types"),
        ),
        sa.ForeignKeyConstraint(
            ["kit_id"], ["inventory.kits.id"], name=op.f("fk_lots_kit_id_kits")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["inventory.locations.id"], name=op.f("fk_lots_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_lots_depot_id"), "lots", ["depot_id"], unique=False, schema="inventory"
    )
    op.create_index(
        op.f("ix_inventory_lots_kit_id"), "lots", ["kit_id"], unique=False, schema="inventory"
    )
    op.create_table(
        "units",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("item_type_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("kit_id", sa.Integer(), nullable=True),
        sa.Column("depot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column(
            "condition",
            sa.Enum(
                "SERVICEABLE",
                "UNSERVICEABLE",
                "QUARANTINED",
                "EXPIRED",
                "LOST",
                name="condition",
                schema="inventory",
            ),
            nullable=False,
        ),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("last_inspected_on", sa.Date(), nullable=True),
        sa.Column("next_inspection_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["inventory.depots.id"], name=op.f("fk_units_depot_id_depots")
        ),
        sa.ForeignKeyConstraint(
            ["item_type_id"],
            ["inventory.item_types.id"],
            name=op.f("fk_units_item_type_id_item_types"),
        ),
        sa.ForeignKeyConstraint(
            ["kit_id"], ["inventory.kits.id"], name=op.f("fk_units_kit_id_kits")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["inventory.locations.id"], name=op.f("fk_units_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("item_type_id", "serial", name=op.f("uq_units_item_type_id_serial")),
        schema="inventory",
    )
    op.create_index(
        op.f("ix_inventory_units_depot_id"), "units", ["depot_id"], unique=False, schema="inventory"
    )
    op.create_index(
        op.f("ix_inventory_units_kit_id"), "units", ["kit_id"], unique=False, schema="inventory"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inventory_units_kit_id"), table_name="units", schema="inventory")
    op.drop_index(op.f("ix_inventory_units_depot_id"), table_name="units", schema="inventory")
    op.drop_table("units", schema="inventory")
    op.drop_index(op.f("ix_inventory_lots_kit_id"), table_name="lots", schema="inventory")
    op.drop_index(op.f("ix_inventory_lots_depot_id"), table_name="lots", schema="inventory")
    op.drop_table("lots", schema="inventory")
    op.drop_index("ix_kits_state_valid_until", table_name="kits", schema="inventory")
    op.drop_index("ix_kits_depot_id_state", table_name="kits", schema="inventory")
    op.drop_index(op.f("ix_inventory_kits_template_id"), table_name="kits", schema="inventory")
    op.drop_table("kits", schema="inventory")
    op.drop_table("template_lines", schema="inventory")
    op.drop_index(
        "uq_reserve_standards_template_tier",
        table_name="reserve_standards",
        schema="inventory",
        postgresql_where="tier IS NOT NULL",
    )
    op.drop_index(
        "uq_reserve_standards_template_depot",
        table_name="reserve_standards",
        schema="inventory",
        postgresql_where="depot_id IS NOT NULL",
    )
    op.drop_table("reserve_standards", schema="inventory")
    op.drop_index(
        op.f("ix_inventory_locations_depot_id"), table_name="locations", schema="inventory"
    )
    op.drop_table("locations", schema="inventory")
    op.drop_table("requests", schema="inventory")
    op.drop_index(
        op.f("ix_inventory_kit_templates_category"), table_name="kit_templates", schema="inventory"
    )
    op.drop_table("kit_templates", schema="inventory")
    op.drop_table("item_types", schema="inventory")
    op.drop_index(op.f("ix_inventory_depots_city"), table_name="depots", schema="inventory")
    op.drop_table("depots", schema="inventory")
    for enum in ("condition", "kit_state", "category", "tracking_mode", "tier"):
        sa.Enum(name=enum, schema="inventory").drop(op.get_bind(), checkfirst=True)
