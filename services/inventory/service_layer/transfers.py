"""Transfers: kits moving between depots, opened here and closed by the scans at both ends."""

from __future__ import annotations

from services.common.errors import FieldViolation, InvalidArgument, NotFound
from services.common.paging import Page, PageOf
from services.inventory.adapters.orm import TransferRow
from services.inventory.domain import commands, labels, model, scanning
from services.inventory.domain.model import TransferState
from services.inventory.service_layer.unit_of_work import UnitOfWork

MAX_KITS = 200


def to_transfer(row: TransferRow) -> model.Transfer:
    return model.Transfer(
        sscc=row.sscc or "",
        from_depot_code=row.from_depot.code,
        to_depot_code=row.to_depot.code,
        state=row.state,
        lines=tuple(
            model.TransferLine(line.kit.label, line.shipped, line.received) for line in row.lines
        ),
        reason=row.reason,
        created_at=row.created_at,
        closed_at=row.closed_at,
    )


async def create_transfer(cmd: commands.CreateTransfer, uow: UnitOfWork) -> model.Transfer:
    if cmd.from_depot_code == cmd.to_depot_code:
        raise InvalidArgument([FieldViolation("to_depot_code", "a transfer goes to another depot")])
    source = await uow.movements.depot(cmd.from_depot_code)
    target = await uow.movements.depot(cmd.to_depot_code)
    if source is None:
        raise NotFound("depot", cmd.from_depot_code)
    if target is None:
        raise NotFound("depot", cmd.to_depot_code)
    kits = []
    for label in cmd.kit_labels:
        kit = await uow.movements.kit_by_label(label)
        if kit is None:
            raise NotFound("kit", label)
        scanning.at_this_depot("kit", label, kit.depot.code, source.code)
        scanning.kit_at_hand(label, kit.state, model.ScanAction.TRANSFER_OUT)
        if await uow.movements.pending_line(kit.id) is not None:
            raise scanning.refuse("KIT_ON_TRANSFER", f"kit {label} is already on a transfer")
        kits.append(kit)
    row = await uow.movements.add_transfer(source, target, kits, cmd.reason)
    row.sscc = labels.sscc_for(row.id)
    await uow.movements.flush()
    uow.movements.change(kind="TRANSFER", key=row.sscc, depot_code=source.code)
    return to_transfer(await uow.movements.transfer_with_lines(row.id))


async def get_transfer(sscc: str, uow: UnitOfWork) -> model.Transfer:
    row = await uow.movements.transfer_by_sscc(sscc)
    if row is None:
        raise NotFound("transfer", sscc)
    return to_transfer(await uow.movements.transfer_with_lines(row.id))


async def list_transfers(
    page: Page, depot_code: str | None, state: TransferState | None, uow: UnitOfWork
) -> PageOf[model.Transfer]:
    depot_id = None
    if depot_code:
        depot = await uow.movements.depot(depot_code)
        if depot is None:
            raise NotFound("depot", depot_code)
        depot_id = depot.id
    rows, next_key = await uow.movements.list_transfers(page, depot_id, state)
    return PageOf([to_transfer(r) for r in rows], next_key)


def unique_labels(labels_: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for i, label in enumerate(labels_):
        if label in seen:
            raise InvalidArgument([FieldViolation(f"kit_labels[{i}]", f"{label} twice")])
        seen.add(label)
    if not labels_:
        raise InvalidArgument([FieldViolation("kit_labels", "name at least one kit")])
    if len(labels_) > MAX_KITS:
        raise InvalidArgument([FieldViolation("kit_labels", f"at most {MAX_KITS} kits")])
