"""Stock counts: what was scanned against what the records say, and the adjustments.

A count covers a depot or one zone of it. COUNT scans name the count and the
bin. Closing compares the last bin each thing was counted in with the
records: a thing on record and not counted is MISSING (a unit is marked LOST,
a lot's quantity set to what was counted, a kit flagged for search); a thing
counted that is not on record here is UNEXPECTED (a LOST unit of this depot
is found again; anything else is reported, not created); a thing counted in
another bin is WRONG_BIN (its bin is corrected). Each adjustment is kept with
the count, which names who started it, who closed it and who counted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.common import auth
from services.common.errors import FieldViolation, InvalidArgument, NotFound
from services.inventory.adapters.movement_repository import CountedScan, OnRecord
from services.inventory.adapters.orm import CountRow
from services.inventory.domain import commands, model, scanning
from services.inventory.domain.model import Condition, DiscrepancyKind
from services.inventory.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Discrepancy:
    kind: DiscrepancyKind
    subject_kind: str
    key: str
    item_type_code: str
    expected_bin: str
    counted_bin: str
    adjustment: str


def to_count(row: CountRow, scans: int = 0, counted_by: tuple[str, ...] = ()) -> model.StockCount:
    return model.StockCount(
        count_id=row.count_id,
        depot_code=row.depot.code,
        zone=row.zone,
        open=row.open,
        started_by=row.started_by,
        closed_by=row.closed_by or "",
        started_at=row.started_at,
        closed_at=row.closed_at,
        scans=scans,
        counted_by=counted_by,
    )


async def start_count(cmd: commands.StartCount, uow: UnitOfWork) -> model.StockCount:
    depot = await uow.movements.depot(cmd.depot_code)
    if depot is None:
        raise NotFound("depot", cmd.depot_code)
    if cmd.zone and cmd.zone not in await uow.movements.zones(depot.id):
        raise InvalidArgument([FieldViolation("zone", f"{cmd.zone!r} has no bins at {depot.code}")])
    await uow.repo.lock(f"count:{depot.id}")
    existing = await uow.movements.open_count(depot.id, cmd.zone)
    if existing is not None:
        raise scanning.refuse(
            "COUNT_ALREADY_OPEN",
            f"count {existing.count_id} is already open here; close it first",
            count_id=existing.count_id,
        )
    row = await uow.movements.add_count(
        depot, cmd.zone, f"C{uuid.uuid4().hex[:10].upper()}", cmd.operator
    )
    uow.movements.change(kind="COUNT", key=row.count_id, depot_code=depot.code)
    return to_count(row)


def _counted(scans: list[CountedScan]) -> dict[tuple[str, str, str], CountedScan]:
    """The last scan of each thing: (kind, item type, key) -> where and how many."""
    last: dict[tuple[str, str, str], CountedScan] = {}
    for scan in scans:
        last[(scan.kind, scan.item_type_code, scan.key)] = scan
    return last


async def close_count(
    cmd: commands.CloseCount, uow: UnitOfWork
) -> tuple[model.StockCount, list[Discrepancy]]:
    row = await uow.movements.count_for_update(cmd.count_id)
    if row is None:
        raise NotFound("count", cmd.count_id)
    auth.act_at(to_count(row).depot_code)  # depot staff close only their depot's counts
    if not row.open:
        raise scanning.refuse("COUNT_NOT_OPEN", f"count {row.count_id} is already closed")
    scans = await uow.movements.counted(row.id)
    counted = _counted(scans)
    records = await uow.movements.on_record(row.depot_id, row.zone)
    found: list[Discrepancy] = []
    for key, thing in records.items():
        seen = counted.pop(key, None)
        if seen is None:
            found.append(await _missing(uow, thing))
        elif thing.kind == "LOT" and seen.quantity != thing.quantity:
            found.append(await _lot_quantity(uow, thing, seen))
        elif seen.bin_label != thing.bin_label:
            found.append(await _wrong_bin(uow, thing, seen))
    for seen in counted.values():
        found.append(await _unexpected(uow, row, seen))
    operators = tuple(sorted({s.operator for s in scans if s.operator}))
    await uow.movements.close_count(row, cmd.operator, found)
    for d in found:
        uow.movements.change(kind=d.subject_kind, key=d.key, depot_code=row.depot.code)
    return to_count(row, len(scans), operators), found


async def _missing(uow: UnitOfWork, thing: OnRecord) -> Discrepancy:
    if thing.kind == "UNIT":
        await uow.movements.set_unit_condition(thing.row_id, Condition.LOST)
        adjustment = "marked LOST"
    elif thing.kind == "LOT":
        await uow.movements.set_lot_quantity(thing.row_id, 0)
        adjustment = f"quantity set to 0 (was {thing.quantity})"
    else:
        adjustment = "not found: flagged for search, state unchanged"
    return Discrepancy(
        DiscrepancyKind.MISSING,
        thing.kind,
        thing.key,
        thing.item_type_code,
        thing.bin_label,
        "",
        adjustment,
    )


async def _lot_quantity(uow: UnitOfWork, thing: OnRecord, seen: CountedScan) -> Discrepancy:
    await uow.movements.set_lot_quantity(thing.row_id, seen.quantity)
    kind = DiscrepancyKind.MISSING if seen.quantity < thing.quantity else DiscrepancyKind.UNEXPECTED
    return Discrepancy(
        kind,
        "LOT",
        thing.key,
        thing.item_type_code,
        thing.bin_label,
        seen.bin_label,
        f"quantity set to {seen.quantity} (was {thing.quantity})",
    )


async def _wrong_bin(uow: UnitOfWork, thing: OnRecord, seen: CountedScan) -> Discrepancy:
    await uow.movements.set_bin(thing.kind, thing.row_id, seen.location_id)
    return Discrepancy(
        DiscrepancyKind.WRONG_BIN,
        thing.kind,
        thing.key,
        thing.item_type_code,
        thing.bin_label,
        seen.bin_label,
        f"moved to bin {seen.bin_label} on record",
    )


async def _unexpected(uow: UnitOfWork, count: CountRow, seen: CountedScan) -> Discrepancy:
    adjustment = "not on record here: receive or transfer it in"
    if seen.kind == "UNIT":
        unit = await uow.movements.unit_by_code(seen.item_type_code, seen.key)
        here = unit is not None and unit.depot_id == count.depot_id
        if unit is not None and here and unit.condition is Condition.LOST:
            await uow.movements.set_unit_condition(unit.id, Condition.SERVICEABLE)
            await uow.movements.set_bin("UNIT", unit.id, seen.location_id)
            adjustment = "found: back in stock as SERVICEABLE"
        elif unit is not None and not here:
            held = (await uow.movements.depot_by_id(unit.depot_id)).code
            adjustment = f"on record at {held}: transfer it or correct the record"
    return Discrepancy(
        DiscrepancyKind.UNEXPECTED,
        seen.kind,
        seen.key,
        seen.item_type_code,
        "",
        seen.bin_label,
        adjustment,
    )
