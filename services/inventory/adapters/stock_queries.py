"""Read-only queries over stock, the ledger and the change feed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, literal, or_, select, text, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.common.paging import Page
from services.inventory.adapters.orm import (
    ChangeRow,
    CountRow,
    DepotRow,
    ItemTypeRow,
    KitRow,
    LocationRow,
    LotRow,
    ScanRow,
    UnitRow,
)
from services.inventory.domain.model import Change, Condition


@dataclass(frozen=True)
class StockItemView:
    kind: str  # UNIT or LOT
    key: str
    item_type_code: str
    gtin: str
    depot_code: str
    kit_label: str
    bin_label: str
    quantity: int
    expires_on: date | None
    next_inspection_on: date | None
    condition: Condition


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    scan_id: str
    action: str
    code: str
    depot_code: str
    bin_label: str
    quantity: int
    operator: str
    device: str
    device_time: datetime | None
    override_reason: str
    count_id: str
    recorded_at: datetime
    result: bytes
    recorded_by: str = ""
    request_id: str = ""


_LAST_ID = 10**18 - 1  # above any change id: "after everything of that transaction"


def _cursor(txid: int, change_id: int) -> str:
    return f"{txid}.{change_id}"


def parse_cursor(cursor: str) -> tuple[int, int] | None:
    txid, _, change_id = cursor.partition(".")
    if not (txid.isascii() and txid.isdigit() and change_id.isascii() and change_id.isdigit()):
        return None
    if len(txid) > 18 or len(change_id) > 18:
        return None
    return int(txid), int(change_id)


@dataclass
class StockQueries:
    session: AsyncSession

    async def _stock(
        self,
        depot_id: int,
        date_of_unit: InstrumentedAttribute[date | None],
        date_of_lot: InstrumentedAttribute[date | None],
        until: date,
        page: Page,
        *,
        never_inspected: bool = False,
    ) -> tuple[list[StockItemView], str | None]:
        offset = int(page.after_key) if page.after_key and page.after_key.isdigit() else 0
        units = (
            select(
                literal("UNIT").label("kind"),
                UnitRow.serial.label("key"),
                ItemTypeRow.code.label("item"),
                ItemTypeRow.gtin.label("gtin"),
                KitRow.label.label("kit"),
                LocationRow.label.label("bin"),
                literal(1).label("quantity"),
                UnitRow.expires_on.label("expires_on"),
                UnitRow.next_inspection_on.label("next_inspection_on"),
                UnitRow.condition.label("condition"),
                date_of_unit.label("due"),
            )
            .join(ItemTypeRow, ItemTypeRow.id == UnitRow.item_type_id)
            .join(KitRow, KitRow.id == UnitRow.kit_id, isouter=True)
            .join(LocationRow, LocationRow.id == UnitRow.location_id, isouter=True)
            .where(
                UnitRow.depot_id == depot_id,
                UnitRow.retired_on.is_(None),
                UnitRow.condition != Condition.LOST,
                or_(
                    date_of_unit <= until,
                    and_(
                        literal(never_inspected),
                        date_of_unit.is_(None),
                        ItemTypeRow.inspection_interval_days.is_not(None),
                    ),
                ),
            )
        )
        lots = (
            select(
                literal("LOT").label("kind"),
                LotRow.lot_number.label("key"),
                ItemTypeRow.code.label("item"),
                ItemTypeRow.gtin.label("gtin"),
                KitRow.label.label("kit"),
                LocationRow.label.label("bin"),
                LotRow.quantity.label("quantity"),
                LotRow.expires_on.label("expires_on"),
                LotRow.next_inspection_on.label("next_inspection_on"),
                LotRow.condition.label("condition"),
                date_of_lot.label("due"),
            )
            .join(ItemTypeRow, ItemTypeRow.id == LotRow.item_type_id)
            .join(KitRow, KitRow.id == LotRow.kit_id, isouter=True)
            .join(LocationRow, LocationRow.id == LotRow.location_id, isouter=True)
            .where(LotRow.depot_id == depot_id, LotRow.quantity > 0, date_of_lot <= until)
        )
        both = union_all(units, lots).subquery()
        rows = (
            await self.session.execute(
                select(both)
                .order_by(both.c.due.asc().nullsfirst(), both.c.item, both.c.key)
                .offset(offset)
                .limit(page.size + 1)
            )
        ).all()
        depot = await self.session.get(DepotRow, depot_id)
        items = [
            StockItemView(
                r.kind,
                r.key,
                r.item,
                r.gtin or "",
                depot.code if depot else "",
                r.kit or "",
                r.bin or "",
                r.quantity,
                r.expires_on,
                r.next_inspection_on,
                Condition(r.condition),
            )
            for r in rows[: page.size]
        ]
        next_key = str(offset + page.size) if len(rows) > page.size else None
        return items, next_key

    async def expiring(
        self, depot_id: int, until: date, page: Page
    ) -> tuple[list[StockItemView], str | None]:
        return await self._stock(depot_id, UnitRow.expires_on, LotRow.expires_on, until, page)

    async def inspections_due(
        self, depot_id: int, until: date, page: Page
    ) -> tuple[list[StockItemView], str | None]:
        """Due by `until`; units of inspected types never inspected come first (no date)."""
        return await self._stock(
            depot_id,
            UnitRow.next_inspection_on,
            LotRow.next_inspection_on,
            until,
            page,
            never_inspected=True,
        )

    async def history(
        self,
        page: Page,
        kit_id: int | None = None,
        unit_id: int | None = None,
        lot_ids: Sequence[int] = (),
    ) -> tuple[list[LedgerEntry], str | None]:
        query = (
            select(ScanRow, DepotRow.code, LocationRow.label)
            .join(DepotRow, DepotRow.id == ScanRow.depot_id)
            .join(LocationRow, LocationRow.id == ScanRow.location_id, isouter=True)
            .order_by(ScanRow.seq.desc())
            .limit(page.size + 1)
        )
        if kit_id is not None:
            query = query.where(ScanRow.kit_id == kit_id)
        elif unit_id is not None:
            query = query.where(ScanRow.unit_id == unit_id)
        else:
            query = query.where(ScanRow.lot_id.in_(lot_ids or [-1]))
        if page.after_key and page.after_key.isdigit():
            query = query.where(ScanRow.seq < int(page.after_key))
        rows = (await self.session.execute(query)).all()
        counts = await self._count_ids({r[0].count_id for r in rows if r[0].count_id})
        entries = [
            LedgerEntry(
                s.seq,
                s.scan_id,
                s.action.value,
                s.code,
                depot_code,
                bin_label or "",
                s.quantity,
                s.operator,
                s.device,
                s.device_time,
                s.override_reason,
                counts.get(s.count_id or 0, ""),
                s.recorded_at,
                s.result,
                s.recorded_by,
                s.request_id,
            )
            for s, depot_code, bin_label in rows[: page.size]
        ]
        next_key = str(entries[-1].seq) if len(rows) > page.size else None
        return entries, next_key

    async def _count_ids(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await self.session.execute(
            select(CountRow.id, CountRow.count_id).where(CountRow.id.in_(ids))
        )
        return {row_id: count_id for row_id, count_id in rows}

    async def lot_ids(self, item_type_id: int, lot_number: str) -> list[int]:
        rows = await self.session.scalars(
            select(LotRow.id).where(
                LotRow.item_type_id == item_type_id, LotRow.lot_number == lot_number
            )
        )
        return list(rows)

    # ---------------------------------------------------------------- change feed
    async def head(self) -> str:
        """A cursor for "from now": after every transaction older than all running ones.

        A transaction still running now (it may commit later, with changes made
        before "now") sorts after this cursor, so it is delivered, not skipped.
        """
        horizon = (
            await self.session.execute(
                text("SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")
            )
        ).scalar_one()
        return _cursor(horizon - 1, _LAST_ID)

    async def changes_after(self, after: tuple[int, int], limit: int) -> list[Change]:
        """Committed changes after the cursor, in an order no later commit can precede.

        Only transactions older than every transaction still running are read
        (txid below the snapshot's xmin), so a change that commits later always
        sorts after everything already delivered.
        """
        horizon = text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")
        rows = await self.session.scalars(
            select(ChangeRow)
            .where(
                tuple_(ChangeRow.txid, ChangeRow.id) > tuple_(*after),
                ChangeRow.txid < horizon,
            )
            .order_by(ChangeRow.txid, ChangeRow.id)
            .limit(limit)
        )
        return [
            Change(
                _cursor(r.txid, r.id),
                r.kind,
                r.key,
                r.depot_code,
                r.action,
                r.scan_id,
                r.kit_label,
                r.kit_state,
                r.created_at,
            )
            for r in rows
        ]
