"""The reserve's things, as plain values. No I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime


class Tier(enum.StrEnum):
    PROVINCIAL = "PROVINCIAL"
    REGIONAL = "REGIONAL"
    TRAINING_SUPPORT = "TRAINING_SUPPORT"
    CITY = "CITY"
    DISTRIBUTION_CENTER = "DISTRIBUTION_CENTER"


class Category(enum.StrEnum):
    GEOLOGICAL = "GEOLOGICAL"
    MOUNTAIN = "MOUNTAIN"
    WATER = "WATER"
    PETROCHEMICAL = "PETROCHEMICAL"
    BUILDING_FIRE = "BUILDING_FIRE"


class TrackingMode(enum.StrEnum):
    SERIAL = "SERIAL"
    LOT = "LOT"
    BULK = "BULK"


class KitState(enum.StrEnum):
    READY = "READY"
    INCOMPLETE = "INCOMPLETE"
    IN_MAINTENANCE = "IN_MAINTENANCE"
    IN_TRANSIT = "IN_TRANSIT"
    DEPLOYED = "DEPLOYED"
    RETIRED = "RETIRED"


# States whose READY / INCOMPLETE value follows from the contents.
ASSESSED_STATES = frozenset({KitState.READY, KitState.INCOMPLETE})


class ScanAction(enum.StrEnum):
    RECEIVE = "RECEIVE"
    PUTAWAY = "PUTAWAY"
    PACK = "PACK"
    UNPACK = "UNPACK"
    ISSUE = "ISSUE"
    RETURN = "RETURN"
    TRANSFER_OUT = "TRANSFER_OUT"
    TRANSFER_IN = "TRANSFER_IN"
    COUNT = "COUNT"
    INSPECT_PASS = "INSPECT_PASS"
    INSPECT_FAIL = "INSPECT_FAIL"
    RETIRE = "RETIRE"


class TransferState(enum.StrEnum):
    OPEN = "OPEN"
    IN_TRANSIT = "IN_TRANSIT"
    CLOSED = "CLOSED"


class Condition(enum.StrEnum):
    SERVICEABLE = "SERVICEABLE"
    UNSERVICEABLE = "UNSERVICEABLE"
    QUARANTINED = "QUARANTINED"
    EXPIRED = "EXPIRED"
    LOST = "LOST"


@dataclass(frozen=True)
class Depot:
    code: str
    name: str
    tier: Tier
    city: str
    latitude: float
    longitude: float
    floor_area_m2: float
    parent_code: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    gln: str | None = None


@dataclass(frozen=True)
class Location:
    depot_code: str
    label: str
    zone: str = ""
    aisle: str = ""
    shelf: str = ""
    # The GS1 element string on the bin's barcode (depot GLN + this label).
    code: str = ""


@dataclass(frozen=True)
class ItemType:
    code: str
    name: str
    tracking_mode: TrackingMode
    unit: str
    weight_kg: float
    volume_m3: float
    shelf_life_days: int | None = None
    inspection_interval_days: int | None = None
    retire_after_days: int | None = None
    gtin: str | None = None


@dataclass(frozen=True)
class TemplateLine:
    item_type_code: str
    quantity: int
    pacing: bool = False
    # From the item type: a unit never inspected does not count where this is set.
    inspection_interval_days: int | None = None


@dataclass(frozen=True)
class KitTemplate:
    code: str
    version: int
    category: Category
    name: str
    lines: tuple[TemplateLine, ...]
    total_weight_kg: float = 0.0
    total_volume_m3: float = 0.0
    published_at: datetime | None = None


@dataclass(frozen=True)
class Unit:
    item_type_code: str
    serial: str
    condition: Condition = Condition.SERVICEABLE
    expires_on: date | None = None
    last_inspected_on: date | None = None
    next_inspection_on: date | None = None


@dataclass(frozen=True)
class Lot:
    item_type_code: str
    quantity: int
    lot_number: str = ""
    expires_on: date | None = None
    next_inspection_on: date | None = None
    condition: Condition = Condition.SERVICEABLE


@dataclass(frozen=True)
class Kit:
    label: str
    template_code: str
    template_version: int
    category: Category
    depot_code: str
    state: KitState
    location_label: str | None = None
    created_at: datetime | None = None
    giai: str | None = None


@dataclass(frozen=True)
class KitContents:
    units: tuple[Unit, ...] = ()
    lots: tuple[Lot, ...] = ()


@dataclass(frozen=True)
class ReserveStandard:
    """How many kits of a template family a tier, or one named depot, must hold."""

    template_code: str
    quantity: int
    tier: Tier | None = None
    depot_code: str | None = None

    def __post_init__(self) -> None:
        if (self.tier is None) == (self.depot_code is None):
            raise ValueError("a reserve standard applies to a tier or to a depot, not both")


@dataclass(frozen=True)
class TransferLine:
    kit_label: str
    shipped: bool = False
    received: bool = False


@dataclass(frozen=True)
class Transfer:
    sscc: str
    from_depot_code: str
    to_depot_code: str
    state: TransferState
    lines: tuple[TransferLine, ...]
    reason: str = ""
    created_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class StockCount:
    count_id: str
    depot_code: str
    zone: str
    open: bool
    started_by: str
    closed_by: str = ""
    started_at: datetime | None = None
    closed_at: datetime | None = None
    scans: int = 0
    counted_by: tuple[str, ...] = ()


class DiscrepancyKind(enum.StrEnum):
    MISSING = "MISSING"
    UNEXPECTED = "UNEXPECTED"
    WRONG_BIN = "WRONG_BIN"


@dataclass(frozen=True)
class Change:
    cursor: str
    kind: str
    key: str
    depot_code: str
    action: str
    scan_id: str
    kit_label: str
    kit_state: str
    created_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One change: when, which call, who (the token's subject), from where, under which id."""

    at: datetime
    method: str
    actor: str
    device: str
    request_id: str
    keys: tuple[str, ...]
