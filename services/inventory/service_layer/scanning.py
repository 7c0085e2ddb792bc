"""Recording scans: each applied once, in order, its projection and ledger row in one transaction.

A batch runs in one transaction. Its scan_ids are locked (advisory locks in
hash order, so concurrent copies of a scan wait for the first) and looked up
at once: a scan_id seen before answers its stored result. Each new scan then
runs in a savepoint when the batch holds more than one, so a refused scan
leaves nothing behind while the others stand. Deadlocks and serialization
failures re-run the whole batch. The SQL is the ScanStore's: Core statements
on plain records, with reference data cached per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.common.errors import (
    Conflict,
    DomainError,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.inventory.adapters.batch_store import BATCH_ACTIONS, BatchKeys, BatchStore
from services.inventory.adapters.scan_store import (
    BinRef,
    DepotRef,
    ItemRef,
    KitRec,
    LedgerRefs,
    LotRec,
    Prior,
    ScanStore,
    StoredRefusal,
    StoredScan,
    TransferRec,
    UnitRec,
)
from services.inventory.domain import commands, labels, model, scanning
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
from services.inventory.service_layer.unit_of_work import (
    ConnectionLost,
    ScanUnit,
    UnitOfWork,
    UnitOfWorkFactory,
)

MAX_ATTEMPTS = 3
Encode = Callable[[commands.RecordScan, ScanOutcome], bytes]
# The google.rpc.Status a refusal is answered with, serialized, to be kept.
EncodeRefusal = Callable[[DomainError], bytes]


@dataclass(frozen=True)
class ScanRefused:
    scan_id: str
    error: DomainError


ScanAnswer = StoredScan | StoredRefusal | ScanRefused


def fingerprint(cmd: commands.RecordScan) -> str:
    """What a scan asks, so a scan_id re-used for a different scan is refused."""
    asked = (
        cmd.code,
        cmd.action.value,
        cmd.depot_code,
        cmd.bin_code,
        cmd.kit_code,
        str(cmd.quantity),
        cmd.count_id,
        cmd.override_reason,
    )
    return hashlib.sha256("\x1f".join(asked).encode()).hexdigest()


def reused(scan_id: str) -> ScanRefused:
    return ScanRefused(
        scan_id,
        InvalidArgument(
            [
                FieldViolation(
                    "scan.scan_id",
                    "SCAN_ID_REUSED: this id was sent before with a different scan; "
                    "every scan needs its own id",
                )
            ]
        ),
    )


def _replay(prior: Prior, cmd: commands.RecordScan) -> ScanAnswer:
    if prior.fingerprint is not None and prior.fingerprint != fingerprint(cmd):
        return reused(cmd.scan_id)
    return prior.answer


@dataclass
class _Applied:
    subject: Subject
    refs: LedgerRefs
    quantity: int = 0
    # The kit whose state the answer reports (else the first kit the scan touched).
    kit: KitRec | None = None


@dataclass
class _Context:
    cmd: commands.RecordScan
    store: ScanStore
    today: date
    depot: DepotRef
    location: BinRef | None
    label: labels.Label
    touched_kits: list[KitRec] = field(default_factory=list)

    def touch(self, kit: KitRec) -> None:
        if all(k.id != kit.id for k in self.touched_kits):
            self.touched_kits.append(kit)


# ------------------------------------------------------------------ entry points


async def record_scans(
    cmds: Sequence[commands.RecordScan],
    uow_factory: UnitOfWorkFactory,
    today: date,
    encode: Encode,
    encode_refusal: EncodeRefusal,
) -> list[ScanAnswer]:
    """Apply scans in order in one transaction; each answer in the same order.

    Refusals are kept too: a re-sent copy of a refused scan is refused the
    same way, even if the stock has changed since.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with uow_factory.scans() as unit:
                answers = await _record_batch(cmds, unit, today, encode, encode_refusal)
                lone_refusal = _alone(cmds) and isinstance(answers[0], ScanRefused)
                if lone_refusal:
                    await unit.rollback()  # it ran without a savepoint: undo all of it
                else:
                    await unit.commit()
            if lone_refusal:
                return [await _keep_refusal(cmds[0], answers[0], uow_factory, encode_refusal)]
            return answers
        except Conflict:
            if attempt == MAX_ATTEMPTS:
                raise
        except ConnectionLost:
            # E.g. the database restarted while the pool held the connection. Once
            # more on a fresh one: whether or not the first attempt committed, scan
            # ids make the second answer the same.
            if attempt > 1:
                raise
    raise AssertionError("unreachable")


def _alone(cmds: Sequence[commands.RecordScan]) -> bool:
    """One scan recorded by its own statements, without a savepoint: refused, it is
    rolled back whole and its refusal kept after (a set-based run keeps its own)."""
    return len(cmds) == 1 and cmds[0].action not in BATCH_ACTIONS


async def _keep_refusal(
    cmd: commands.RecordScan,
    answer: ScanAnswer,
    uow_factory: UnitOfWorkFactory,
    encode_refusal: EncodeRefusal,
) -> ScanAnswer:
    """Keep a lone scan's refusal, unless a copy was answered while it was rolled back."""
    assert isinstance(answer, ScanRefused)
    async with uow_factory.scans() as unit:
        prior = (await unit.store.claim([cmd.scan_id])).get(cmd.scan_id)
        if prior is not None:
            return _replay(prior, cmd)
        if _keepable(answer.error):
            await unit.store.refuse(cmd.scan_id, fingerprint(cmd), encode_refusal(answer.error))
            await unit.commit()
    return answer


def _keepable(error: DomainError) -> bool:
    """Refusals that are the scan's own answer; not a lost race or an outage."""
    return not isinstance(error, Conflict | Unavailable)


async def _record_batch(
    cmds: Sequence[commands.RecordScan],
    unit: ScanUnit,
    today: date,
    encode: Encode,
    encode_refusal: EncodeRefusal,
) -> list[ScanAnswer]:
    if all(cmd.action in BATCH_ACTIONS for cmd in cmds):
        # The usual batch, or a lone scan of these actions: one set-based run, which
        # claims its scans and locks its kits first itself, and commits with its write
        # (two round trips, where the statements of a lone scan take five to eight).
        return await _record_set(cmds, unit, None, today, encode, encode_refusal)
    store = unit.store
    prior = await store.claim([cmd.scan_id for cmd in cmds])
    isolate = len(cmds) > 1
    if isolate:
        await store.lock_kits(_kit_giais(cmd for cmd in cmds if cmd.scan_id not in prior))
    answers: list[ScanAnswer] = []
    start = 0
    while start < len(cmds):
        end = start
        while isolate and end < len(cmds) and cmds[end].action in BATCH_ACTIONS:
            end += 1
        if end > start:  # a run of scans that touch only kits, units and lots: set-based
            run = cmds[start:end]
            answers += await _record_set(run, unit, prior, today, encode, encode_refusal)
            start = end
            continue
        cmd = cmds[start]
        start += 1
        if cmd.scan_id in prior:
            answers.append(_replay(prior[cmd.scan_id], cmd))
            continue
        answer = await _record_one(cmd, unit, store, today, encode, isolate)
        if isolate and isinstance(answer, ScanRefused) and _keepable(answer.error):
            status = encode_refusal(answer.error)
            await store.refuse(cmd.scan_id, fingerprint(cmd), status)
            prior[cmd.scan_id] = Prior(fingerprint(cmd), StoredRefusal(cmd.scan_id, status))
        elif isinstance(answer, StoredScan):
            prior[cmd.scan_id] = Prior(fingerprint(cmd), answer)
        answers.append(answer)
    return answers


async def _record_set(
    cmds: Sequence[commands.RecordScan],
    unit: ScanUnit,
    claimed: dict[str, Prior] | None,
    today: date,
    encode: Encode,
    encode_refusal: EncodeRefusal,
) -> list[ScanAnswer]:
    """Scans of BATCH_ACTIONS, in order, on rows fetched up front and written at the end.

    Each scan runs as alone (the same handlers), in memory; a refused scan's
    changes are undone before the next one runs, as a savepoint did. With
    `claimed` None the run is the whole batch: its scans are claimed in the
    prefetch's first round trip (their rows are fetched whether or not they
    were seen before), and it commits with its write.
    """
    batch = BatchStore(unit.store.conn, unit.store.cache, unit.store.pooled)
    whole = claimed is None
    keys = await _batch_keys(cmds, batch, claimed or {})
    if claimed is None:
        prior = await batch.prefetch(keys, claim=[cmd.scan_id for cmd in cmds])
    else:
        prior = claimed
        await batch.prefetch(keys)
    answers: list[ScanAnswer] = []
    for cmd in cmds:
        if cmd.scan_id in prior:
            answers.append(_replay(prior[cmd.scan_id], cmd))
            continue
        batch.begin_scan()
        asked = fingerprint(cmd)
        answer = await _record_one(cmd, unit, batch, today, encode, isolate=False, asked=asked)
        if isinstance(answer, ScanRefused):
            batch.undo_scan()
            if _keepable(answer.error):
                status = encode_refusal(answer.error)
                await batch.refuse(cmd.scan_id, asked, status)
                prior[cmd.scan_id] = Prior(asked, StoredRefusal(cmd.scan_id, status))
        elif isinstance(answer, StoredScan):
            prior[cmd.scan_id] = Prior(asked, answer)
        answers.append(answer)
    recorded = await batch.flush(commit=whole)
    for i, answer in enumerate(answers):  # accepted now: the ledger's sequence number and time
        if isinstance(answer, StoredScan) and answer.scan_id in recorded:
            seq, recorded_at = recorded[answer.scan_id]
            stored = StoredScan(answer.scan_id, answer.payload, seq, recorded_at)
            prior[answer.scan_id] = Prior(prior[answer.scan_id].fingerprint, stored)
            answers[i] = stored
    return answers


async def _batch_keys(
    cmds: Sequence[commands.RecordScan], store: ScanStore, prior: dict[str, Prior]
) -> BatchKeys:
    """The kits, units and lots a run of scans names (codes that do not parse are skipped:
    their scans are refused when they run)."""
    keys = BatchKeys()
    for cmd in cmds:
        if cmd.scan_id in prior:
            continue
        for code in (cmd.code, cmd.kit_code):
            try:
                label = labels.parse(code) if code else None
            except labels.LabelError:
                continue
            match label:
                case labels.KitLabel(giai):
                    keys.kit_giais.add(giai)
                case labels.UnitLabel(gtin, serial):
                    if item := await store.item_by_gtin(gtin):
                        keys.units.add((item.id, serial))
                        keys.new_units += cmd.action is ScanAction.RECEIVE
                case labels.LotLabel(gtin, lot_number, _):
                    item = await store.item_by_gtin(gtin)
                    depot = await store.depot(cmd.depot_code)
                    if item and depot:
                        keys.lots.add((item.id, lot_number, depot.id))
                        keys.new_lots += cmd.action is not ScanAction.INSPECT_PASS
    return keys


async def _record_one(
    cmd: commands.RecordScan,
    unit: ScanUnit,
    store: ScanStore,
    today: date,
    encode: Encode,
    isolate: bool,
    asked: str | None = None,
) -> ScanAnswer:
    """One scan applied and recorded (`asked`: its fingerprint, if known already)."""
    store.forget_rows()
    try:
        if not isolate:  # no savepoint, and none of its context manager's cost
            return await _apply(cmd, store, today, encode, asked)
        async with unit.savepoint():
            return await _apply(cmd, store, today, encode, asked)
    except DomainError as error:
        return ScanRefused(cmd.scan_id, error)


async def _apply(
    cmd: commands.RecordScan, store: ScanStore, today: date, encode: Encode, asked: str | None
) -> StoredScan:
    ctx = await _context(cmd, store, today)
    applied = await _HANDLERS[cmd.action](ctx)
    for kit in ctx.touched_kits:
        await _reassess(ctx, kit)
    outcome = _outcome(applied, ctx)
    refs = _with_bin(applied.refs, ctx.location)
    return await store.record(
        cmd,
        ctx.depot,
        refs,
        applied.quantity,
        encode(cmd, outcome),
        _change(cmd, outcome),
        asked or fingerprint(cmd),
    )


def _kit_giais(cmds: Iterable[commands.RecordScan]) -> list[str]:
    """The kits a batch names, by their labels' GIAI (codes that do not parse are skipped)."""
    found = []
    for cmd in cmds:
        for code in (cmd.code, cmd.kit_code):
            try:
                label = labels.parse(code) if code else None
            except labels.LabelError:
                continue
            if isinstance(label, labels.KitLabel):
                found.append(label.giai)
    return found


def _outcome(applied: _Applied, ctx: _Context) -> ScanOutcome:
    kit = applied.kit or (ctx.touched_kits[0] if ctx.touched_kits else None)
    if kit is None:
        return ScanOutcome(applied.subject)
    return ScanOutcome(applied.subject, kit.label, kit.state)


def _with_bin(refs: LedgerRefs, location: BinRef | None) -> LedgerRefs:
    if location is None:
        return refs
    return LedgerRefs(
        location.id, refs.kit_id, refs.unit_id, refs.lot_id, refs.transfer_id, refs.count_id
    )


def _change(cmd: commands.RecordScan, outcome: ScanOutcome) -> dict[str, str]:
    return {
        "kind": outcome.subject.kind,
        "key": outcome.subject.key,
        "depot_code": outcome.subject.depot_code or cmd.depot_code,
        "action": cmd.action.value,
        "kit_label": outcome.kit_label,
        "kit_state": outcome.kit_state.value if outcome.kit_state else "",
    }


async def resolve(code: str, uow: UnitOfWork) -> Subject:
    """What a code names, without changing anything."""
    return await _resolve(await uow.scan_store(), _parse(code))


async def _resolve(store: ScanStore, label: labels.Label) -> Subject:
    match label:
        case labels.KitLabel(giai):
            kit = await store.kit(giai=giai)
            if kit is None:
                raise NotFound("kit", giai)
            return Subject(
                "KIT", kit.label, depot_code=(await store.depot_by_id(kit.depot_id)).code
            )
        case labels.UnitLabel(gtin, serial):
            item = await _item_type(store, gtin)
            unit = await store.unit(item.id, serial, lock=False)
            held_at = (await store.depot_by_id(unit.depot_id)).code if unit else ""
            return Subject("UNIT", serial, item.code, gtin, depot_code=held_at)
        case labels.LotLabel(gtin, lot_number, expires_on):
            item = await _item_type(store, gtin)
            return Subject("LOT", lot_number, item.code, gtin, expires_on)
        case labels.BinLabel(gln, extension):
            owner = await store.depot_by_gln(gln)
            if owner is None:
                raise NotFound("depot with GLN", gln)
            return Subject("BIN", extension, depot_code=owner.code)
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


async def _item_type(store: ScanStore, gtin: str) -> ItemRef:
    item = await store.item_by_gtin(gtin)
    if item is None:
        raise NotFound("item type with GTIN", gtin)
    return item


async def _bin(store: ScanStore, depot: DepotRef, code: str) -> BinRef | None:
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
    location = await store.bin(depot.id, label.extension)
    if location is None:
        raise NotFound("bin", f"{label.extension} at {depot.code}")
    return location


async def _context(cmd: commands.RecordScan, store: ScanStore, today: date) -> _Context:
    label = _parse(cmd.code)
    depot = await store.depot(cmd.depot_code)
    if depot is None:
        raise NotFound("depot", cmd.depot_code)
    location = await _bin(store, depot, cmd.bin_code)
    return _Context(cmd, store, today, depot, location, label)


def _need_bin(ctx: _Context) -> BinRef:
    if ctx.location is None:
        raise InvalidArgument(
            [FieldViolation("scan.bin_code", f"{ctx.cmd.action.value} needs the bin scanned")]
        )
    return ctx.location


async def _reassess(ctx: _Context, kit: KitRec, *, force: bool = False) -> None:
    """A kit's READY / INCOMPLETE from its contents, after a scan changed them."""
    if not force and kit.state not in ASSESSED_STATES:
        return
    template = await ctx.store.template(kit.template_id)
    contents = await ctx.store.kit_contents(kit.id)
    assessment = assess(template.lines, contents, ctx.today)
    if (assessment.state, assessment.valid_until) == (kit.state, kit.state_valid_until):
        return  # nothing to write
    await ctx.store.update_kit(
        kit, state=assessment.state, state_valid_until=assessment.valid_until
    )


def _wrong_label(ctx: _Context, *allowed: str) -> DomainError:
    kind = type(ctx.label).__name__.removesuffix("Label").lower()
    return refuse(
        "WRONG_LABEL_FOR_ACTION",
        f"{ctx.cmd.action.value} takes a {' or '.join(allowed)} label, not a {kind} label",
    )


# ------------------------------------------------------------------ subjects


async def _kit(
    ctx: _Context, *, giai: str | None = None, kit_id: int | None = None, here: bool = True
) -> KitRec:
    kit = await ctx.store.kit(giai=giai, kit_id=kit_id)
    if kit is None:
        raise NotFound("kit", giai or str(kit_id))
    if here:
        held_at = (await ctx.store.depot_by_id(kit.depot_id)).code
        scanning.at_this_depot("kit", kit.label, held_at, ctx.depot.code)
    return kit


async def _kit_subject(ctx: _Context, kit: KitRec) -> Subject:
    return Subject("KIT", kit.label, depot_code=(await ctx.store.depot_by_id(kit.depot_id)).code)


async def _serial_item(ctx: _Context, label: labels.UnitLabel) -> ItemRef:
    item = await _item_type(ctx.store, label.gtin)
    if item.tracking_mode is not TrackingMode.SERIAL:
        raise refuse(
            "NOT_SERIAL_TRACKED",
            f"{item.code} is tracked by {item.tracking_mode.value}, not by serial",
        )
    return item


async def _known_unit(
    ctx: _Context, label: labels.UnitLabel, *, with_kit: bool = False
) -> tuple[ItemRef, UnitRec]:
    """The unit under its lock; `with_kit` locks the kit it is packed in in the same
    round trip, for the _holding_kit() call that follows."""
    item = await _serial_item(ctx, label)
    unit = await ctx.store.unit(item.id, label.serial, with_kit=with_kit)
    if unit is None:
        raise NotFound("unit", f"{item.code} serial {label.serial}")
    scanning.not_retired(unit.serial, unit.retired_on)
    held_at = (await ctx.store.depot_by_id(unit.depot_id)).code
    scanning.at_this_depot("unit", unit.serial, held_at, ctx.depot.code)
    return item, unit


async def _holding_kit(ctx: _Context, kit_id: int | None) -> KitRec | None:
    """The kit a unit or lot is packed in, which must be on the shelf to be worked on."""
    if kit_id is None:
        return None
    kit = await _kit(ctx, kit_id=kit_id, here=False)
    scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
    return kit


def _unit_subject(item: ItemRef, unit: UnitRec, depot: DepotRef) -> Subject:
    return Subject("UNIT", unit.serial, item.code, item.gtin or "", unit.expires_on, depot.code)


def _as_unit(item: ItemRef, unit: UnitRec) -> model.Unit:
    return model.Unit(
        item.code,
        unit.serial,
        unit.condition,
        unit.expires_on,
        unit.last_inspected_on,
        unit.next_inspection_on,
    )


def _as_lot(item: ItemRef, lot: LotRec) -> model.Lot:
    return model.Lot(
        item.code,
        lot.quantity,
        lot.lot_number,
        lot.expires_on,
        lot.next_inspection_on,
        lot.condition,
    )


async def _lot_item(ctx: _Context, label: labels.LotLabel) -> ItemRef:
    item = await _item_type(ctx.store, label.gtin)
    if item.tracking_mode is TrackingMode.SERIAL:
        raise refuse("SERIAL_TRACKED", f"{item.code} is tracked by serial; scan each unit")
    return item


def _lot_subject(item: ItemRef, label: labels.LotLabel, depot: DepotRef) -> Subject:
    return Subject("LOT", label.lot_number, item.code, label.gtin, label.expires_on, depot.code)


async def _kit_of_scan(ctx: _Context) -> KitRec:
    """The kit named by kit_code, for PACK and UNPACK."""
    if not ctx.cmd.kit_code:
        raise InvalidArgument(
            [FieldViolation("scan.kit_code", f"{ctx.cmd.action.value} needs the kit scanned")]
        )
    label = _parse(ctx.cmd.kit_code, "scan.kit_code")
    if not isinstance(label, labels.KitLabel):
        raise InvalidArgument([FieldViolation("scan.kit_code", "is not a kit label (8004)")])
    return await _kit(ctx, giai=label.giai)


def _positive_quantity(ctx: _Context) -> int:
    if ctx.cmd.quantity <= 0:
        raise InvalidArgument(
            [FieldViolation("scan.quantity", f"{ctx.cmd.action.value} of a lot needs a quantity")]
        )
    return ctx.cmd.quantity


def _days(base: date, days: int | None) -> date | None:
    return base + timedelta(days=days) if days else None


# ------------------------------------------------------------------ actions


async def _receive(ctx: _Context) -> _Applied:
    match ctx.label:
        case labels.UnitLabel() as label:
            item = await _serial_item(ctx, label)
            location_id = ctx.location.id if ctx.location else None
            added = await ctx.store.add_unit(
                item_type_id=item.id,
                serial=label.serial,
                depot_id=ctx.depot.id,
                location_id=location_id,
                condition=Condition.SERVICEABLE,
                expires_on=_days(ctx.today, item.retire_after_days),
                next_inspection_on=_days(ctx.today, item.inspection_interval_days),
            )
            unit = added or await _receive_known(ctx, label, item, location_id)
            return _Applied(_unit_subject(item, unit, ctx.depot), LedgerRefs(unit_id=unit.id), 1)
        case labels.LotLabel() as label:
            item = await _lot_item(ctx, label)
            quantity = _positive_quantity(ctx)
            if label.expires_on is None and item.shelf_life_days:
                raise InvalidArgument(
                    [FieldViolation("scan.code", f"{item.code} expires: the label needs AI (17)")]
                )
            location_id = ctx.location.id if ctx.location else None
            lot = await ctx.store.receive_lot(
                item.id, label.lot_number, ctx.depot.id, quantity, location_id, label.expires_on
            )
            if lot is None:  # on record with another expiry: nothing was added
                held = await ctx.store.lot(item.id, label.lot_number, ctx.depot.id, None)
                raise refuse(
                    "LOT_EXPIRY_MISMATCH",
                    f"lot {label.lot_number} is on record expiring "
                    f"{held.expires_on if held else '?'}, this label says {label.expires_on}",
                )
            subject = _lot_subject(item, label, ctx.depot)
            return _Applied(subject, LedgerRefs(lot_id=lot.id), quantity)
    raise _wrong_label(ctx, "unit", "lot")


async def _receive_known(
    ctx: _Context, label: labels.UnitLabel, item: ItemRef, location_id: int | None
) -> UnitRec:
    """A serial on record comes back into stock only if it was lost."""
    unit = await ctx.store.unit(item.id, label.serial)
    assert unit is not None  # add_unit added nothing: the serial is on record
    held_at = (await ctx.store.depot_by_id(unit.depot_id)).code
    if unit.condition is not Condition.LOST or unit.retired_on is not None:
        raise refuse(
            "ALREADY_IN_STOCK",
            f"unit {unit.serial} is already in stock at {held_at}",
            held_at=held_at,
        )
    scanning.at_this_depot("unit", unit.serial, held_at, ctx.depot.code)
    await ctx.store.update_unit(
        unit, condition=Condition.SERVICEABLE, location_id=location_id, kit_id=None
    )
    return unit


async def _putaway(ctx: _Context) -> _Applied:
    location = _need_bin(ctx)
    match ctx.label:
        case labels.KitLabel(giai):
            kit = await _kit(ctx, giai=giai)
            scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
            await ctx.store.update_kit(kit, location_id=location.id)
            return _Applied(await _kit_subject(ctx, kit), LedgerRefs(kit_id=kit.id), kit=kit)
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label)
            if unit.kit_id is not None:
                raise refuse("UNIT_IN_KIT", f"unit {unit.serial} is packed; put its kit away")
            await ctx.store.update_unit(unit, location_id=location.id)
            return _Applied(_unit_subject(item, unit, ctx.depot), LedgerRefs(unit_id=unit.id), 1)
        case labels.LotLabel() as label:
            item = await _lot_item(ctx, label)
            lot = await ctx.store.lot(item.id, label.lot_number, ctx.depot.id, None)
            if lot is None or lot.quantity == 0:
                raise NotFound("loose lot", f"{label.lot_number} at {ctx.depot.code}")
            await ctx.store.update_lot(lot, location_id=location.id)
            subject = _lot_subject(item, label, ctx.depot)
            return _Applied(subject, LedgerRefs(lot_id=lot.id), lot.quantity)
    raise _wrong_label(ctx, "kit", "unit", "lot")


async def _pack(ctx: _Context) -> _Applied:
    kit = await _kit_of_scan(ctx)
    scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
    on_template = [ln.item_type_code for ln in (await ctx.store.template(kit.template_id)).lines]
    match ctx.label:
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label)
            if unit.kit_id == kit.id:
                raise refuse("ALREADY_IN_KIT", f"unit {unit.serial} is already in kit {kit.label}")
            if unit.kit_id is not None:
                raise refuse(
                    "UNIT_IN_OTHER_KIT", f"unit {unit.serial} is in another kit; unpack it first"
                )
            scanning.on_template(item.code, on_template, kit.label)
            scanning.fit_to_pack_unit(
                _as_unit(item, unit), ctx.today, item.inspection_interval_days
            )
            await ctx.store.update_unit(unit, kit_id=kit.id, location_id=None)
            ctx.touch(kit)
            refs = LedgerRefs(kit_id=kit.id, unit_id=unit.id)
            return _Applied(_unit_subject(item, unit, ctx.depot), refs, 1)
        case labels.LotLabel() as label:
            item = await _lot_item(ctx, label)
            scanning.on_template(item.code, on_template, kit.label)
            loose = await ctx.store.lot(item.id, label.lot_number, ctx.depot.id, None)
            if loose is None:
                raise NotFound("loose lot", f"{label.lot_number} at {ctx.depot.code}")
            scanning.fit_to_pack_lot(_as_lot(item, loose), ctx.today)
            quantity = scanning.enough(label.lot_number, ctx.cmd.quantity, loose.quantity)
            packed = await _move_lot(ctx, loose, quantity, kit=kit)
            ctx.touch(kit)
            refs = LedgerRefs(kit_id=kit.id, lot_id=packed.id)
            return _Applied(_lot_subject(item, label, ctx.depot), refs, quantity)
    raise _wrong_label(ctx, "unit", "lot")


async def _move_lot(ctx: _Context, source: LotRec, quantity: int, *, kit: KitRec | None) -> LotRec:
    """Move part of a lot between loose stock and a kit at the same depot."""
    target = await ctx.store.lot(
        source.item_type_id, source.lot_number, ctx.depot.id, kit.id if kit else None
    )
    await ctx.store.update_lot(source, quantity=source.quantity - quantity)
    if target is None:
        return await ctx.store.add_lot(
            item_type_id=source.item_type_id,
            lot_number=source.lot_number,
            quantity=quantity,
            depot_id=ctx.depot.id,
            kit_id=kit.id if kit else None,
            location_id=None if kit or ctx.location is None else ctx.location.id,
            condition=source.condition,
            expires_on=source.expires_on,
            next_inspection_on=source.next_inspection_on,
        )
    await ctx.store.update_lot(target, quantity=target.quantity + quantity)
    return target


async def _unpack(ctx: _Context) -> _Applied:
    match ctx.label:
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label, with_kit=True)
            if unit.kit_id is None:
                raise refuse("NOT_IN_KIT", f"unit {unit.serial} is not in a kit")
            kit = await _kit(ctx, kit_id=unit.kit_id)
            scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
            location_id = ctx.location.id if ctx.location else None
            await ctx.store.update_unit(unit, kit_id=None, location_id=location_id)
            ctx.touch(kit)
            refs = LedgerRefs(kit_id=kit.id, unit_id=unit.id)
            return _Applied(_unit_subject(item, unit, ctx.depot), refs, 1)
        case labels.LotLabel() as label:
            kit = await _kit_of_scan(ctx)
            scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
            item = await _lot_item(ctx, label)
            packed = await ctx.store.lot(item.id, label.lot_number, ctx.depot.id, kit.id)
            if packed is None:
                raise NotFound("lot", f"{label.lot_number} in kit {kit.label}")
            quantity = scanning.enough(label.lot_number, ctx.cmd.quantity, packed.quantity)
            loose = await _move_lot(ctx, packed, quantity, kit=None)
            ctx.touch(kit)
            refs = LedgerRefs(kit_id=kit.id, lot_id=loose.id)
            return _Applied(_lot_subject(item, label, ctx.depot), refs, quantity)
    raise _wrong_label(ctx, "unit", "lot")


async def _issue(ctx: _Context) -> _Applied:
    if not isinstance(ctx.label, labels.KitLabel):
        raise _wrong_label(ctx, "kit")
    kit = await _kit(ctx, giai=ctx.label.giai)
    if kit.state is not KitState.DEPLOYED and await ctx.store.pending_line(kit.id) is not None:
        raise refuse(
            "KIT_ON_TRANSFER",
            f"kit {kit.label} is on a transfer that has not arrived; issue it there, "
            "or take it off the transfer first",
        )
    template = await ctx.store.template(kit.template_id)
    assessment = assess(template.lines, await ctx.store.kit_contents(kit.id), ctx.today)
    if kit.state in ASSESSED_STATES and kit.state != assessment.state:
        await ctx.store.update_kit(kit, state=assessment.state)
    last = await ctx.store.last_issue(kit.id) if kit.state is KitState.DEPLOYED else None
    last_issue = f"scan {last[0]} by {last[1] or 'unknown'}" if last else ""
    scanning.may_issue(
        kit.label, kit.state, ctx.cmd.override_reason, assessment.shortfalls, last_issue
    )
    await ctx.store.update_kit(kit, state=KitState.DEPLOYED, location_id=None)
    return _Applied(await _kit_subject(ctx, kit), LedgerRefs(kit_id=kit.id), 1, kit=kit)


async def _return(ctx: _Context) -> _Applied:
    if not isinstance(ctx.label, labels.KitLabel):
        raise _wrong_label(ctx, "kit")
    kit = await _kit(ctx, giai=ctx.label.giai, here=False)
    scanning.may_return(kit.label, kit.state)
    location_id = ctx.location.id if ctx.location else None
    await ctx.store.update_kit(kit, depot_id=ctx.depot.id, location_id=location_id)
    await ctx.store.move_kit_contents(kit.id, ctx.depot.id)
    await _reassess(ctx, kit, force=True)
    return _Applied(await _kit_subject(ctx, kit), LedgerRefs(kit_id=kit.id), 1, kit=kit)


async def _kits_of_label(ctx: _Context) -> tuple[list[KitRec], TransferRec | None]:
    match ctx.label:
        case labels.KitLabel(giai):
            return [await _kit(ctx, giai=giai, here=False)], None
        case labels.ShipmentLabel(sscc):
            transfer = await ctx.store.transfer(sscc=sscc)
            if transfer is None:
                raise NotFound("transfer", sscc)
            kit_ids = await ctx.store.transfer_kits(transfer.id)
            return [await _kit(ctx, kit_id=k, here=False) for k in kit_ids], transfer
    raise _wrong_label(ctx, "kit", "shipment")


async def _transfer_out(ctx: _Context) -> _Applied:
    kits, shipment = await _kits_of_label(ctx)
    transfer = shipment
    moved = 0
    for kit in kits:
        line = await ctx.store.pending_line(kit.id)
        if shipment is not None and (line is None or line.shipped):
            continue  # already shipped, or arrived: the rest of the shipment goes
        if line is None or line.shipped:
            raise refuse("NO_OPEN_TRANSFER", f"kit {kit.label} is on no transfer waiting to leave")
        transfer = await ctx.store.transfer(transfer_id=line.transfer_id)
        assert transfer is not None
        if transfer.from_depot_id != ctx.depot.id:
            source = (await ctx.store.depot_by_id(transfer.from_depot_id)).code
            raise refuse("NO_OPEN_TRANSFER", f"kit {kit.label}'s transfer leaves from {source}")
        held_at = (await ctx.store.depot_by_id(kit.depot_id)).code
        scanning.at_this_depot("kit", kit.label, held_at, ctx.depot.code)
        scanning.kit_at_hand(kit.label, kit.state, ctx.cmd.action)
        await ctx.store.set_line(line.id, shipped=True)
        await ctx.store.update_kit(kit, state=KitState.IN_TRANSIT, location_id=None)
        moved += 1
    if transfer is None or moved == 0:
        raise refuse("NOTHING_TO_SHIP", "every kit of this shipment has already left")
    await ctx.store.update_transfer(transfer, state=TransferState.IN_TRANSIT)
    return await _moved(ctx, kits, shipment, transfer, moved)


async def _transfer_in(ctx: _Context) -> _Applied:
    kits, shipment = await _kits_of_label(ctx)
    transfer = shipment
    moved = 0
    for kit in kits:
        line = await ctx.store.pending_line(kit.id)
        if shipment is not None and (line is None or not line.shipped):
            continue
        if line is None or not line.shipped:
            raise refuse("NOT_IN_TRANSIT", f"kit {kit.label} is not on its way anywhere")
        transfer = await ctx.store.transfer(transfer_id=line.transfer_id)
        assert transfer is not None
        if transfer.to_depot_id != ctx.depot.id:
            target = (await ctx.store.depot_by_id(transfer.to_depot_id)).code
            raise refuse(
                "NOT_EXPECTED_HERE",
                f"kit {kit.label} is on its way to {target}",
                expected_at=target,
            )
        await ctx.store.set_line(line.id, received=True)
        location_id = ctx.location.id if ctx.location else None
        await ctx.store.update_kit(kit, depot_id=ctx.depot.id, location_id=location_id)
        await ctx.store.move_kit_contents(kit.id, ctx.depot.id)
        await _reassess(ctx, kit, force=True)
        moved += 1
    if transfer is None or moved == 0:
        raise refuse("NOTHING_TO_RECEIVE", "every kit of this shipment has already arrived")
    if await ctx.store.all_received(transfer.id):
        await ctx.store.update_transfer(
            transfer, state=TransferState.CLOSED, closed_at=await ctx.store.now()
        )
    return await _moved(ctx, kits, shipment, transfer, moved)


async def _moved(
    ctx: _Context,
    kits: list[KitRec],
    shipment: TransferRec | None,
    transfer: TransferRec,
    moved: int,
) -> _Applied:
    """The answer to a transfer scan: the shipment as a whole, or the one kit."""
    if shipment is not None:
        subject = Subject("SHIPMENT", transfer.sscc or "", depot_code=ctx.depot.code)
        return _Applied(subject, LedgerRefs(transfer_id=transfer.id), moved)
    kit = kits[0]
    refs = LedgerRefs(kit_id=kit.id, transfer_id=transfer.id)
    return _Applied(await _kit_subject(ctx, kit), refs, moved, kit=kit)


async def _count(ctx: _Context) -> _Applied:
    location = _need_bin(ctx)
    if not ctx.cmd.count_id:
        raise InvalidArgument([FieldViolation("scan.count_id", "COUNT needs the open count's id")])
    count = await ctx.store.count(ctx.cmd.count_id, share=True)
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
    subject = await _resolve(ctx.store, ctx.label)
    if subject.kind not in ("KIT", "UNIT", "LOT"):
        raise _wrong_label(ctx, "kit", "unit", "lot")
    quantity = ctx.cmd.quantity if subject.kind == "LOT" else 1
    return _Applied(subject, LedgerRefs(count_id=count.id), quantity)


async def _inspect(ctx: _Context, passed: bool) -> _Applied:
    match ctx.label:
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label, with_kit=True)
            kit = await _holding_kit(ctx, unit.kit_id)
            await _inspect_unit(ctx, item, unit, passed)
            if kit is not None:
                ctx.touch(kit)
            refs = LedgerRefs(kit_id=kit.id if kit else None, unit_id=unit.id)
            return _Applied(_unit_subject(item, unit, ctx.depot), refs, 1)
        case labels.LotLabel() as label:
            item = await _lot_item(ctx, label)
            lots = await ctx.store.lots_at_depot(item.id, label.lot_number, ctx.depot.id)
            if not lots:
                raise NotFound("lot", f"{label.lot_number} at {ctx.depot.code}")
            for lot in lots:
                holder = await _holding_kit(ctx, lot.kit_id)
                await _inspect_lot(ctx, item, lot, passed)
                if holder is not None:
                    ctx.touch(holder)
            quantity = sum(lot.quantity for lot in lots)
            subject = _lot_subject(item, label, ctx.depot)
            return _Applied(subject, LedgerRefs(lot_id=lots[0].id), quantity)
    raise _wrong_label(ctx, "unit", "lot")


async def _inspect_unit(ctx: _Context, item: ItemRef, unit: UnitRec, passed: bool) -> None:
    if unit.condition in (Condition.EXPIRED, Condition.LOST):
        raise refuse(f"UNIT_{unit.condition.value}", f"unit {unit.serial} is {unit.condition}")
    if not passed:
        await ctx.store.update_unit(
            unit, last_inspected_on=ctx.today, condition=Condition.QUARANTINED
        )
        return
    if unit.expires_on is not None and unit.expires_on <= ctx.today:
        raise refuse("UNIT_EXPIRED", f"unit {unit.serial} expired on {unit.expires_on}")
    await ctx.store.update_unit(
        unit,
        last_inspected_on=ctx.today,
        next_inspection_on=_days(ctx.today, item.inspection_interval_days),
        condition=Condition.SERVICEABLE,
    )


async def _inspect_lot(ctx: _Context, item: ItemRef, lot: LotRec, passed: bool) -> None:
    if not passed:
        await ctx.store.update_lot(lot, condition=Condition.QUARANTINED)
        return
    if lot.expires_on is not None and lot.expires_on <= ctx.today:
        raise refuse("LOT_EXPIRED", f"lot {lot.lot_number} expired on {lot.expires_on}")
    await ctx.store.update_lot(
        lot,
        next_inspection_on=_days(ctx.today, item.inspection_interval_days),
        condition=Condition.SERVICEABLE,
    )


async def _inspect_pass(ctx: _Context) -> _Applied:
    return await _inspect(ctx, passed=True)


async def _inspect_fail(ctx: _Context) -> _Applied:
    return await _inspect(ctx, passed=False)


async def _retire(ctx: _Context) -> _Applied:
    match ctx.label:
        case labels.KitLabel(giai):
            kit = await _kit(ctx, giai=giai)
            scanning.may_retire_kit(kit.label, kit.state)
            contents = await ctx.store.kit_contents(kit.id)
            if contents.units or contents.lots:
                raise refuse(
                    "KIT_NOT_EMPTY",
                    f"kit {kit.label} still holds {len(contents.units)} units and "
                    f"{len(contents.lots)} lots; unpack them first",
                )
            await ctx.store.update_kit(kit, state=KitState.RETIRED)
            return _Applied(await _kit_subject(ctx, kit), LedgerRefs(kit_id=kit.id), 1, kit=kit)
        case labels.UnitLabel() as label:
            item, unit = await _known_unit(ctx, label, with_kit=True)
            held_in = await _holding_kit(ctx, unit.kit_id)
            await ctx.store.update_unit(unit, retired_on=ctx.today, kit_id=None, location_id=None)
            if held_in is not None:
                ctx.touch(held_in)
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
