"""Rows a scan reads (under row locks) and writes: projection, ledger, change feed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.inventory.adapters.orm import (
    ChangeRow,
    CountRow,
    DepotRow,
    ItemTypeRow,
    KitRow,
    LocationRow,
    LotRow,
    ScanRow,
    TransferLineRow,
    TransferRow,
    UnitRow,
)
from services.inventory.domain import commands
from services.inventory.domain.model import Condition, KitState, ScanAction


@dataclass(frozen=True)
class StoredScan:
    scan_id: str
    payload: bytes
    seq: int
    recorded_at: datetime


@dataclass(frozen=True)
class LedgerRefs:
    """The rows a scan touched, kept on its ledger row for history queries."""

    location_id: int | None = None
    kit_id: int | None = None
    unit_id: int | None = None
    lot_id: int | None = None
    transfer_id: int | None = None
    count_id: int | None = None


@dataclass
class ScanRepository:
    session: AsyncSession

    # ---------------------------------------------------------------- ledger
    async def stored(self, scan_id: str) -> StoredScan | None:
        row = await self.session.scalar(select(ScanRow).where(ScanRow.scan_id == scan_id))
        if row is None:
            return None
        return StoredScan(row.scan_id, row.result, row.seq, row.recorded_at)

    async def record(
        self,
        cmd: commands.RecordScan,
        depot: DepotRow,
        refs: LedgerRefs,
        quantity: int,
        payload: bytes,
    ) -> StoredScan:
        row = ScanRow(
            scan_id=cmd.scan_id,
            action=cmd.action,
            code=cmd.code,
            depot_id=depot.id,
            location_id=refs.location_id,
            kit_id=refs.kit_id,
            unit_id=refs.unit_id,
            lot_id=refs.lot_id,
            transfer_id=refs.transfer_id,
            count_id=refs.count_id,
            quantity=quantity,
            operator=cmd.operator,
            device=cmd.device,
            device_time=cmd.device_time,
            override_reason=cmd.override_reason,
            result=payload,
        )
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row, ["seq", "recorded_at"])
        return StoredScan(row.scan_id, payload, row.seq, row.recorded_at)

    async def last_scan(self, kit_id: int, action: ScanAction) -> ScanRow | None:
        return await self.session.scalar(
            select(ScanRow)
            .where(ScanRow.kit_id == kit_id, ScanRow.action == action)
            .order_by(ScanRow.seq.desc())
            .limit(1)
        )

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

    async def bin(self, depot_id: int, label: str) -> LocationRow | None:
        return await self.session.scalar(
            select(LocationRow).where(LocationRow.depot_id == depot_id, LocationRow.label == label)
        )

    async def item_type_by_gtin(self, gtin: str) -> ItemTypeRow | None:
        return await self.session.scalar(select(ItemTypeRow).where(ItemTypeRow.gtin == gtin))

    async def kit(self, giai: str) -> KitRow | None:
        return await self.session.scalar(
            select(KitRow).where(KitRow.giai == giai).with_for_update(of=KitRow)
        )

    async def kit_by_id(self, kit_id: int) -> KitRow:
        found = await self.session.scalar(
            select(KitRow).where(KitRow.id == kit_id).with_for_update(of=KitRow)
        )
        assert found is not None
        return found

    async def unit(self, item_type_id: int, serial: str) -> UnitRow | None:
        return await self.session.scalar(
            select(UnitRow)
            .where(UnitRow.item_type_id == item_type_id, UnitRow.serial == serial)
            .with_for_update(of=UnitRow)
        )

    async def lot(
        self, item_type_id: int, lot_number: str, depot_id: int, kit_id: int | None
    ) -> LotRow | None:
        """The lot's stock at one place: loose at a depot (kit_id None) or in a kit."""
        query = select(LotRow).where(
            LotRow.item_type_id == item_type_id,
            LotRow.lot_number == lot_number,
            LotRow.depot_id == depot_id,
        )
        query = query.where(LotRow.kit_id.is_(None) if kit_id is None else LotRow.kit_id == kit_id)
        return await self.session.scalar(
            query.order_by(LotRow.id).limit(1).with_for_update(of=LotRow)
        )

    async def lots_at_depot(
        self, item_type_id: int, lot_number: str, depot_id: int
    ) -> Sequence[LotRow]:
        """Every place the lot is at one depot, loose or packed."""
        return (
            await self.session.scalars(
                select(LotRow)
                .where(
                    LotRow.item_type_id == item_type_id,
                    LotRow.lot_number == lot_number,
                    LotRow.depot_id == depot_id,
                    LotRow.quantity > 0,
                )
                .order_by(LotRow.id)
                .with_for_update(of=LotRow)
            )
        ).all()

    async def pending_line(self, kit_id: int) -> TransferLineRow | None:
        """The kit's line on a transfer that has not arrived."""
        return await self.session.scalar(
            select(TransferLineRow)
            .where(TransferLineRow.kit_id == kit_id, TransferLineRow.received.is_(False))
            .with_for_update(of=TransferLineRow)
        )

    async def transfer(self, transfer_id: int) -> TransferRow:
        found = await self.session.scalar(
            select(TransferRow).where(TransferRow.id == transfer_id).with_for_update(of=TransferRow)
        )
        assert found is not None
        return found

    async def transfer_by_sscc(self, sscc: str) -> TransferRow | None:
        return await self.session.scalar(
            select(TransferRow).where(TransferRow.sscc == sscc).with_for_update(of=TransferRow)
        )

    async def count(self, count_id: str) -> CountRow | None:
        return await self.session.scalar(select(CountRow).where(CountRow.count_id == count_id))

    # ---------------------------------------------------------------- projection
    async def add_unit(
        self,
        item_type: ItemTypeRow,
        serial: str,
        depot: DepotRow,
        location: LocationRow | None,
        expires_on: date | None,
        next_inspection_on: date | None,
    ) -> UnitRow:
        row = UnitRow(
            item_type=item_type,
            serial=serial,
            depot=depot,
            location=location,
            condition=Condition.SERVICEABLE,
            expires_on=expires_on,
            next_inspection_on=next_inspection_on,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def add_lot(
        self,
        item_type: ItemTypeRow,
        lot_number: str,
        quantity: int,
        depot: DepotRow,
        *,
        kit: KitRow | None = None,
        location: LocationRow | None = None,
        like: LotRow | None = None,
        expires_on: date | None = None,
    ) -> LotRow:
        """A new place for a lot; `like` copies dates and condition from where it came from."""
        row = LotRow(
            item_type=item_type,
            lot_number=lot_number,
            quantity=quantity,
            depot=depot,
            kit=kit,
            location=location,
            condition=like.condition if like else Condition.SERVICEABLE,
            expires_on=like.expires_on if like else expires_on,
            next_inspection_on=like.next_inspection_on if like else None,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def move_kit_contents(self, kit_id: int, depot_id: int) -> None:
        """Units and lots travel with their kit."""
        for table in (UnitRow, LotRow):
            await self.session.execute(
                update(table).where(table.kit_id == kit_id).values(depot_id=depot_id)
            )

    async def lines_of(self, transfer_id: int) -> Sequence[TransferLineRow]:
        return (
            await self.session.scalars(
                select(TransferLineRow)
                .where(TransferLineRow.transfer_id == transfer_id)
                .order_by(TransferLineRow.id)
                .with_for_update(of=TransferLineRow)
            )
        ).all()

    async def transaction_time(self) -> datetime:
        return (await self.session.execute(select(func.now()))).scalar_one()

    async def flush(self) -> None:
        await self.session.flush()
