"""Recording scans: each applied once, in order, its projection and ledger row in one transaction.

A batch runs in one transaction with a savepoint per scan, so a refused scan
leaves nothing behind while the others stand. A scan_id seen before answers
its stored result. An advisory lock per scan_id makes concurrent copies wait
for the first, and deadlocks or serialization failures re-run the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.common.errors import (
    Conflict,
    DomainError,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from services.inventory.adapters.orm import (
    DepotRow,
    ItemTypeRow,
    KitRow,
    LocationRow,
    LotRow,
    TransferRow,
    UnitRow,
)
from services.inventory.adapters.repository import to_lot, to_template, to_unit
from services.inventory.adapters.scan_repository import LedgerRefs, StoredScan
from services.inventory.domain import commands, labels, scanning
from services.inventory.domain.completeness import assess
from services.inventory.domain.model import (
    ASSESSED_STATES,
    Condition,
    KitState,
    ScanAction,
    TrackingMode,
    TransferState,
)
from services.inventory.domain.scanning import ScanOutcome, Subject, refuse
from services.inventory.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

MAX_ATTEMPTS = 3
Encode = Callable[[commands.RecordScan, ScanOutcome], bytes]


@dataclass(frozen=True)
class ScanRefused:
    scan_id: str
    error: DomainError


ScanAnswer = StoredScan | ScanRefused


@dataclass
class _Applied:
    subject: Subject
    refs: LedgerRefs
    quantity: int = 0
    # The kit whose state the answer reports (else the first kit the scan touched).
    kit: KitRow | None = None


@dataclass
class _Context:
    cmd: commands.RecordScan
    uow: UnitOfWork
    today: date
    depot: DepotRow
    location: LocationRow | None
    label: labels.Label
    touched_kits: list[KitRow] = field(default_factory=list)


# ------------------------------------------------------------------ entry points


async def record_scans(
    cmds: Sequence[commands.RecordScan],
    uow_factory: UnitOfWorkFactory,
    today: date,
    encode: Encode,
) -> list[ScanAnswer]:
    """Apply scans in order in one transaction; each answer in the same order."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with uow_factory() as uow:
                answers = [await _record_one(cmd, uow, today, encode) for cmd in cmds]
                await uow.commit()
                return answers
        except Conflict:
            if attempt == MAX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _record_one(
    cmd: commands.RecordScan, uow: UnitOfWork, today: date, encode: Encode
) -> ScanAnswer:
    await uow.repo.lock(f"scan:{cmd.scan_id}")
    stored = await uow.scans.stored(cmd.scan_id)
    if stored is not None:
        return stored
    try:
        async with uow.savepoint():
            applied = await _apply(cmd, uow, today)
            depot = await uow.scans.depot(cmd.depot_code)
            assert depot is not None
            outcome = _outcome(applied)
            stored = await uow.scans.record(
                cmd, depot, applied.refs, applied.quantity, encode(cmd, outcome)
            )
            _feed(cmd, uow, outcome)
            return stored
    except DomainError as error:
        return ScanRefused(cmd.scan_id, error)


def _outcome(applied: _Applied) -> ScanOutcome:
    kit = applied.kit
    if kit is None:
        return ScanOutcome(applied.subject)
    return ScanOutcome(applied.subject, kit.label, kit.state)


def _feed(cmd: commands.RecordScan, uow: UnitOfWork, outcome: ScanOutcome) -> None:
    uow.scans.change(
        kind=outcome.subject.kind,
        key=outcome.subject.key,
        depot_code=outcome.subject.depot_code or cmd.depot_code,
        action=cmd.action,
        scan_id=cmd.scan_id,
        kit_label=outcome.kit_label,
        kit_state=outcome.kit_state,
    )


async def resolve(code: str, uow: UnitOfWork) -> Subject:
    """What a code names, without changing anything."""
    label = _parse(code)
    match label:
        case labels.KitLabel(giai):
            kit = await uow.scans.kit(giai)
            if kit is None:
                raise NotFound("kit", giai)
            return Subject("KIT", kit.label, depot_code=kit.depot.code)
        case labels.UnitLabel(gtin, serial):
            item = await _item_type(uow, gtin)
            unit = await uow.scans.unit(item.id, serial)
            depot = (await uow.scans.depot_by_id(unit.depot_id)).code if unit else ""
            return Subject("UNIT", serial, item.code, gtin, depot_code=depot)
        case labels.LotLabel(gtin, lot_number, expires_on):
            item = await _item_type(uow, gtin)
            return Subject("LOT", lot_number, item.code, gtin, expires_on)
        case labels.BinLabel(gln, extension):
            return Subject("BIN", extension, depot_code=await _depot_code_of_gln(uow, gln))
        case labels.ShipmentLabel(sscc):
            return Subject("SHIPMENT", sscc)
        case labels.ActionLabel(action):
            return Subject("ACTION", action, action=_action(action))
    raise AssertionError(label)


# ------------------------------------------------------------------ parsing and context


def _parse(code: str, path: str = "scan.code") -> labels.Label:
    try:
        return labels.parse(code)
    except labels.LabelError as error:
        raise InvalidArgument([FieldViolation(path, f"{error.reason}: {error.message}")]) from None


def _action(name: str) -> ScanAction:
    try:
        return ScanAction(name)
    except ValueError:
        raise InvalidArgument(
            [FieldViolation("scan.code", f"{name!r} is not an action barcode Muster knows")]
        ) from None


async def _depot_code_of_gln(uow: UnitOfWork, gln: str) -> str:
    depot = await uow.repo.depot_by_gln(gln)
    if depot is None:
        raise NotFound("depot with GLN", gln)
    return depot.code


async def _item_type(uow: UnitOfWork, gtin: str) -> ItemTypeRow:
    item = await uow.scans.item_type_by_gtin(gtin)
    if item is None:
        raise NotFound("item type with GTIN", gtin)
    return item


async def _bin(uow: UnitOfWork, depot: DepotRow, code: str) -> LocationRow | None:
    if not code:
        return None
    label = _parse(code, "scan.bin_code")
    if not isinstance(label, labels.BinLabel):
        raise InvalidArgument([FieldViolation("scan.bin_code", "is not a bin label (414 + 254)")])
    if label.gln != depot.gln:
        raise refuse(
            "BIN_AT_OTHER_DEPOT",
            f"bin {label.extension} belongs to GLN {label.gln}, not depot {depot.code}",
        )
    location = await uow.scans.bin(depot.id, label.extension)
    if location is None:
        raise NotFound("bin", f"{label.extension} at {depot.code}")
    return location


def _need_bin(ctx: _Context) -> LocationRow:
    if ctx.location is None:
        raise InvalidArgument(
            [FieldViolation("scan.bin_code", f"{ctx.cmd.action.value} needs the bin scanned")]
        )
    return ctx.location


async def _apply(cmd: commands.RecordScan, uow: UnitOfWork, today: date) -> _Applied:
    label = _parse(cmd.code)
    depot = await uow.scans.depot(cmd.depot_code)
    if depot is None:
        raise NotFound("depot", cmd.depot_code)
    location = await _bin(uow, depot, cmd.bin_code)
    ctx = _Context(cmd, uow, today, depot, location, label)
    handler = _HANDLERS[cmd.action]
    applied = await handler(ctx)
    for kit in ctx.touched_kits:
        await _reassess(ctx, kit)
    if applied.kit is None and ctx.touched_kits:
        applied.kit = ctx.touched_kits[0]
    applied.refs = LedgerRefs(
        location_id=location.id if location else applied.refs.location_id,
        kit_id=applied.refs.kit_id,
        unit_id=applied.refs.unit_id,
        lot_id=applied.refs.lot_id,
        transfer_id=applied.refs.transfer_id,
        count_id=applied.refs.count_id,
    )
    return applied


async def _reassess(ctx: _Context, kit: KitRow, *, force: bool = False) -> None:
    """A kit's READY / INCOMPLETE from its contents, after a scan changed them."""
    if not force and kit.state not in ASSESSED_STATES:
        return
    await ctx.uow.scans.flush()
    contents = (await ctx.uow.repo.kit_contents([kit.id]))[kit.id]
    assessment = assess(to_template(kit.template).lines, contents, ctx.today)
    ctx.uow.repo.set_kit_state(kit, assessment.state, assessment.valid_until)


def _wrong_label(ctx: _Context, *allowed: str) -> DomainError:
    kind = type(ctx.label).__name__.removesuffix("Label").lower()
    return refuse(
        "WRONG_LABEL_FOR_ACTION",
        f"{ctx.cmd.action.value} takes a {' or '.join(allowed)} label, not a {kind} label",
    )


# ------------------------------------------------------------------ subjects


async def _kit(ctx: _Context, giai: str, *, here: bool = True) -> KitRow:
    kit = await ctx.uow.scans.kit(giai)
    if kit is None:
        raise NotFound("kit", giai)
    if here:
        scanning.at_this_depot("kit", kit.label, kit.depot.code, ctx.depot.code)
    return kit


def _kit_subject(kit: KitRow) -> Subject:
    return Subject("KIT", kit.label, depot_code=kit.depot.code)


async def _unit(ctx: _Context, label: labels.UnitLabel) -> tuple[ItemTypeRow, UnitRow | None]:
    item = await _item_type(ctx.uow, label.gtin)
    if item.tracking_mode is not TrackingMode.SERIAL:
        raise refuse(
            "NOT_SERIAL_TRACKED",
            f"{item.code} is tracked by {item.tracking_mode.value}, not by serial",
        )
    return item, await ctx.uow.scans.unit(item.id, label.serial)


async def _known_unit(ctx: _Context, label: labels.UnitLabel) -> tuple[ItemTypeRow, UnitRow]:
    item, unit = await _unit(ctx, label)
    if unit is None:
        raise NotFound("unit", f"{item.code} serial {label.serial}")
    scanning.not_retired(unit.serial, unit.retired_on)
    held_at = (await ctx.uow.scans.depot_by_id(unit.depot_id)).code
    scanning.at_this_depot("unit", unit.serial, held_at, ctx.depot.code)
    return item, unit


def _unit_subject(item: ItemTypeRow, unit: UnitRow, depot: DepotRow) -> Subject:
    return Subject("UNIT", unit.serial, item.code, item.gtin or "", unit.expires_on, depot.code)


async def _lot_item(ctx: _Context, label: labels.LotLabel) -> ItemTypeRow:
    item = await _item_type(ctx.uow, label.gtin)
    if item.tracking_mode is TrackingMode.SERIAL:
        raise refuse("SERIAL_TRACKED", f"{item.code} is tracked by serial; scan each unit")
    return item


def _lot_subject(item: ItemTypeRow, label: labels.LotLabel, depot: DepotRow) -> Subject:
    return Subject("LOT", label.lot_number, item.code, label.gtin, label.expires_on, depot.code)


async def _kit_of_scan(ctx: _Context) -> KitRow:
    """The kit named by kit_code, for PACK and UNPACK."""
    if not ctx.cmd.kit_code:
        raise InvalidArgument(
            [FieldViolation("scan.kit_code", f"{ctx.cmd.action.value} needs the kit scanned")]
        )
    label = _parse(ctx.cmd.kit_code, "scan.kit_code")
    if not isinstance(label, labels.KitLabel):
        raise InvalidArgument([FieldViolation("scan.kit_code", "is not a kit label (8004)")])
    return await _kit(ctx, label.giai)


# ------------------------------------------------------------------ actions


async def _receive(ctx: _Context) -> _Applied:
    match ctx.label:
        case labels.UnitLabel() as label:
            item, unit = await _unit(ctx, label)
            if unit is None:
                unit = await ctx.uow.scans.add_unit(
                    item,
                    label.serial,
                    ctx.depot,
                    ctx.location,
                    ctx.today + timedelta(days=item.retire_after_days)
                    if item.retire_after_days
                    else None,
                    ctx.today + timedelta(days=item.inspection_interval_days)
                    if item.inspection_interval_days
                    else None,
                )
            elif unit.condition is Condition.LOST and unit.retired_on is None:
                held_at = (await ctx.uow.scans.depot_by_id(unit.depot_id)).code
                scanning.at_this_depot("unit", unit.serial, held_at, ctx.depot.code)
                unit.condition, unit.location, unit.kit = Condition.SERVICEABLE, ctx.location, None
            else:
                held_at = (await ctx.uow.scans.depot_by_id(unit.depot_id)).code
                raise refuse(
                    "ALREADY_IN_STOCK",
                    f"unit {unit.serial} is already in stock at {held_at}",
                    held_at=held_at,
                )
            return _Applied(_unit_subject(item, unit, ctx.depot), LedgerRefs(unit_id=unit.id), 1)
        case labels.LotLabel() as label:
            item = await _lot_item(ctx, label)
            quantity = _positive_quantity(ctx)
            if label.expires_on is None and item.shelf_life_days:
                raise InvalidArgument(
                    [FieldViolation("scan.code", f"{item.code} expires: the label needs AI (17)")]
                )
            lot = await ctx.uow.scans.lot(item.id, label.lot_number, ctx.depot.id, None)
            if lot is None:
                lot = await ctx.uow.scans.add_lot(
                    item,
                    label.lot_number,
                    quantity,
                    ctx.depot,
                    location=ctx.location,
                    expires_on=label.expires_on,
                )
            else:
                lot.quantity += quantity
            subject = _lot_subject(item, label, ctx.depot)
            return _Applied(subject, LedgerRefs(lot_id=lot.id), quantity)
    raise _wrong_label(ctx, "unit", "lot")


def _positive_quantity(ctx: _Context) -> int:
    if ctx.cmd.quantity <= 0:
        raise InvalidArgument(
            [FieldViolation("scan.quantity", f"{ctx.cmd.action.value} of a lot needs a quantity")]
        )
    return ctx.cmd.quantity


async def _putaway(ctx: _Context) -> _Applied:
    location = _need_bin(ctx)
    match ctx.label:
        case labels.KitLabel(giai):
            kit = await _kit(ctx, giai)
            scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
            kit.location = location
            return _Applied(_kit_subject(kit), LedgerRefs(kit_id=kit.id), kit=kit)
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label)
            if unit.kit_id is not None:
                raise refuse("UNIT_IN_KIT", f"unit {unit.serial} is packed; put its kit away")
            unit.location = location
            return _Applied(_unit_subject(item, unit, ctx.depot), LedgerRefs(unit_id=unit.id), 1)
        case labels.LotLabel() as label:
            item = await _lot_item(ctx, label)
            lot = await ctx.uow.scans.lot(item.id, label.lot_number, ctx.depot.id, None)
            if lot is None or lot.quantity == 0:
                raise NotFound("loose lot", f"{label.lot_number} at {ctx.depot.code}")
            lot.location = location
            subject = _lot_subject(item, label, ctx.depot)
            return _Applied(subject, LedgerRefs(lot_id=lot.id), lot.quantity)
    raise _wrong_label(ctx, "kit", "unit", "lot")


async def _pack(ctx: _Context) -> _Applied:
    kit = await _kit_of_scan(ctx)
    scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
    lines = {ln.item_type_code: ln for ln in to_template(kit.template).lines}
    match ctx.label:
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label)
            if unit.kit_id == kit.id:
                raise refuse("ALREADY_IN_KIT", f"unit {unit.serial} is already in kit {kit.label}")
            if unit.kit_id is not None:
                raise refuse(
                    "UNIT_IN_OTHER_KIT", f"unit {unit.serial} is in another kit; unpack it"
                )
            scanning.on_template(item.code, list(lines), kit.label)
            scanning.fit_to_pack_unit(to_unit(unit), ctx.today, item.inspection_interval_days)
            unit.kit, unit.location = kit, None
            ctx.touched_kits.append(kit)
            refs = LedgerRefs(kit_id=kit.id, unit_id=unit.id)
            return _Applied(_unit_subject(item, unit, ctx.depot), refs, 1)
        case labels.LotLabel() as label:
            item = await _lot_item(ctx, label)
            scanning.on_template(item.code, list(lines), kit.label)
            loose = await ctx.uow.scans.lot(item.id, label.lot_number, ctx.depot.id, None)
            if loose is None:
                raise NotFound("loose lot", f"{label.lot_number} at {ctx.depot.code}")
            scanning.fit_to_pack_lot(to_lot(loose), ctx.today)
            quantity = scanning.enough(label.lot_number, ctx.cmd.quantity, loose.quantity)
            packed = await _move_lot(ctx, loose, quantity, kit=kit)
            ctx.touched_kits.append(kit)
            refs = LedgerRefs(kit_id=kit.id, lot_id=packed.id)
            return _Applied(_lot_subject(item, label, ctx.depot), refs, quantity)
    raise _wrong_label(ctx, "unit", "lot")


async def _move_lot(ctx: _Context, source: LotRow, quantity: int, *, kit: KitRow | None) -> LotRow:
    """Move part of a lot between loose stock and a kit at the same depot."""
    target = await ctx.uow.scans.lot(
        source.item_type_id, source.lot_number, ctx.depot.id, kit.id if kit else None
    )
    source.quantity -= quantity
    if target is None:
        return await ctx.uow.scans.add_lot(
            source.item_type,
            source.lot_number,
            quantity,
            ctx.depot,
            kit=kit,
            location=None if kit else ctx.location,
            like=source,
        )
    target.quantity += quantity
    return target


async def _unpack(ctx: _Context) -> _Applied:
    match ctx.label:
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label)
            if unit.kit_id is None:
                raise refuse("NOT_IN_KIT", f"unit {unit.serial} is not in a kit")
            kit = await ctx.uow.scans.kit_by_id(unit.kit_id)
            scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
            unit.kit, unit.location = None, ctx.location
            ctx.touched_kits.append(kit)
            refs = LedgerRefs(kit_id=kit.id, unit_id=unit.id)
            return _Applied(_unit_subject(item, unit, ctx.depot), refs, 1)
        case labels.LotLabel() as label:
            kit = await _kit_of_scan(ctx)
            scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
            item = await _lot_item(ctx, label)
            packed = await ctx.uow.scans.lot(item.id, label.lot_number, ctx.depot.id, kit.id)
            if packed is None:
                raise NotFound("lot", f"{label.lot_number} in kit {kit.label}")
            quantity = scanning.enough(label.lot_number, ctx.cmd.quantity, packed.quantity)
            loose = await _move_lot(ctx, packed, quantity, kit=None)
            ctx.touched_kits.append(kit)
            refs = LedgerRefs(kit_id=kit.id, lot_id=loose.id)
            return _Applied(_lot_subject(item, label, ctx.depot), refs, quantity)
    raise _wrong_label(ctx, "unit", "lot")


async def _issue(ctx: _Context) -> _Applied:
    if not isinstance(ctx.label, labels.KitLabel):
        raise _wrong_label(ctx, "kit")
    kit = await _kit(ctx, ctx.label.giai)
    await _reassess(ctx, kit)
    contents = (await ctx.uow.repo.kit_contents([kit.id]))[kit.id]
    shortfalls = assess(to_template(kit.template).lines, contents, ctx.today).shortfalls
    last = await ctx.uow.scans.last_scan(kit.id, ScanAction.ISSUE)
    last_issue = f"scan {last.scan_id} by {last.operator or 'unknown'}" if last else ""
    scanning.may_issue(kit.label, kit.state, ctx.cmd.override_reason, shortfalls, last_issue)
    kit.state, kit.location = KitState.DEPLOYED, None
    return _Applied(_kit_subject(kit), LedgerRefs(kit_id=kit.id), 1, kit=kit)


async def _return(ctx: _Context) -> _Applied:
    if not isinstance(ctx.label, labels.KitLabel):
        raise _wrong_label(ctx, "kit")
    kit = await _kit(ctx, ctx.label.giai, here=False)
    scanning.may_return(kit.label, kit.state)
    kit.depot, kit.location = ctx.depot, ctx.location
    await ctx.uow.scans.move_kit_contents(kit.id, ctx.depot.id)
    await _reassess(ctx, kit, force=True)
    return _Applied(_kit_subject(kit), LedgerRefs(kit_id=kit.id), 1, kit=kit)


async def _kits_of_label(ctx: _Context) -> tuple[list[KitRow], TransferRow | None]:
    match ctx.label:
        case labels.KitLabel(giai):
            return [await _kit(ctx, giai, here=False)], None
        case labels.ShipmentLabel(sscc):
            transfer = await ctx.uow.scans.transfer_by_sscc(sscc)
            if transfer is None:
                raise NotFound("transfer", sscc)
            lines = await ctx.uow.scans.lines_of(transfer.id)
            return [await ctx.uow.scans.kit_by_id(line.kit_id) for line in lines], transfer
    raise _wrong_label(ctx, "kit", "shipment")


async def _transfer_out(ctx: _Context) -> _Applied:
    kits, shipment = await _kits_of_label(ctx)
    transfer: TransferRow | None = shipment
    moved = 0
    for kit in kits:
        line = await ctx.uow.scans.pending_line(kit.id)
        if shipment is not None and (line is None or line.shipped):
            continue  # already shipped, or arrived: the rest of the shipment goes
        if line is None or line.shipped:
            raise refuse("NO_OPEN_TRANSFER", f"kit {kit.label} is on no transfer waiting to leave")
        transfer = await ctx.uow.scans.transfer(line.transfer_id)
        if transfer.from_depot_id != ctx.depot.id:
            raise refuse(
                "NO_OPEN_TRANSFER",
                f"kit {kit.label}'s transfer leaves from {transfer.from_depot.code}",
            )
        scanning.at_this_depot("kit", kit.label, kit.depot.code, ctx.depot.code)
        scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
        line.shipped = True
        kit.state, kit.location = KitState.IN_TRANSIT, None
        moved += 1
    if transfer is None or moved == 0:
        raise refuse("NOTHING_TO_SHIP", "every kit of this shipment has already left")
    transfer.state = TransferState.IN_TRANSIT
    return _moved(ctx, kits, shipment, transfer, moved)


def _moved(
    ctx: _Context,
    kits: list[KitRow],
    shipment: TransferRow | None,
    transfer: TransferRow,
    moved: int,
) -> _Applied:
    """The answer to a transfer scan: the shipment as a whole, or the one kit."""
    if shipment is not None:
        subject = Subject("SHIPMENT", transfer.sscc or "", depot_code=ctx.depot.code)
        return _Applied(subject, LedgerRefs(transfer_id=transfer.id), moved)
    kit = kits[0]
    refs = LedgerRefs(kit_id=kit.id, transfer_id=transfer.id)
    return _Applied(_kit_subject(kit), refs, moved, kit=kit)


async def _transfer_in(ctx: _Context) -> _Applied:
    kits, shipment = await _kits_of_label(ctx)
    transfer: TransferRow | None = shipment
    moved = 0
    for kit in kits:
        line = await ctx.uow.scans.pending_line(kit.id)
        if shipment is not None and (line is None or not line.shipped):
            continue
        if line is None or not line.shipped:
            raise refuse("NOT_IN_TRANSIT", f"kit {kit.label} is not on its way anywhere")
        transfer = await ctx.uow.scans.transfer(line.transfer_id)
        if transfer.to_depot_id != ctx.depot.id:
            raise refuse(
                "NOT_EXPECTED_HERE",
                f"kit {kit.label} is on its way to {transfer.to_depot.code}",
                expected_at=transfer.to_depot.code,
            )
        line.received = True
        kit.depot, kit.location = ctx.depot, ctx.location
        await ctx.uow.scans.move_kit_contents(kit.id, ctx.depot.id)
        await _reassess(ctx, kit, force=True)
        moved += 1
    if transfer is None or moved == 0:
        raise refuse("NOTHING_TO_RECEIVE", "every kit of this shipment has already arrived")
    await ctx.uow.scans.flush()
    lines = await ctx.uow.scans.lines_of(transfer.id)
    if all(line.received for line in lines):
        transfer.state = TransferState.CLOSED
        transfer.closed_at = await ctx.uow.scans.transaction_time()
    return _moved(ctx, kits, shipment, transfer, moved)


async def _count(ctx: _Context) -> _Applied:
    location = _need_bin(ctx)
    if not ctx.cmd.count_id:
        raise InvalidArgument([FieldViolation("scan.count_id", "COUNT needs the open count's id")])
    count = await ctx.uow.scans.count(ctx.cmd.count_id)
    if count is None:
        raise NotFound("count", ctx.cmd.count_id)
    if not count.open or count.depot_id != ctx.depot.id:
        raise refuse("COUNT_NOT_OPEN", f"count {count.count_id} is not open at {ctx.depot.code}")
    if count.zone and location.zone != count.zone:
        raise refuse(
            "BIN_OUTSIDE_COUNT",
            f"bin {location.label} is in zone {location.zone or '-'}; "
            f"this count covers zone {count.zone}",
        )
    subject = await resolve(ctx.cmd.code, ctx.uow)
    if subject.kind not in ("KIT", "UNIT", "LOT"):
        raise _wrong_label(ctx, "kit", "unit", "lot")
    quantity = ctx.cmd.quantity if subject.kind == "LOT" else 1
    return _Applied(subject, LedgerRefs(count_id=count.id), quantity)


async def _inspect(ctx: _Context, passed: bool) -> _Applied:
    match ctx.label:
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label)
            _inspect_unit(ctx, item, unit, passed)
            kit = await ctx.uow.scans.kit_by_id(unit.kit_id) if unit.kit_id else None
            if kit is not None:
                ctx.touched_kits.append(kit)
            refs = LedgerRefs(kit_id=kit.id if kit else None, unit_id=unit.id)
            return _Applied(_unit_subject(item, unit, ctx.depot), refs, 1)
        case labels.LotLabel() as label:
            item = await _lot_item(ctx, label)
            lots = await ctx.uow.scans.lots_at_depot(item.id, label.lot_number, ctx.depot.id)
            if not lots:
                raise NotFound("lot", f"{label.lot_number} at {ctx.depot.code}")
            for lot in lots:
                _inspect_lot(ctx, item, lot, passed)
                if lot.kit_id is not None:
                    ctx.touched_kits.append(await ctx.uow.scans.kit_by_id(lot.kit_id))
            quantity = sum(lot.quantity for lot in lots)
            subject = _lot_subject(item, label, ctx.depot)
            return _Applied(subject, LedgerRefs(lot_id=lots[0].id), quantity)
    raise _wrong_label(ctx, "unit", "lot")


def _inspect_unit(ctx: _Context, item: ItemTypeRow, unit: UnitRow, passed: bool) -> None:
    if unit.condition in (Condition.EXPIRED, Condition.LOST):
        raise refuse(f"UNIT_{unit.condition.value}", f"unit {unit.serial} is {unit.condition}")
    unit.last_inspected_on = ctx.today
    if passed:
        if unit.expires_on is not None and unit.expires_on <= ctx.today:
            raise refuse("UNIT_EXPIRED", f"unit {unit.serial} expired on {unit.expires_on}")
        interval = item.inspection_interval_days
        unit.next_inspection_on = ctx.today + timedelta(days=interval) if interval else None
        unit.condition = Condition.SERVICEABLE
    else:
        unit.condition = Condition.QUARANTINED


def _inspect_lot(ctx: _Context, item: ItemTypeRow, lot: LotRow, passed: bool) -> None:
    if passed:
        if lot.expires_on is not None and lot.expires_on <= ctx.today:
            raise refuse("LOT_EXPIRED", f"lot {lot.lot_number} expired on {lot.expires_on}")
        interval = item.inspection_interval_days
        lot.next_inspection_on = ctx.today + timedelta(days=interval) if interval else None
        lot.condition = Condition.SERVICEABLE
    else:
        lot.condition = Condition.QUARANTINED


async def _inspect_pass(ctx: _Context) -> _Applied:
    return await _inspect(ctx, passed=True)


async def _inspect_fail(ctx: _Context) -> _Applied:
    return await _inspect(ctx, passed=False)


async def _retire(ctx: _Context) -> _Applied:
    match ctx.label:
        case labels.KitLabel(giai):
            kit = await _kit(ctx, giai)
            scanning.may_retire_kit(kit.label, kit.state)
            kit.state = KitState.RETIRED
            return _Applied(_kit_subject(kit), LedgerRefs(kit_id=kit.id), 1, kit=kit)
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label)
            held_in = await ctx.uow.scans.kit_by_id(unit.kit_id) if unit.kit_id else None
            unit.retired_on, unit.kit, unit.location = ctx.today, None, None
            if held_in is not None:
                ctx.touched_kits.append(held_in)
            refs = LedgerRefs(kit_id=held_in.id if held_in else None, unit_id=unit.id)
            return _Applied(_unit_subject(item, unit, ctx.depot), refs, 1)
    raise _wrong_label(ctx, "kit", "unit")


_HANDLERS = {
    ScanAction.RECEIVE: _receive,
    ScanAction.PUTAWAY: _putaway,
    ScanAction.PACK: _pack,
    ScanAction.UNPACK: _unpack,
    ScanAction.ISSUE: _issue,
    ScanAction.RETURN: _return,
    ScanAction.TRANSFER_OUT: _transfer_out,
    ScanAction.TRANSFER_IN: _transfer_in,
    ScanAction.COUNT: _count,
    ScanAction.INSPECT_PASS: _inspect_pass,
    ScanAction.INSPECT_FAIL: _inspect_fail,
    ScanAction.RETIRE: _retire,
}
