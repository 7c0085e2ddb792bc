"""Every kit with its contents in one snapshot, with the change-feed cursor it is consistent with.

Runs in a REPEATABLE READ, read-only transaction: the head cursor and the
rows come from the same snapshot, so every change that commits after it sorts
after the cursor and reaches a consumer that follows the feed from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.inventory.adapters.orm import (
    DepotRow,
    ItemTypeRow,
    KitRow,
    KitTemplateRow,
    LotRow,
    UnitRow,
)
from services.inventory.adapters.stock_queries import StockQueries
from services.inventory.domain import model
from services.inventory.domain.model import KitState


@dataclass(frozen=True)
class KitExport:
    cursor: str
    kits: list[tuple[model.Kit, model.KitContents]]


async def _kits(session: AsyncSession) -> dict[int, model.Kit]:
    rows = await session.execute(
        select(
            KitRow.id,
            KitRow.label,
            KitTemplateRow.code,
            KitTemplateRow.version,
            KitTemplateRow.category,
            DepotRow.code,
            KitRow.state,
            KitRow.giai,
        )
        .join(KitTemplateRow, KitTemplateRow.id == KitRow.template_id)
        .join(DepotRow, DepotRow.id == KitRow.depot_id)
        .where(KitRow.state != KitState.RETIRED)
        .order_by(KitRow.id)
    )
    return {r[0]: model.Kit(r[1], r[2], r[3], r[4], r[5], r[6], giai=r[7]) for r in rows}


async def _units(session: AsyncSession) -> dict[int | None, list[model.Unit]]:
    rows = await session.execute(
        select(
            UnitRow.kit_id,
            ItemTypeRow.code,
            UnitRow.serial,
            UnitRow.condition,
            UnitRow.expires_on,
            UnitRow.last_inspected_on,
            UnitRow.next_inspection_on,
        )
        .join(ItemTypeRow, ItemTypeRow.id == UnitRow.item_type_id)
        .where(UnitRow.kit_id.is_not(None), UnitRow.retired_on.is_(None))
        .order_by(UnitRow.id)
    )
    found: dict[int | None, list[model.Unit]] = {}
    for kit_id, item, serial, condition, expires, inspected, next_due in rows:
        unit = model.Unit(item, serial, condition, expires, inspected, next_due)
        found.setdefault(kit_id, []).append(unit)
    return found


async def _lots(session: AsyncSession) -> dict[int | None, list[model.Lot]]:
    rows = await session.execute(
        select(
            LotRow.kit_id,
            ItemTypeRow.code,
            LotRow.quantity,
            LotRow.lot_number,
            LotRow.expires_on,
            LotRow.next_inspection_on,
            LotRow.condition,
        )
        .join(ItemTypeRow, ItemTypeRow.id == LotRow.item_type_id)
        .where(LotRow.kit_id.is_not(None), LotRow.quantity > 0)
        .order_by(LotRow.id)
    )
    found: dict[int | None, list[model.Lot]] = {}
    for kit_id, item, quantity, lot_number, expires, next_due, condition in rows:
        lot = model.Lot(item, quantity, lot_number, expires, next_due, condition)
        found.setdefault(kit_id, []).append(lot)
    return found


async def export_kits(session: AsyncSession) -> KitExport:
    await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    cursor = await StockQueries(session).head()
    kits, units, lots = await _kits(session), await _units(session), await _lots(session)
    return KitExport(
        cursor,
        [
            (kit, model.KitContents(tuple(units.get(i, ())), tuple(lots.get(i, ()))))
            for i, kit in kits.items()
        ],
    )
