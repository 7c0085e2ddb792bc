"""ORM rows for the routing schema: the transport network and the plans made over it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Time,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.audit import AuditLogColumns
from services.routing.domain.network import HubKind, Mode
from services.routing.domain.plans import PlanState

SCHEMA = "routing"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _enum(kind: type, name: str) -> Enum:
    return Enum(kind, name=name, schema=SCHEMA, values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


class HubRow(Base):
    __tablename__ = "hubs"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[HubKind] = mapped_column(_enum(HubKind, "hub_kind"))
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(64))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    handling_minutes: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(String(2000), default="")


class PartnerServiceRow(Base):
    __tablename__ = "partner_services"

    service_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_code: Mapped[str] = mapped_column(String(32))
    mode: Mapped[Mode] = mapped_column(_enum(Mode, "mode"))
    origin_hub: Mapped[str] = mapped_column(String(32), index=True)
    destination_hub: Mapped[str] = mapped_column(String(32))
    days: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    departure: Mapped[object] = mapped_column(Time)
    arrival: Mapped[object] = mapped_column(Time)
    arrival_day_offset: Mapped[int] = mapped_column(Integer, default=0)
    cutoff_minutes: Mapped[int] = mapped_column(Integer)
    payload_kg: Mapped[float] = mapped_column(Float)
    max_piece_kg: Mapped[float] = mapped_column(Float)
    basis: Mapped[str] = mapped_column(String(2000), default="")


class PartnerTruckBaseRow(Base):
    __tablename__ = "partner_truck_bases"
    __table_args__ = (UniqueConstraint("partner_code", "base"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_code: Mapped[str] = mapped_column(String(32))
    base: Mapped[str] = mapped_column(String(64))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    response_minutes: Mapped[int] = mapped_column(Integer)
    payload_kg: Mapped[float] = mapped_column(Float)
    volume_m3: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)


class VehicleRow(Base):
    __tablename__ = "vehicles"

    vehicle_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    depot_code: Mapped[str] = mapped_column(String(64), index=True)
    payload_kg: Mapped[float] = mapped_column(Float)
    volume_m3: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)


class PlanRow(Base):
    """A plan as made: its rendering (JSON), and columns for listing it."""

    __tablename__ = "plans"
    __table_args__ = (Index("ix_plans_created_at_plan_id", "created_at", "plan_id"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(32))
    state: Mapped[PlanState] = mapped_column(_enum(PlanState, "plan_state"))
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    destinations: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    kits_on_time: Mapped[int] = mapped_column(Integer)
    kits_unmet: Mapped[int] = mapped_column(Integer)
    committed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who made and who committed it (the bearer token's subject).
    created_by: Mapped[str] = mapped_column(String(128), server_default="")
    committed_by: Mapped[str] = mapped_column(String(128), server_default="")


class PlanKitRow(Base):
    """A kit the plan sends: from where, and which depot takes it in on commit."""

    __tablename__ = "plan_kits"

    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plans.plan_id", ondelete="CASCADE"), primary_key=True
    )
    kit_label: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_depot: Mapped[str] = mapped_column(String(64))
    receiving_depot: Mapped[str] = mapped_column(String(64))
    demand_id: Mapped[str] = mapped_column(String(64))
    slot: Mapped[int] = mapped_column(Integer)


class PlanTransferRow(Base):
    """A transfer the plan's commit opened in inventory, under its idempotency key."""

    __tablename__ = "plan_transfers"

    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plans.plan_id", ondelete="CASCADE"), primary_key=True
    )
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    from_depot: Mapped[str] = mapped_column(String(64))
    to_depot: Mapped[str] = mapped_column(String(64))
    kit_labels: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    sscc: Mapped[str] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(AuditLogColumns, Base):
    """The routing schema's audit log: network changes, plans made and committed."""
