"""The rules of a scan: whether depot staff may do this to this thing now.

Each check takes plain values and either returns or raises PreconditionFailed
with an UPPER_SNAKE reason and a sentence a person at a scanner can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.common.errors import PreconditionFailed
from services.inventory.domain.completeness import Shortfall, ShortfallReason, lot_fault, unit_fault
from services.inventory.domain.model import KitState, Lot, ScanAction, Unit


@dataclass(frozen=True)
class Subject:
    """What a scanned code named."""

    kind: str  # KIT, UNIT, LOT, BIN, SHIPMENT, ACTION
    key: str
    item_type_code: str = ""
    gtin: str = ""
    expires_on: date | None = None
    depot_code: str = ""
    action: ScanAction | None = None


@dataclass(frozen=True)
class ScanOutcome:
    """What an accepted scan did: its subject and the kit it touched, as it now stands."""

    subject: Subject
    kit_label: str = ""
    kit_state: KitState | None = None


# Kits on the shelf: they can be packed, inspected, issued, shipped.
AT_HAND = frozenset({KitState.READY, KitState.INCOMPLETE, KitState.IN_MAINTENANCE})

_FAULT_REFUSAL = {
    ShortfallReason.UNIT_EXPIRED: "UNIT_EXPIRED",
    ShortfallReason.LOT_EXPIRED: "LOT_EXPIRED",
    ShortfallReason.INSPECTION_OVERDUE: "INSPECTION_OVERDUE",
    ShortfallReason.UNSERVICEABLE: "UNIT_UNSERVICEABLE",
    ShortfallReason.QUARANTINED: "UNIT_QUARANTINED",
    ShortfallReason.LOST: "UNIT_LOST",
}


def refuse(reason: str, message: str, **metadata: str) -> PreconditionFailed:
    return PreconditionFailed(reason, message, metadata)


def at_this_depot(kind: str, key: str, held_at: str, scan_depot: str) -> None:
    if held_at != scan_depot:
        raise refuse(
            "WRONG_DEPOT",
            f"{kind} {key} is held at {held_at}, not {scan_depot}; transfer it first",
            held_at=held_at,
        )


def not_retired(serial: str, retired_on: date | None) -> None:
    if retired_on is not None:
        raise refuse("UNIT_RETIRED", f"unit {serial} was retired on {retired_on}")


def fit_to_pack_unit(unit: Unit, today: date, inspection_interval_days: int | None) -> None:
    """An expired, quarantined, unserviceable, lost or uninspected unit stays out of kits."""
    fault = unit_fault(unit, today, inspection_interval_days)
    if fault is not None:
        raise refuse(
            _FAULT_REFUSAL[fault],
            f"unit {unit.serial} cannot be packed: {fault.value.lower().replace('_', ' ')}",
            serial=unit.serial,
        )


def fit_to_pack_lot(lot: Lot, today: date) -> None:
    fault = lot_fault(lot, today)
    if fault is not None:
        raise refuse(
            _FAULT_REFUSAL.get(fault, fault.value),
            f"lot {lot.lot_number} cannot be packed: {fault.value.lower().replace('_', ' ')}",
            lot_number=lot.lot_number,
        )


def on_template(item_type_code: str, template_items: Sequence[str], kit_label: str) -> None:
    if item_type_code not in template_items:
        raise refuse(
            "ITEM_NOT_IN_TEMPLATE",
            f"{item_type_code} is not a line of kit {kit_label}'s template",
        )


def kit_at_hand(label: str, state: KitState, action: ScanAction) -> None:
    if state not in AT_HAND:
        raise refuse(
            f"KIT_{state.value}",
            f"kit {label} is {state.value}; it cannot be part of {action.value} now",
            state=state.value,
        )


def may_issue(
    label: str,
    state: KitState,
    override_reason: str,
    shortfalls: Sequence[Shortfall],
    last_issue: str = "",
) -> None:
    """READY kits go; others only with a recorded reason; issued or moving ones never."""
    if state is KitState.DEPLOYED:
        raise refuse(
            "KIT_ALREADY_ISSUED",
            f"kit {label} is already issued{(' (' + last_issue + ')') if last_issue else ''}",
        )
    if state not in AT_HAND:
        raise refuse(f"KIT_{state.value}", f"kit {label} is {state.value} and cannot be issued")
    if state is KitState.READY:
        return
    if override_reason:
        return
    lacking = ", ".join(f"{s.item_type_code} ({s.reason.value})" for s in shortfalls[:3])
    raise refuse(
        "KIT_NOT_READY",
        f"kit {label} is {state.value}"
        + (f": lacks {lacking}" if lacking else "")
        + "; scan again with an override reason to issue it anyway",
        state=state.value,
    )


def may_return(label: str, state: KitState) -> None:
    if state is not KitState.DEPLOYED:
        raise refuse("KIT_NOT_ISSUED", f"kit {label} is {state.value}, not issued")


def may_retire_kit(label: str, state: KitState) -> None:
    if state in (KitState.DEPLOYED, KitState.IN_TRANSIT):
        raise refuse(f"KIT_{state.value}", f"kit {label} is {state.value}; retire it once back")


def enough(lot_number: str, wanted: int, held: int) -> int:
    """How many to move: `wanted`, or all when 0; refused when more than held."""
    quantity = wanted or held
    if quantity <= 0 or quantity > held:
        raise refuse(
            "NOT_ENOUGH_STOCK",
            f"lot {lot_number}: {quantity} asked, {held} held here",
            held=str(held),
        )
    return quantity
