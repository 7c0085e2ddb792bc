"""One kit against its template, as of a day: what counts towards each measure, and why not.

The same rules as inventory's completeness (expired, not serviceable, inspection
overdue, never inspected when it must be), kept here so that a day passing
changes readiness even before inventory re-assesses the kit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.gateway.domain import reasons as r
from services.gateway.domain.model import (
    EXPIRED,
    HELD_STATES,
    SERVICEABLE,
    Kit,
    Lot,
    Template,
    Unit,
)
from services.gateway.domain.reasons import Reason


@dataclass(frozen=True)
class KitFacts:
    """What one kit adds to the measures of the scopes that hold it."""

    label: str
    depot_code: str
    template_code: str
    held: bool
    on_hand: bool
    # Serviceable (R): quantities that count, capped per line, and what the lines require.
    good: int
    required: int
    # Shelf-life cover: consumable quantities in date at the end of a deployment, of all.
    consumables_lasting: int
    consumables: int
    pacing: tuple[Reason, ...] = ()
    faults: tuple[Reason, ...] = ()
    shelf_life: tuple[Reason, ...] = ()
    # Per pacing item: serviceable units that count (capped at the line's quantity).
    pacing_good: tuple[tuple[str, int], ...] = ()


def _fault(
    condition: str,
    expires_on: date | None,
    next_inspection_on: date | None,
    must_inspect: bool,
    today: date,
) -> str | None:
    if condition == EXPIRED or (expires_on is not None and expires_on <= today):
        return r.UNIT_EXPIRED
    if condition != SERVICEABLE:
        return r.UNIT_UNSERVICEABLE
    if next_inspection_on is not None and next_inspection_on < today:
        return r.INSPECTION_OVERDUE
    if must_inspect and next_inspection_on is None:
        return r.INSPECTION_OVERDUE
    return None


def _unit_reason(code: str, kit: Kit, unit: Unit) -> Reason:
    what = {
        r.UNIT_EXPIRED: f"expired {unit.expires_on}" if unit.expires_on else "expired",
        r.UNIT_UNSERVICEABLE: unit.condition.lower(),
        r.INSPECTION_OVERDUE: f"inspection due {unit.next_inspection_on or 'never done'}",
    }[code]
    return Reason(
        code,
        f"{unit.item_type_code} {unit.serial} in {kit.label}: {what}",
        kit.depot_code,
        kit.label,
        unit.item_type_code,
        serial=unit.serial,
    )


def _lot_reason(code: str, kit: Kit, lot: Lot) -> Reason:
    what = {
        r.UNIT_EXPIRED: f"expired {lot.expires_on}" if lot.expires_on else "expired",
        r.UNIT_UNSERVICEABLE: lot.condition.lower(),
        r.INSPECTION_OVERDUE: f"inspection due {lot.next_inspection_on}",
    }[code]
    return Reason(
        code,
        f"{lot.quantity} x {lot.item_type_code} lot {lot.lot_number or '-'} in {kit.label}: {what}",
        kit.depot_code,
        kit.label,
        lot.item_type_code,
        lot_number=lot.lot_number,
    )


def _shelf_life(kit: Kit, lots: tuple[Lot, ...], end: date) -> tuple[int, int, list[Reason]]:
    lasting = total = 0
    short = []
    for lot in lots:
        if lot.expires_on is None:
            continue
        total += lot.quantity
        if lot.expires_on > end:
            lasting += lot.quantity
        else:
            short.append(
                Reason(
                    r.SHELF_LIFE_SHORT,
                    f"{lot.quantity} x {lot.item_type_code} lot {lot.lot_number or '-'} in "
                    f"{kit.label} expires {lot.expires_on}, before the deployment ends {end}",
                    kit.depot_code,
                    kit.label,
                    lot.item_type_code,
                    lot_number=lot.lot_number,
                )
            )
    return lasting, total, short


def assess_kit(
    kit: Kit,
    template: Template,
    inspected_items: frozenset[str],
    today: date,
    deployment_days: int,
) -> KitFacts:
    good = required = 0
    pacing: list[Reason] = []
    faults: list[Reason] = []
    pacing_good: list[tuple[str, int]] = []
    short_lines = 0
    for line in template.lines:
        count = 0
        line_faults: list[Reason] = []
        must_inspect = line.item_type_code in inspected_items
        for unit in kit.units:
            if unit.item_type_code != line.item_type_code:
                continue
            code = _fault(
                unit.condition, unit.expires_on, unit.next_inspection_on, must_inspect, today
            )
            if code is None:
                count += 1
            else:
                line_faults.append(_unit_reason(code, kit, unit))
        for lot in kit.lots:
            if lot.item_type_code != line.item_type_code:
                continue
            code = _fault(lot.condition, lot.expires_on, lot.next_inspection_on, False, today)
            if code is None:
                count += lot.quantity
            else:
                line_faults.append(_lot_reason(code, kit, lot))
        good += min(count, line.quantity)
        required += line.quantity
        if line.pacing:
            pacing_good.append((line.item_type_code, min(count, line.quantity)))
        missing = line.quantity - count
        faults.extend(line_faults)
        if missing <= 0:
            continue
        short_lines += 1
        if not line_faults:
            faults.append(
                Reason(
                    r.ITEM_MISSING,
                    f"{kit.label} holds {count} of {line.quantity} {line.item_type_code}",
                    kit.depot_code,
                    kit.label,
                    line.item_type_code,
                )
            )
        if line.pacing:
            pacing.extend(
                _pacing_reasons(kit, line.item_type_code, count, line.quantity, line_faults)
            )
    lasting, total, short = _shelf_life(kit, kit.lots, today + timedelta(days=deployment_days))
    return KitFacts(
        kit.label,
        kit.depot_code,
        kit.template_code,
        held=kit.state in HELD_STATES,
        on_hand=kit.state == "READY" and short_lines == 0,
        good=good,
        required=required,
        consumables_lasting=lasting,
        consumables=total,
        pacing=tuple(pacing),
        faults=tuple(faults),
        shelf_life=tuple(short),
        pacing_good=tuple(pacing_good),
    )


def _pacing_reasons(
    kit: Kit, item: str, count: int, quantity: int, faults: list[Reason]
) -> list[Reason]:
    head = f"{kit.label} has {count} of {quantity} pacing {item}"
    if not faults:
        return [Reason(r.PACING_ITEM_MISSING, f"{head} (missing)", kit.depot_code, kit.label, item)]
    return [
        Reason(
            r.PACING_ITEM_MISSING,
            f"{head}: {f.message.split(': ', 1)[-1]} ({f.serial or 'lot ' + f.lot_number})",
            kit.depot_code,
            kit.label,
            item,
            serial=f.serial,
            lot_number=f.lot_number,
        )
        for f in faults
    ]
