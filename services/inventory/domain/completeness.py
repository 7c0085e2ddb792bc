"""Whether a kit can do its job: its contents against its template version.

A kit is READY only when every template line is covered by serviceable,
in-date, inspected units and lots; otherwise INCOMPLETE, with each shortfall
named down to the unit or lot at fault. Pacing lines come first.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

from services.inventory.domain.model import (
    Condition,
    KitContents,
    KitState,
    Lot,
    TemplateLine,
    Unit,
)


class ShortfallReason(enum.StrEnum):
    PACING_ITEM_MISSING = "PACING_ITEM_MISSING"
    ITEM_MISSING = "ITEM_MISSING"
    UNIT_EXPIRED = "UNIT_EXPIRED"
    LOT_EXPIRED = "LOT_EXPIRED"
    INSPECTION_OVERDUE = "INSPECTION_OVERDUE"
    UNSERVICEABLE = "UNSERVICEABLE"
    QUARANTINED = "QUARANTINED"
    LOST = "LOST"


_ONE_DAY = timedelta(days=1)

_CONDITION_REASON = {
    Condition.UNSERVICEABLE: ShortfallReason.UNSERVICEABLE,
    Condition.QUARANTINED: ShortfallReason.QUARANTINED,
    Condition.LOST: ShortfallReason.LOST,
}


@dataclass(frozen=True)
class Fault:
    """A unit or lot in the kit that does not count towards its line."""

    reason: ShortfallReason
    quantity: int
    serial: str = ""
    lot_number: str = ""


@dataclass(frozen=True)
class Shortfall:
    item_type_code: str
    required: int
    missing: int
    pacing: bool
    reason: ShortfallReason
    faults: tuple[Fault, ...] = ()


@dataclass(frozen=True)
class Assessment:
    state: KitState
    shortfalls: tuple[Shortfall, ...]
    # The first day on which this assessment may change by time alone
    # (an expiry or an inspection falling due); None when nothing dates.
    valid_until: date | None

    @property
    def ready(self) -> bool:
        return self.state is KitState.READY


def _fault_reason(
    condition: Condition,
    expires_on: date | None,
    next_inspection_on: date | None,
    today: date,
    expired: ShortfallReason,
) -> ShortfallReason | None:
    if condition is Condition.EXPIRED or (expires_on is not None and expires_on <= today):
        return expired
    if condition in _CONDITION_REASON:
        return _CONDITION_REASON[condition]
    if next_inspection_on is not None and next_inspection_on < today:
        return ShortfallReason.INSPECTION_OVERDUE
    return None


def unit_fault(
    unit: Unit, today: date, inspection_interval_days: int | None = None
) -> ShortfallReason | None:
    """Why a unit does not count, if it does not; one that must be inspected and
    never was counts as overdue."""
    reason = _fault_reason(
        unit.condition,
        unit.expires_on,
        unit.next_inspection_on,
        today,
        ShortfallReason.UNIT_EXPIRED,
    )
    if reason is None and inspection_interval_days and unit.next_inspection_on is None:
        return ShortfallReason.INSPECTION_OVERDUE
    return reason


def lot_fault(lot: Lot, today: date) -> ShortfallReason | None:
    return _fault_reason(
        lot.condition, lot.expires_on, lot.next_inspection_on, today, ShortfallReason.LOT_EXPIRED
    )


def _assess_line(
    line: TemplateLine, units: list[Unit], lots: list[Lot], today: date
) -> Shortfall | None:
    good = 0
    faults: list[Fault] = []
    for unit in units:
        reason = unit_fault(unit, today, line.inspection_interval_days)
        if reason is None:
            good += 1
        else:
            faults.append(Fault(reason, 1, serial=unit.serial))
    for lot in lots:
        reason = lot_fault(lot, today)
        if reason is None:
            good += lot.quantity
        else:
            faults.append(Fault(reason, lot.quantity, lot_number=lot.lot_number))
    missing = line.quantity - good
    if missing <= 0:
        return None
    # A short pacing line is PACING_ITEM_MISSING whatever the cause; the
    # faults say which unit or lot is at fault and why.
    if line.pacing:
        reason = ShortfallReason.PACING_ITEM_MISSING
    elif faults:
        reason = faults[0].reason
    else:
        reason = ShortfallReason.ITEM_MISSING
    return Shortfall(
        line.item_type_code, line.quantity, missing, line.pacing, reason, tuple(faults)
    )


def _dates_that_matter(contents: KitContents, today: date) -> list[date]:
    """Future days on which a counted item expires or falls due for inspection."""
    days: list[date] = []
    items: list[Unit | Lot] = [*contents.units, *contents.lots]
    for item in items:
        if item.expires_on is not None and item.expires_on > today:
            days.append(item.expires_on)
        if item.next_inspection_on is not None and item.next_inspection_on >= today:
            days.append(item.next_inspection_on + _ONE_DAY)
    return days


def assess(lines: tuple[TemplateLine, ...], contents: KitContents, today: date) -> Assessment:
    """Assess contents against template lines as of `today`."""
    shortfalls = []
    for line in lines:
        units = [u for u in contents.units if u.item_type_code == line.item_type_code]
        lots = [lot for lot in contents.lots if lot.item_type_code == line.item_type_code]
        shortfall = _assess_line(line, units, lots, today)
        if shortfall is not None:
            shortfalls.append(shortfall)
    shortfalls.sort(key=lambda s: not s.pacing)
    state = KitState.INCOMPLETE if shortfalls else KitState.READY
    days = _dates_that_matter(contents, today)
    return Assessment(state, tuple(shortfalls), min(days) if days else None)
