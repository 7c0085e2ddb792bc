"""What depot staff and consumers ask of the stock: expiring, due, history, changes."""

from __future__ import annotations

from datetime import date, timedelta

from services.common.errors import FieldViolation, InvalidArgument, NotFound
from services.common.paging import Page, PageOf
from services.inventory.adapters.stock_queries import LedgerEntry, StockItemView, parse_cursor
from services.inventory.domain import labels, model
from services.inventory.domain.scanning import Subject
from services.inventory.service_layer.scanning import resolve
from services.inventory.service_layer.unit_of_work import UnitOfWork


async def _depot_id(uow: UnitOfWork, code: str) -> int:
    depot = await uow.movements.depot(code)
    if depot is None:
        raise NotFound("depot", code)
    return depot.id


async def list_expiring(
    depot_code: str, within_days: int, page: Page, today: date, uow: UnitOfWork
) -> PageOf[StockItemView]:
    until = today + timedelta(days=within_days)
    items, next_key = await uow.queries.expiring(await _depot_id(uow, depot_code), until, page)
    return PageOf(items, next_key)


async def list_inspections_due(
    depot_code: str, within_days: int, page: Page, today: date, uow: UnitOfWork
) -> PageOf[StockItemView]:
    until = today + timedelta(days=within_days)
    depot_id = await _depot_id(uow, depot_code)
    items, next_key = await uow.queries.inspections_due(depot_id, until, page)
    return PageOf(items, next_key)


async def get_history(
    code: str, page: Page, uow: UnitOfWork
) -> tuple[Subject, PageOf[LedgerEntry], list[model.AuditEntry]]:
    """Every scan of one kit, unit or lot, newest first, and (first page) the other changes
    that named it; a kit may be named by its printed label."""
    subject, found = await _scans(code, page, uow)
    audit = await uow.repo.audit_of(subject.key) if page.after_key is None else []
    return subject, found, audit


async def _scans(code: str, page: Page, uow: UnitOfWork) -> tuple[Subject, PageOf[LedgerEntry]]:
    try:
        label = labels.parse(code)
    except labels.LabelError as error:
        printed = await uow.movements.kit_by_label(code, lock=False)
        if printed is None:  # neither a kit's printed label nor a GS1 label
            violation = FieldViolation("code", f"{error.reason}: {error.message}")
            raise InvalidArgument([violation]) from None
        entries, next_key = await uow.queries.history(page, kit_id=printed.id)
        subject = Subject("KIT", printed.label, depot_code=printed.depot.code)
        return subject, PageOf(entries, next_key)
    subject = await resolve(code, uow)
    store = await uow.scan_store()
    match label:
        case labels.KitLabel(giai):
            kit = await store.kit(giai=giai, lock=False)
            assert kit is not None
            entries, next_key = await uow.queries.history(page, kit_id=kit.id)
        case labels.UnitLabel(gtin, serial):
            item = await store.item_by_gtin(gtin)
            unit = await store.unit(item.id, serial, lock=False) if item else None
            if unit is None:
                raise NotFound("unit", serial)
            entries, next_key = await uow.queries.history(page, unit_id=unit.id)
        case labels.LotLabel(gtin, lot_number, _):
            item = await store.item_by_gtin(gtin)
            lot_ids = await uow.queries.lot_ids(item.id, lot_number) if item else []
            if not lot_ids:
                raise NotFound("lot", lot_number)
            entries, next_key = await uow.queries.history(page, lot_ids=lot_ids)
        case _:
            raise InvalidArgument(
                [FieldViolation("code", "name a kit, unit or lot: bins and shipments keep none")]
            )
    return subject, PageOf(entries, next_key)


async def changes_after(cursor: str, limit: int, uow: UnitOfWork) -> list[model.Change]:
    after = parse_cursor(cursor) if cursor else (0, 0)
    if after is None:
        raise InvalidArgument([FieldViolation("cursor", "is not a cursor this feed gave out")])
    return await uow.queries.changes_after(after, limit)


async def head(uow: UnitOfWork) -> str:
    return await uow.queries.head()
