"""Transfers and stock counts: the rows they read and write (ORM), and their change-feed rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.paging import Page
from services.inventory.adapters.orm import (
    ChangeRow,
    CountRow,
    DepotRow,
    DiscrepancyRow,
    ItemTypeRow,
    KitRow,
    LocationRow,
    LotRow,
    ScanRow,
    TransferLineRow,
    TransferRow,
    UnitRow,
)
from services.inventory.domain import labels
from services.inventory.domain.model import Condition, KitState, ScanAction, TransferState


@dataclass(frozen=True)
class CountedScan:
    kind: str
    item_type_code: str
    key: str
    bin_label: str
    location_id: int | None
    quantity: int
    operator: str


@dataclass(frozen=True)
class OnRecord:
    kind: str
    key: str
    item_type_code: str
    bin_label: str
    quantity: int
    row_id: int


_AT_HAND = [KitState.READY, KitState.INCOMPLETE, KitState.IN_MAINTENANCE]


@dataclass
class MovementRepository:
    session: AsyncSession

    # ---------------------------------------------------------------- ledger
    def change(
        self,
        *,
        kind: str,
        key: str,
        depot_code: str,
        action: ScanAction | None = None,
        scan_id: str = "",
        kit_label: str = "",
        kit_state: KitState | None = None,
    ) -> None:
        self.session.add(
            ChangeRow(
                kind=kind,
                key=key,
                depot_code=depot_code,
                action=action.value if action else "",
                scan_id=scan_id,
                kit_label=kit_label,
                kit_state=kit_state.value if kit_state else "",
            )
        )

    # ---------------------------------------------------------------- lookups (locked)
    async def depot(self, code: str) -> DepotRow | None:
        return await self.session.scalar(select(DepotRow).where(DepotRow.code == code))

    async def depot_by_id(self, depot_id: int) -> DepotRow:
        found = await self.session.get(DepotRow, depot_id)
        assert found is not None
        return found

    async def pending_line(self, kit_id: int) -> TransferLineRow | None:
        """The kit's line on a transfer that has not arrived."""
        return await self.session.scalar(
            select(TransferLineRow)
            .where(TransferLineRow.kit_id == kit_id, TransferLineRow.received.is_(False))
            .with_for_update(of=TransferLineRow)
        )

    async def transfer_by_sscc(self, sscc: str) -> TransferRow | None:
        return await self.session.scalar(
            select(TransferRow).where(TransferRow.sscc == sscc).with_for_update(of=TransferRow)
        )

    # ---------------------------------------------------------------- projection
    async def transaction_time(self) -> datetime:
        return (await self.session.execute(select(func.now()))).scalar_one()

    async def flush(self) -> None:
        await self.session.flush()

    # ---------------------------------------------------------------- transfers
    async def kit_by_label(self, label: str, *, lock: bool = True) -> KitRow | None:
        query = select(KitRow).where(KitRow.label == label)
        return await self.session.scalar(query.with_for_update(of=KitRow) if lock else query)

    async def add_transfer(
        self, source: DepotRow, target: DepotRow, kits: Sequence[KitRow], reason: str
    ) -> TransferRow:
        row = TransferRow(
            from_depot=source, to_depot=target, state=TransferState.OPEN, reason=reason
        )
        row.lines = [TransferLineRow(kit=kit) for kit in kits]
        self.session.add(row)
        await self.session.flush()
        return row

    async def transfer_with_lines(self, transfer_id: int) -> TransferRow:
        await self.session.flush()
        found = await self.session.get(TransferRow, transfer_id, populate_existing=True)
        assert found is not None
        return found

    async def list_transfers(
        self, page: Page, depot_id: int | None, state: TransferState | None
    ) -> tuple[list[TransferRow], str | None]:
        query = select(TransferRow).order_by(TransferRow.id).limit(page.size + 1)
        if page.after_key and page.after_key.isdigit():
            query = query.where(TransferRow.id > int(page.after_key))
        if depot_id is not None:
            query = query.where(
                (TransferRow.from_depot_id == depot_id) | (TransferRow.to_depot_id == depot_id)
            )
        if state is not None:
            query = query.where(TransferRow.state == state)
        rows = list((await self.session.scalars(query)).unique())
        next_key = str(rows[page.size - 1].id) if len(rows) > page.size else None
        return rows[: page.size], next_key

    # ---------------------------------------------------------------- counts
    async def zones(self, depot_id: int) -> set[str]:
        rows = await self.session.scalars(
            select(LocationRow.zone).where(LocationRow.depot_id == depot_id).distinct()
        )
        return {z for z in rows if z}

    async def open_count(self, depot_id: int, zone: str) -> CountRow | None:
        return await self.session.scalar(
            select(CountRow).where(
                CountRow.depot_id == depot_id, CountRow.zone == zone, CountRow.open.is_(True)
            )
        )

    async def add_count(self, depot: DepotRow, zone: str, count_id: str, operator: str) -> CountRow:
        row = CountRow(depot=depot, zone=zone, count_id=count_id, started_by=operator, open=True)
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row, ["started_at"])
        return row

    async def count_for_update(self, count_id: str) -> CountRow | None:
        return await self.session.scalar(
            select(CountRow).where(CountRow.count_id == count_id).with_for_update(of=CountRow)
        )

    async def counted(self, count_row_id: int) -> list[CountedScan]:
        """The count's scans in order, each named as (kind, item type, key)."""
        rows = (
            await self.session.execute(
                select(ScanRow, LocationRow.label)
                .join(LocationRow, LocationRow.id == ScanRow.location_id, isouter=True)
                .where(ScanRow.count_id == count_row_id)
                .order_by(ScanRow.seq)
            )
        ).all()
        out = []
        for scan, bin_label in rows:
            named = await self._name_of(scan.code)
            if named is not None:
                kind, item_code, key = named
                out.append(
                    CountedScan(
                        kind,
                        item_code,
                        key,
                        bin_label or "",
                        scan.location_id,
                        scan.quantity,
                        scan.operator,
                    )
                )
        return out

    async def _name_of(self, code: str) -> tuple[str, str, str] | None:
        try:
            label = labels.parse(code)
        except labels.LabelError:
            return None
        match label:
            case labels.KitLabel(giai):
                kit = await self.session.scalar(select(KitRow.label).where(KitRow.giai == giai))
                return ("KIT", "", kit) if kit else ("KIT", "", giai)
            case labels.UnitLabel(gtin, serial):
                return ("UNIT", await self._item_code(gtin), serial)
            case labels.LotLabel(gtin, lot_number, _):
                return ("LOT", await self._item_code(gtin), lot_number)
        return None

    async def _item_code(self, gtin: str) -> str:
        code = await self.session.scalar(select(ItemTypeRow.code).where(ItemTypeRow.gtin == gtin))
        return code or gtin

    async def on_record(self, depot_id: int, zone: str) -> dict[tuple[str, str, str], OnRecord]:
        """What the records say is at the depot (in the zone), outside kits but kits themselves."""
        found: dict[tuple[str, str, str], OnRecord] = {}

        def in_zone(query):
            return query.where(LocationRow.zone == zone) if zone else query

        kits = await self.session.execute(
            in_zone(
                select(KitRow.id, KitRow.label, LocationRow.label)
                .join(LocationRow, LocationRow.id == KitRow.location_id, isouter=not zone)
                .where(KitRow.depot_id == depot_id, KitRow.state.in_(_AT_HAND))
            )
        )
        for kit_id, label, bin_label in kits:
            found[("KIT", "", label)] = OnRecord("KIT", label, "", bin_label or "", 1, kit_id)
        units = await self.session.execute(
            in_zone(
                select(UnitRow.id, UnitRow.serial, ItemTypeRow.code, LocationRow.label)
                .join(ItemTypeRow, ItemTypeRow.id == UnitRow.item_type_id)
                .join(LocationRow, LocationRow.id == UnitRow.location_id, isouter=not zone)
                .where(
                    UnitRow.depot_id == depot_id,
                    UnitRow.kit_id.is_(None),
                    UnitRow.retired_on.is_(None),
                    UnitRow.condition != Condition.LOST,
                )
            )
        )
        for unit_id, serial, item_code, bin_label in units:
            found[("UNIT", item_code, serial)] = OnRecord(
                "UNIT", serial, item_code, bin_label or "", 1, unit_id
            )
        lots = await self.session.execute(
            in_zone(
                select(
                    LotRow.id,
                    LotRow.lot_number,
                    ItemTypeRow.code,
                    LocationRow.label,
                    LotRow.quantity,
                )
                .join(ItemTypeRow, ItemTypeRow.id == LotRow.item_type_id)
                .join(LocationRow, LocationRow.id == LotRow.location_id, isouter=not zone)
                .where(LotRow.depot_id == depot_id, LotRow.kit_id.is_(None), LotRow.quantity > 0)
            )
        )
        for lot_id, number, item_code, bin_label, quantity in lots:
            found.setdefault(
                ("LOT", item_code, number),
                OnRecord("LOT", number, item_code, bin_label or "", quantity, lot_id),
            )
        return found

    async def set_unit_condition(self, unit_id: int, condition: Condition) -> None:
        await self.session.execute(
            update(UnitRow).where(UnitRow.id == unit_id).values(condition=condition)
        )

    async def set_lot_quantity(self, lot_id: int, quantity: int) -> None:
        await self.session.execute(
            update(LotRow).where(LotRow.id == lot_id).values(quantity=quantity)
        )

    async def set_bin(self, kind: str, row_id: int, location_id: int | None) -> None:
        table: type[KitRow] | type[UnitRow] | type[LotRow] = {
            "KIT": KitRow,
            "UNIT": UnitRow,
            "LOT": LotRow,
        }[kind]  # type: ignore[assignment]
        await self.session.execute(
            update(table).where(table.id == row_id).values(location_id=location_id)
        )

    async def unit_by_code(self, item_type_code: str, serial: str) -> UnitRow | None:
        return await self.session.scalar(
            select(UnitRow)
            .join(ItemTypeRow, ItemTypeRow.id == UnitRow.item_type_id)
            .where(ItemTypeRow.code == item_type_code, UnitRow.serial == serial)
        )

    async def close_count(self, row: CountRow, operator: str, found: Sequence[object]) -> None:
        row.open, row.closed_by = False, operator
        row.closed_at = await self.transaction_time()
        self.session.add_all(
            [
                DiscrepancyRow(
                    count_id=row.id,
                    kind=d.kind.value,  # type: ignore[attr-defined]
                    subject_kind=d.subject_kind,  # type: ignore[attr-defined]
                    subject_key=d.key,  # type: ignore[attr-defined]
                    item_type_code=d.item_type_code,  # type: ignore[attr-defined]
                    expected_bin=d.expected_bin,  # type: ignore[attr-defined]
                    counted_bin=d.counted_bin,  # type: ignore[attr-defined]
                    adjustment=d.adjustment,  # type: ignore[attr-defined]
                )
                for d in found
            ]
        )
        await self.session.flush()
