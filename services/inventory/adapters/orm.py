"""ORM rows for the inventory schema (SQLAlchemy 2 typed mappings).

Tables live in the PostgreSQL schema `inventory`, so each service owns its
tables and its Alembic version table in one shared database.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.audit import AuditLogColumns
from services.inventory.domain.model import (
    Category,
    Condition,
    KitState,
    ScanAction,
    Tier,
    TrackingMode,
    TransferState,
)

SCHEMA = "inventory"

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


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class DepotRow(Base):
    __tablename__ = "depots"
    __table_args__ = (
        CheckConstraint("floor_area_m2 >= 0", name="floor_area_not_negative"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[Tier] = mapped_column(_enum(Tier, "tier"))
    city: Mapped[str] = mapped_column(String(64), index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    floor_area_m2: Mapped[float] = mapped_column(Float)
    # GS1 Global Location Number; a bin's label is this GLN (414) + its extension (254).
    gln: Mapped[str | None] = mapped_column(String(13), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    parent: Mapped[DepotRow | None] = relationship(remote_side=[id], lazy="joined", join_depth=1)


class LocationRow(Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("depot_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), index=True)
    # The GS1 GLN extension (AI 254): at most 20 characters.
    label: Mapped[str] = mapped_column(String(20))
    zone: Mapped[str] = mapped_column(String(32), default="")
    aisle: Mapped[str] = mapped_column(String(32), default="")
    shelf: Mapped[str] = mapped_column(String(32), default="")

    depot: Mapped[DepotRow] = relationship(lazy="joined")


class ItemTypeRow(Base):
    __tablename__ = "item_types"
    __table_args__ = (
        CheckConstraint("weight_kg >= 0", name="weight_not_negative"),
        CheckConstraint("volume_m3 >= 0", name="volume_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tracking_mode: Mapped[TrackingMode] = mapped_column(_enum(TrackingMode, "tracking_mode"))
    unit: Mapped[str] = mapped_column(String(16))
    weight_kg: Mapped[float] = mapped_column(Float)
    volume_m3: Mapped[float] = mapped_column(Float)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    inspection_interval_days: Mapped[int | None] = mapped_column(Integer)
    retire_after_days: Mapped[int | None] = mapped_column(Integer)
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)


class KitTemplateRow(Base):
    __tablename__ = "kit_templates"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    category: Mapped[Category] = mapped_column(_enum(Category, "category"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = _now()

    lines: Mapped[list[TemplateLineRow]] = relationship(
        lazy="selectin", order_by="TemplateLineRow.position", cascade="all, delete-orphan"
    )


class TemplateLineRow(Base):
    __tablename__ = "template_lines"
    __table_args__ = (
        UniqueConstraint("template_id", "item_type_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("kit_templates.id", ondelete="CASCADE"))
    item_type_id: Mapped[int] = mapped_column(ForeignKey("item_types.id"))
    position: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    pacing: Mapped[bool] = mapped_column(Boolean, default=False)

    item_type: Mapped[ItemTypeRow] = relationship(lazy="joined")


class KitRow(Base):
    __tablename__ = "kits"
    __table_args__ = (
        Index("ix_kits_state_valid_until", "state_valid_until"),
        Index("ix_kits_depot_id_state", "depot_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(128), unique=True)
    # GS1 Global Individual Asset Identifier (AI 8004) on the kit's label.
    giai: Mapped[str | None] = mapped_column(String(30), unique=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("kit_templates.id"), index=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    state: Mapped[KitState] = mapped_column(_enum(KitState, "kit_state"))
    # READY / INCOMPLETE are re-assessed on or after this day (an expiry or
    # an inspection falling due); NULL when nothing in the kit dates.
    state_valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _now()

    template: Mapped[KitTemplateRow] = relationship(lazy="joined")
    depot: Mapped[DepotRow] = relationship(lazy="joined")
    location: Mapped[LocationRow | None] = relationship(lazy="joined")


class UnitRow(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("item_type_id", "serial"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_type_id: Mapped[int] = mapped_column(ForeignKey("item_types.id"))
    serial: Mapped[str] = mapped_column(String(64))
    kit_id: Mapped[int | None] = mapped_column(ForeignKey("kits.id"), index=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    condition: Mapped[Condition] = mapped_column(_enum(Condition, "condition"))
    expires_on: Mapped[date | None] = mapped_column(Date)
    last_inspected_on: Mapped[date | None] = mapped_column(Date)
    next_inspection_on: Mapped[date | None] = mapped_column(Date)
    # Out of service for good (a RETIRE scan); kept for its history.
    retired_on: Mapped[date | None] = mapped_column(Date)

    item_type: Mapped[ItemTypeRow] = relationship(lazy="joined")
    kit: Mapped[KitRow | None] = relationship(lazy="raise")
    depot: Mapped[DepotRow] = relationship(lazy="raise")
    location: Mapped[LocationRow | None] = relationship(lazy="raise")


class LotRow(Base):
    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        # One row per lot and place (loose at a depot, or in one kit): concurrent
        # first receipts of a lot cannot split it into rows that each look short.
        Index(
            "uq_lots_place",
            "item_type_id",
            "lot_number",
            "depot_id",
            "kit_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_type_id: Mapped[int] = mapped_column(ForeignKey("item_types.id"))
    lot_number: Mapped[str] = mapped_column(String(64), default="")
    kit_id: Mapped[int | None] = mapped_column(ForeignKey("kits.id"), index=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    condition: Mapped[Condition] = mapped_column(_enum(Condition, "condition"))
    expires_on: Mapped[date | None] = mapped_column(Date)
    next_inspection_on: Mapped[date | None] = mapped_column(Date)

    item_type: Mapped[ItemTypeRow] = relationship(lazy="joined")
    kit: Mapped[KitRow | None] = relationship(lazy="raise")
    depot: Mapped[DepotRow] = relationship(lazy="raise")
    location: Mapped[LocationRow | None] = relationship(lazy="raise")


class ReserveStandardRow(Base):
    __tablename__ = "reserve_standards"
    __table_args__ = (
        CheckConstraint("(tier IS NULL) <> (depot_id IS NULL)", name="tier_xor_depot"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        Index(
            "uq_reserve_standards_template_tier",
            "template_code",
            "tier",
            unique=True,
            postgresql_where="tier IS NOT NULL",
        ),
        Index(
            "uq_reserve_standards_template_depot",
            "template_code",
            "depot_id",
            unique=True,
            postgresql_where="depot_id IS NOT NULL",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_code: Mapped[str] = mapped_column(String(64))
    tier: Mapped[Tier | None] = mapped_column(_enum(Tier, "tier"))
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    depot: Mapped[DepotRow | None] = relationship(lazy="joined")


class RequestRow(Base):
    """Answers to mutations by request id, so a retry gets the first answer (AIP-155)."""

    __tablename__ = "requests"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    method: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _now()


class AuditRow(AuditLogColumns, Base):
    """The inventory schema's audit log (services/common/audit.py)."""


class TransferRow(Base):
    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The shipment's SSCC (AI 00): what is scanned to send or receive it whole.
    sscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    from_depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), index=True)
    to_depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), index=True)
    state: Mapped[TransferState] = mapped_column(_enum(TransferState, "transfer_state"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = _now()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    from_depot: Mapped[DepotRow] = relationship(foreign_keys=[from_depot_id], lazy="joined")
    to_depot: Mapped[DepotRow] = relationship(foreign_keys=[to_depot_id], lazy="joined")
    lines: Mapped[list[TransferLineRow]] = relationship(
        lazy="selectin", order_by="TransferLineRow.id", cascade="all, delete-orphan"
    )


class TransferLineRow(Base):
    __tablename__ = "transfer_lines"
    __table_args__ = (
        UniqueConstraint("transfer_id", "kit_id"),
        # A kit is on at most one transfer that has not arrived.
        Index(
            "uq_transfer_lines_kit_id_pending",
            "kit_id",
            unique=True,
            postgresql_where=text("NOT received"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id", ondelete="CASCADE"))
    kit_id: Mapped[int] = mapped_column(ForeignKey("kits.id"))
    shipped: Mapped[bool] = mapped_column(Boolean, default=False)
    received: Mapped[bool] = mapped_column(Boolean, default=False)

    kit: Mapped[KitRow] = relationship(lazy="joined")


class CountRow(Base):
    __tablename__ = "stock_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count_id: Mapped[str] = mapped_column(String(32), unique=True)
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"), index=True)
    zone: Mapped[str] = mapped_column(String(32), default="")
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    started_by: Mapped[str] = mapped_column(String(64))
    closed_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = _now()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    depot: Mapped[DepotRow] = relationship(lazy="joined")


class DiscrepancyRow(Base):
    """What closing a count found and the adjustment it recorded."""

    __tablename__ = "count_discrepancies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(64))
    item_type_code: Mapped[str] = mapped_column(String(64), default="")
    expected_bin: Mapped[str] = mapped_column(String(20), default="")
    counted_bin: Mapped[str] = mapped_column(String(20), default="")
    adjustment: Mapped[str] = mapped_column(String(200), default="")


class ScanRow(Base):
    """The ledger: one immutable row per accepted scan (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "scans"
    # A ledger row names a kit, a unit, a lot or a count only sometimes: their
    # indexes (for a thing's history, a count's scans) hold no entry for the others.
    __table_args__ = tuple(
        Index(f"ix_inventory_scans_{name}", name, postgresql_where=text(f"{name} IS NOT NULL"))
        for name in ("kit_id", "unit_id", "lot_id", "count_id")
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scan_id: Mapped[str] = mapped_column(String(64), unique=True)
    action: Mapped[ScanAction] = mapped_column(_enum(ScanAction, "scan_action"))
    code: Mapped[str] = mapped_column(String(200))
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    kit_id: Mapped[int | None] = mapped_column(ForeignKey("kits.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    count_id: Mapped[int | None] = mapped_column(ForeignKey("stock_counts.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    operator: Mapped[str] = mapped_column(String(64), default="")
    device: Mapped[str] = mapped_column(String(64), default="")
    device_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    override_reason: Mapped[str] = mapped_column(String(200), default="")
    recorded_at: Mapped[datetime] = _now()
    # The answer the scanner got, replayed byte for byte for a repeated scan_id.
    result: Mapped[bytes] = mapped_column(LargeBinary)
    # What the scan asked (code, action, places, quantity), to refuse a reused scan_id.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Who sent it (the bearer token's subject), under which request id.
    recorded_by: Mapped[str] = mapped_column(String(128), server_default="")
    request_id: Mapped[str] = mapped_column(String(128), server_default="")


class ScanRefusalRow(Base):
    """A refused scan's answer, kept so that a re-sent copy is refused the same way.

    Not part of the ledger (nothing moved); a refused scan changes no stock.
    """

    __tablename__ = "scan_refusals"

    scan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The google.rpc.Status the scanner got.
    status: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[datetime] = _now()


class ChangeRow(Base):
    """The change feed, written in the same transaction as the change.

    `txid` orders the feed by commit safety: a reader delivers only rows whose
    transaction is older than every transaction still running, so a row that
    commits late is never skipped by a cursor that has moved past its id.
    """

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_txid_id", "txid", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint")
    )
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    depot_code: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(16), default="")
    scan_id: Mapped[str] = mapped_column(String(64), default="")
    kit_label: Mapped[str] = mapped_column(String(128), default="")
    kit_state: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = _now()
