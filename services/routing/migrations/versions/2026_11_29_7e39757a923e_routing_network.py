"""routing schema: hubs, scheduled partner services, partner truck bases, own fleet

Revision ID: 7e39757a923e
Revises:
Create Date: 2026-11-29 08:36:36.609193
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7e39757a923e"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hubs",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "AIRPORT", "RAIL_HUB", "DISTRIBUTION_CENTER", name="hub_kind", schema="routing"
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("handling_minutes", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_hubs")),
        schema="routing",
    )
    op.create_table(
        "partner_services",
        sa.Column("service_code", sa.String(length=32), nullable=False),
        sa.Column("partner_code", sa.String(length=32), nullable=False),
        sa.Column(
            "mode",
            sa.Enum("OWN_TRUCK", "PARTNER_TRUCK", "AIR", "RAIL", name="mode", schema="routing"),
            nullable=False,
        ),
        sa.Column("origin_hub", sa.String(length=32), nullable=False),
        sa.Column("destination_hub", sa.String(length=32), nullable=False),
        sa.Column("days", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("departure", sa.Time(), nullable=False),
        sa.Column("arrival", sa.Time(), nullable=False),
        sa.Column("arrival_day_offset", sa.Integer(), nullable=False),
        sa.Column("cutoff_minutes", sa.Integer(), nullable=False),
        sa.Column("payload_kg", sa.Float(), nullable=False),
        sa.Column("max_piece_kg", sa.Float(), nullable=False),
        sa.Column("basis", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("service_code", name=op.f("pk_partner_services")),
        schema="routing",
    )
    op.create_index(
        op.f("ix_routing_partner_services_origin_hub"),
        "partner_services",
        ["origin_hub"],
        unique=False,
        schema="routing",
    )
    op.create_table(
        "partner_truck_bases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_code", sa.String(length=32), nullable=False),
        sa.Column("base", sa.String(length=64), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("response_minutes", sa.Integer(), nullable=False),
        sa.Column("payload_kg", sa.Float(), nullable=False),
        sa.Column("volume_m3", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_truck_bases")),
        sa.UniqueConstraint(
            "partner_code", "base", name=op.f("uq_partner_truck_bases_partner_code_base")
        ),
        schema="routing",
    )
    op.create_table(
        "vehicles",
        sa.Column("vehicle_id", sa.String(length=64), nullable=False),
        sa.Column("depot_code", sa.String(length=64), nullable=False),
        sa.Column("payload_kg", sa.Float(), nullable=False),
        sa.Column("volume_m3", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("vehicle_id", name=op.f("pk_vehicles")),
        schema="routing",
    )
    op.create_index(
        op.f("ix_routing_vehicles_depot_code"),
        "vehicles",
        ["depot_code"],
        unique=False,
        schema="routing",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_routing_vehicles_depot_code"), table_name="vehicles", schema="routing")
    op.drop_table("vehicles", schema="routing")
    op.drop_table("partner_truck_bases", schema="routing")
    op.drop_index(
        op.f("ix_routing_partner_services_origin_hub"),
        table_name="partner_services",
        schema="routing",
    )
    op.drop_table("partner_services", schema="routing")
    op.drop_table("hubs", schema="routing")
    for enum in ("mode", "hub_kind"):
        sa.Enum(name=enum, schema="routing").drop(op.get_bind(), checkfirst=True)
