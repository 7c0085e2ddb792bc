"""Commands: what a caller asks the inventory to do, already validated in shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.common.calls import Call
from services.inventory.domain.model import (
    Category,
    Depot,
    ItemType,
    Location,
    Lot,
    ReserveStandard,
    ScanAction,
    TemplateLine,
    Unit,
)


@dataclass(frozen=True)
class CreateDepot:
    depot: Depot


@dataclass(frozen=True)
class UpdateDepot:
    code: str
    # Field name -> new value, only for the fields in the update mask.
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CreateLocation:
    location: Location


@dataclass(frozen=True)
class CreateItemType:
    item_type: ItemType


@dataclass(frozen=True)
class PublishKitTemplate:
    code: str
    category: Category
    name: str
    lines: tuple[TemplateLine, ...]


@dataclass(frozen=True)
class CreateKit:
    label: str
    template_code: str
    template_version: int
    depot_code: str
    location_label: str | None = None
    giai: str | None = None
    units: tuple[Unit, ...] = ()
    lots: tuple[Lot, ...] = ()


@dataclass(frozen=True)
class SetReserveStandard:
    standard: ReserveStandard


@dataclass(frozen=True)
class RecordScan:
    """One scan from a handheld, as the scanner sent it."""

    scan_id: str
    code: str
    action: ScanAction
    depot_code: str
    bin_code: str = ""
    kit_code: str = ""
    quantity: int = 0
    operator: str = ""
    device: str = ""
    device_time: datetime | None = None
    override_reason: str = ""
    count_id: str = ""
    # The call that sent it (who, under which request id), for its ledger row's
    # audit; None: the call being served.
    sent_by: Call | None = None


@dataclass(frozen=True)
class CreateTransfer:
    from_depot_code: str
    to_depot_code: str
    kit_labels: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class StartCount:
    depot_code: str
    zone: str
    operator: str


@dataclass(frozen=True)
class CloseCount:
    count_id: str
    operator: str
