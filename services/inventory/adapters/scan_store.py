"""The scan hot path's SQL, in SQLAlchemy Core: few statements, plain records.

A scan reads its subject under a row lock, writes the projection with direct
UPDATE / INSERT statements, and appends its ledger row and change-feed row in
one statement. Reference data that never changes once written (depot codes
and GLNs, item types, bins, template lines) is cached per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, bindparam, func, insert, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.inventory.adapters.orm import (
    ChangeRow,
    CountRow,
    DepotRow,
    ItemTypeRow,
    KitRow,
    KitTemplateRow,
    LocationRow,
    LotRow,
    ScanRefusalRow,
    ScanRow,
    TemplateLineRow,
    TransferLineRow,
    TransferRow,
    UnitRow,
)
from services.inventory.domain import commands, model
from services.inventory.domain.model import (
    Category,
    Condition,
    KitState,
    ScanAction,
    TrackingMode,
    TransferState,
)

# ------------------------------------------------------------------ records


@dataclass(frozen=True)
class DepotRef:
    id: int
    code: str
    gln: str


@dataclass(frozen=True)
class ItemRef:
    id: int
    code: str
    gtin: str | None
    tracking_mode: TrackingMode
    shelf_life_days: int | None
    inspection_interval_days: int | None
    retire_after_days: int | None


@dataclass(frozen=True)
class BinRef:
    id: int
    depot_id: int
    label: str
    zone: str


@dataclass(frozen=True)
class TemplateRef:
    id: int
    code: str
    category: Category
    lines: tuple[model.TemplateLine, ...]


@dataclass
class KitRec:
    id: int
    label: str
    giai: str | None
    depot_id: int
    location_id: int | None
    state: KitState
    template_id: int


@dataclass
class UnitRec:
    id: int
    item_type_id: int
    serial: str
    kit_id: int | None
    depot_id: int
    location_id: int | None
    condition: Condition
    expires_on: date | None
    last_inspected_on: date | None
    next_inspection_on: date | None
    retired_on: date | None


@dataclass
class LotRec:
    id: int
    item_type_id: int
    lot_number: str
    kit_id: int | None
    depot_id: int
    location_id: int | None
    quantity: int
    condition: Condition
    expires_on: date | None
    next_inspection_on: date | None


@dataclass(frozen=True)
class StoredScan:
    scan_id: str
    payload: bytes
    seq: int
    recorded_at: datetime


@dataclass(frozen=True)
class StoredRefusal:
    scan_id: str
    status: bytes


@dataclass(frozen=True)
class Prior:
    """What a scan_id got before: its fingerprint and its answer."""

    fingerprint: str | None
    answer: StoredScan | StoredRefusal


@dataclass(frozen=True)
class LedgerRefs:
    """The rows a scan touched, kept on its ledger row for history queries."""

    location_id: int | None = None
    kit_id: int | None = None
    unit_id: int | None = None
    lot_id: int | None = None
    transfer_id: int | None = None
    count_id: int | None = None


@dataclass(frozen=True)
class PendingLine:
    id: int
    transfer_id: int
    shipped: bool


@dataclass
class TransferRec:
    id: int
    sscc: str | None
    from_depot_id: int
    to_depot_id: int
    state: TransferState


@dataclass(frozen=True)
class CountRef:
    id: int
    count_id: str
    depot_id: int
    zone: str
    open: bool


@dataclass
class ReferenceCache:
    """Rows that never change once written, shared by every unit of work of a process."""

    depots: dict[str, DepotRef] = field(default_factory=dict)
    depots_by_id: dict[int, DepotRef] = field(default_factory=dict)
    items: dict[str, ItemRef] = field(default_factory=dict)
    items_by_id: dict[int, ItemRef] = field(default_factory=dict)
    bins: dict[tuple[int, str], BinRef] = field(default_factory=dict)
    templates: dict[int, TemplateRef] = field(default_factory=dict)


_UNIT_COLUMNS = (
    UnitRow.id,
    UnitRow.item_type_id,
    UnitRow.serial,
    UnitRow.kit_id,
    UnitRow.depot_id,
    UnitRow.location_id,
    UnitRow.condition,
    UnitRow.expires_on,
    UnitRow.last_inspected_on,
    UnitRow.next_inspection_on,
    UnitRow.retired_on,
)
_LOT_COLUMNS = (
    LotRow.id,
    LotRow.item_type_id,
    LotRow.lot_number,
    LotRow.kit_id,
    LotRow.depot_id,
    LotRow.location_id,
    LotRow.quantity,
    LotRow.condition,
    LotRow.expires_on,
    LotRow.next_inspection_on,
)
_KIT_COLUMNS = (
    KitRow.id,
    KitRow.label,
    KitRow.giai,
    KitRow.depot_id,
    KitRow.location_id,
    KitRow.state,
    KitRow.template_id,
)


# Statements built once: executing a prebuilt statement skips SQLAlchemy's
# construction and cache-key work, which dominated a scan's CPU time.
_ACCEPTED = select(
    ScanRow.scan_id, ScanRow.fingerprint, ScanRow.result, ScanRow.seq, ScanRow.recorded_at
).where(ScanRow.scan_id.in_(bindparam("ids", expanding=True)))
_REFUSED = select(ScanRefusalRow.scan_id, ScanRefusalRow.fingerprint, ScanRefusalRow.status).where(
    ScanRefusalRow.scan_id.in_(bindparam("ids", expanding=True))
)
_REFUSE = insert(ScanRefusalRow).values(
    scan_id=bindparam("scan_id"), fingerprint=bindparam("fingerprint"), status=bindparam("status")
)
_LEDGER_FIELDS = (
    "scan_id",
    "action",
    "code",
    "depot_id",
    "location_id",
    "kit_id",
    "unit_id",
    "lot_id",
    "transfer_id",
    "count_id",
    "quantity",
    "operator",
    "device",
    "device_time",
    "override_reason",
    "result",
    "fingerprint",
)
_FEED_FIELDS = ("kind", "key", "depot_code", "action", "kit_label", "kit_state")
_ledger_cte = (
    insert(ScanRow)
    .values({name: bindparam(name) for name in _LEDGER_FIELDS})
    .returning(ScanRow.seq, ScanRow.recorded_at)
    .cte("ledger")
)
_feed_cte = (
    insert(ChangeRow)
    .values(
        scan_id=bindparam("scan_id"),
        **{name: bindparam(f"feed_{name}", type_=String()) for name in _FEED_FIELDS},
    )
    .cte("feed")
)
_RECORD = select(_ledger_cte.c.seq, _ledger_cte.c.recorded_at).add_cte(_feed_cte)
_LAST_ISSUE = (
    select(ScanRow.scan_id, ScanRow.operator)
    .where(ScanRow.kit_id == bindparam("kit_id"), ScanRow.action == ScanAction.ISSUE)
    .order_by(ScanRow.seq.desc())
    .limit(1)
)
_KIT_BY_GIAI = select(*_KIT_COLUMNS).where(KitRow.giai == bindparam("giai"))
_KIT_BY_ID = select(*_KIT_COLUMNS).where(KitRow.id == bindparam("kit_id"))
_KIT_BY_GIAI_LOCKED = _KIT_BY_GIAI.with_for_update(of=KitRow)
_KIT_BY_ID_LOCKED = _KIT_BY_ID.with_for_update(of=KitRow)
_UPDATE_KIT = update(KitRow).where(KitRow.id == bindparam("row_id"))
_LOCK_KITS = (
    select(KitRow.id)
    .where(KitRow.giai.in_(bindparam("giais", expanding=True)))
    .order_by(KitRow.id)
    .with_for_update(of=KitRow)
)
_KIT_UNITS = (
    select(
        ItemTypeRow.code,
        UnitRow.serial,
        UnitRow.condition,
        UnitRow.expires_on,
        UnitRow.last_inspected_on,
        UnitRow.next_inspection_on,
    )
    .join(ItemTypeRow, ItemTypeRow.id == UnitRow.item_type_id)
    .where(UnitRow.kit_id == bindparam("kit_id"))
    .order_by(UnitRow.id)
)
_KIT_LOTS = (
    select(
        ItemTypeRow.code,
        LotRow.quantity,
        LotRow.lot_number,
        LotRow.expires_on,
        LotRow.next_inspection_on,
        LotRow.condition,
    )
    .join(ItemTypeRow, ItemTypeRow.id == LotRow.item_type_id)
    .where(LotRow.kit_id == bindparam("kit_id"), LotRow.quantity > 0)
    .order_by(LotRow.id)
)
_UNIT = select(*_UNIT_COLUMNS).where(
    UnitRow.item_type_id == bindparam("item_type_id"), UnitRow.serial == bindparam("serial")
)
_UNIT_LOCKED = _UNIT.with_for_update(of=UnitRow)
_ADD_UNIT = insert(UnitRow).returning(*_UNIT_COLUMNS)
_UPDATE_UNIT = update(UnitRow).where(UnitRow.id == bindparam("row_id"))
_LOT_WHERE = (
    LotRow.item_type_id == bindparam("item_type_id"),
    LotRow.lot_number == bindparam("lot_number"),
    LotRow.depot_id == bindparam("depot_id"),
)
_LOOSE_LOT = (
    select(*_LOT_COLUMNS)
    .where(*_LOT_WHERE, LotRow.kit_id.is_(None))
    .order_by(LotRow.id)
    .limit(1)
    .with_for_update(of=LotRow)
)
_PACKED_LOT = (
    select(*_LOT_COLUMNS)
    .where(*_LOT_WHERE, LotRow.kit_id == bindparam("kit_id"))
    .order_by(LotRow.id)
    .limit(1)
    .with_for_update(of=LotRow)
)
_LOTS_AT_DEPOT = (
    select(*_LOT_COLUMNS)
    .where(*_LOT_WHERE, LotRow.quantity > 0)
    .order_by(LotRow.id)
    .with_for_update(of=LotRow)
)
_ADD_LOT = insert(LotRow).returning(*_LOT_COLUMNS)
_UPDATE_LOT = update(LotRow).where(LotRow.id == bindparam("row_id"))
_DEPOT = select(DepotRow.id, DepotRow.code, DepotRow.gln).where(DepotRow.code == bindparam("code"))
_ITEM = select(
    ItemTypeRow.id,
    ItemTypeRow.code,
    ItemTypeRow.gtin,
    ItemTypeRow.tracking_mode,
    ItemTypeRow.shelf_life_days,
    ItemTypeRow.inspection_interval_days,
    ItemTypeRow.retire_after_days,
).where(ItemTypeRow.gtin == bindparam("gtin"))
_BIN = select(LocationRow.id, LocationRow.zone).where(
    LocationRow.depot_id == bindparam("depot_id"), LocationRow.label == bindparam("label")
)


_LOCK_KEY = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")

# In hash order, so two batches sharing scans cannot wait on each other in a circle.
_LOCK_SCANS = text(
    "SELECT pg_advisory_xact_lock(h) FROM ("
    " SELECT DISTINCT hashtextextended('scan:' || x, 0) AS h FROM unnest(CAST(:ids AS text[])) AS x"
    ") AS ids ORDER BY h"
)


@dataclass
class ScanStore:
    conn: AsyncConnection
    cache: ReferenceCache

    # ---------------------------------------------------------------- ledger
    async def lock_scans(self, scan_ids: Sequence[str]) -> None:
        """Hold other copies of these scans in line until this transaction ends."""
        await self.conn.execute(_LOCK_SCANS, {"ids": list(scan_ids)})

    async def lock_kits(self, giais: Sequence[str]) -> None:
        """Lock a batch's kits in id order up front, so two batches cannot deadlock on them."""
        if giais:
            await self.conn.execute(_LOCK_KITS, {"giais": sorted(set(giais))})

    async def prior(self, scan_ids: Sequence[str]) -> dict[str, Prior]:
        """What these scan_ids got before, accepted or refused."""
        params = {"ids": list(scan_ids)}
        found: dict[str, Prior] = {}
        for r in await self.conn.execute(_ACCEPTED, params):
            stored = StoredScan(r.scan_id, r.result, r.seq, r.recorded_at)
            found[r.scan_id] = Prior(r.fingerprint, stored)
        if len(found) < len(set(scan_ids)):
            for refused in await self.conn.execute(_REFUSED, params):
                answer = StoredRefusal(refused.scan_id, refused.status)
                found[refused.scan_id] = Prior(refused.fingerprint, answer)
        return found

    async def refuse(self, scan_id: str, fingerprint: str, status: bytes) -> None:
        await self.conn.execute(
            _REFUSE, {"scan_id": scan_id, "fingerprint": fingerprint, "status": status}
        )

    async def record(
        self,
        cmd: commands.RecordScan,
        depot: DepotRef,
        refs: LedgerRefs,
        quantity: int,
        payload: bytes,
        change: dict[str, Any],
        fingerprint: str,
    ) -> StoredScan:
        """The ledger row and the change-feed row, in one statement."""
        params: dict[str, Any] = {
            "scan_id": cmd.scan_id,
            "action": cmd.action,
            "code": cmd.code,
            "depot_id": depot.id,
            "location_id": refs.location_id,
            "kit_id": refs.kit_id,
            "unit_id": refs.unit_id,
            "lot_id": refs.lot_id,
            "transfer_id": refs.transfer_id,
            "count_id": refs.count_id,
            "quantity": quantity,
            "operator": cmd.operator,
            "device": cmd.device,
            "device_time": cmd.device_time,
            "override_reason": cmd.override_reason,
            "result": payload,
            "fingerprint": fingerprint,
        }
        params.update({f"feed_{name}": change[name] for name in _FEED_FIELDS})
        row = (await self.conn.execute(_RECORD, params)).one()
        return StoredScan(cmd.scan_id, payload, row.seq, row.recorded_at)

    async def last_issue(self, kit_id: int) -> tuple[str, str] | None:
        row = (await self.conn.execute(_LAST_ISSUE, {"kit_id": kit_id})).first()
        return (row.scan_id, row.operator) if row else None

    # ---------------------------------------------------------------- reference data
    async def depot(self, code: str) -> DepotRef | None:
        if code not in self.cache.depots:
            row = (await self.conn.execute(_DEPOT, {"code": code})).first()
            if row is None or row.gln is None:
                return None
            ref = DepotRef(row.id, row.code, row.gln)
            self.cache.depots[code] = self.cache.depots_by_id[row.id] = ref
        return self.cache.depots[code]

    async def depot_by_id(self, depot_id: int) -> DepotRef:
        if depot_id not in self.cache.depots_by_id:
            code = (
                await self.conn.execute(select(DepotRow.code).where(DepotRow.id == depot_id))
            ).scalar_one()
            await self.depot(code)
        return self.cache.depots_by_id[depot_id]

    async def depot_by_gln(self, gln: str) -> DepotRef | None:
        code = (await self.conn.execute(select(DepotRow.code).where(DepotRow.gln == gln))).scalar()
        return await self.depot(code) if code else None

    async def item_by_gtin(self, gtin: str) -> ItemRef | None:
        if gtin not in self.cache.items:
            row = (await self.conn.execute(_ITEM, {"gtin": gtin})).first()
            if row is None:
                return None
            ref = ItemRef(**row._asdict())
            self.cache.items[gtin] = self.cache.items_by_id[ref.id] = ref
        return self.cache.items[gtin]

    async def bin(self, depot_id: int, label: str) -> BinRef | None:
        key = (depot_id, label)
        if key not in self.cache.bins:
            params = {"depot_id": depot_id, "label": label}
            row = (await self.conn.execute(_BIN, params)).first()
            if row is None:
                return None
            self.cache.bins[key] = BinRef(row.id, depot_id, label, row.zone)
        return self.cache.bins[key]

    async def template(self, template_id: int) -> TemplateRef:
        if template_id not in self.cache.templates:
            head = (
                await self.conn.execute(
                    select(KitTemplateRow.code, KitTemplateRow.category).where(
                        KitTemplateRow.id == template_id
                    )
                )
            ).one()
            lines = await self.conn.execute(
                select(
                    ItemTypeRow.code,
                    TemplateLineRow.quantity,
                    TemplateLineRow.pacing,
                    ItemTypeRow.inspection_interval_days,
                )
                .join(ItemTypeRow, ItemTypeRow.id == TemplateLineRow.item_type_id)
                .where(TemplateLineRow.template_id == template_id)
                .order_by(TemplateLineRow.position)
            )
            self.cache.templates[template_id] = TemplateRef(
                template_id,
                head.code,
                head.category,
                tuple(model.TemplateLine(*line) for line in lines),
            )
        return self.cache.templates[template_id]

    # ---------------------------------------------------------------- kits
    async def kit(
        self, *, giai: str | None = None, kit_id: int | None = None, lock: bool = True
    ) -> KitRec | None:
        params: dict[str, object]
        if giai:
            query, params = (_KIT_BY_GIAI_LOCKED if lock else _KIT_BY_GIAI), {"giai": giai}
        else:
            query, params = (_KIT_BY_ID_LOCKED if lock else _KIT_BY_ID), {"kit_id": kit_id}
        row = (await self.conn.execute(query, params)).first()
        return KitRec(**row._asdict()) if row else None

    async def update_kit(self, kit: KitRec, **values: Any) -> None:
        await self.conn.execute(_UPDATE_KIT, {"row_id": kit.id, **values})
        for name, value in values.items():
            setattr(kit, name, value)

    async def kit_contents(self, kit_id: int) -> model.KitContents:
        units = await self.conn.execute(_KIT_UNITS, {"kit_id": kit_id})
        lots = await self.conn.execute(_KIT_LOTS, {"kit_id": kit_id})
        return model.KitContents(
            tuple(model.Unit(*u) for u in units), tuple(model.Lot(*lt) for lt in lots)
        )

    async def move_kit_contents(self, kit_id: int, depot_id: int) -> None:
        """Units and lots travel with their kit."""
        for table in (UnitRow, LotRow):
            await self.conn.execute(
                update(table).where(table.kit_id == kit_id).values(depot_id=depot_id)
            )

    # ---------------------------------------------------------------- units and lots
    async def unit(self, item_type_id: int, serial: str, *, lock: bool = True) -> UnitRec | None:
        params = {"item_type_id": item_type_id, "serial": serial}
        row = (await self.conn.execute(_UNIT_LOCKED if lock else _UNIT, params)).first()
        return UnitRec(**row._asdict()) if row else None

    async def add_unit(self, **values: Any) -> UnitRec:
        row = (await self.conn.execute(_ADD_UNIT, values)).one()
        return UnitRec(**row._asdict())

    async def update_unit(self, unit: UnitRec, **values: Any) -> None:
        await self.conn.execute(_UPDATE_UNIT, {"row_id": unit.id, **values})
        for name, value in values.items():
            setattr(unit, name, value)

    async def lot(
        self, item_type_id: int, lot_number: str, depot_id: int, kit_id: int | None
    ) -> LotRec | None:
        """The lot's stock at one place: loose at a depot (kit_id None) or in a kit."""
        params = {"item_type_id": item_type_id, "lot_number": lot_number, "depot_id": depot_id}
        if kit_id is None:
            row = (await self.conn.execute(_LOOSE_LOT, params)).first()
        else:
            row = (await self.conn.execute(_PACKED_LOT, {**params, "kit_id": kit_id})).first()
        return LotRec(**row._asdict()) if row else None

    async def lots_at_depot(
        self, item_type_id: int, lot_number: str, depot_id: int
    ) -> list[LotRec]:
        params = {"item_type_id": item_type_id, "lot_number": lot_number, "depot_id": depot_id}
        rows = await self.conn.execute(_LOTS_AT_DEPOT, params)
        return [LotRec(**r._asdict()) for r in rows]

    async def lock_lot(self, item_type_id: int, lot_number: str, depot_id: int) -> None:
        """Serialize the first receipt of a lot at a depot (its row may not exist yet)."""
        key = f"lot:{item_type_id}:{depot_id}:{lot_number}"
        await self.conn.execute(_LOCK_KEY, {"key": key})

    async def add_lot(self, **values: Any) -> LotRec:
        row = (await self.conn.execute(_ADD_LOT, values)).one()
        return LotRec(**row._asdict())

    async def update_lot(self, lot: LotRec, **values: Any) -> None:
        await self.conn.execute(_UPDATE_LOT, {"row_id": lot.id, **values})
        for name, value in values.items():
            setattr(lot, name, value)

    # ---------------------------------------------------------------- transfers and counts
    async def pending_line(self, kit_id: int) -> PendingLine | None:
        row = (
            await self.conn.execute(
                select(TransferLineRow.id, TransferLineRow.transfer_id, TransferLineRow.shipped)
                .where(TransferLineRow.kit_id == kit_id, TransferLineRow.received.is_(False))
                .with_for_update(of=TransferLineRow)
            )
        ).first()
        return PendingLine(**row._asdict()) if row else None

    async def transfer(
        self, *, transfer_id: int | None = None, sscc: str | None = None
    ) -> TransferRec | None:
        query = select(
            TransferRow.id,
            TransferRow.sscc,
            TransferRow.from_depot_id,
            TransferRow.to_depot_id,
            TransferRow.state,
        ).with_for_update(of=TransferRow)
        query = (
            query.where(TransferRow.sscc == sscc)
            if sscc
            else query.where(TransferRow.id == transfer_id)
        )
        row = (await self.conn.execute(query)).first()
        return TransferRec(**row._asdict()) if row else None

    async def transfer_kits(self, transfer_id: int) -> list[int]:
        rows = await self.conn.execute(
            select(TransferLineRow.kit_id)
            .where(TransferLineRow.transfer_id == transfer_id)
            .order_by(TransferLineRow.kit_id)
        )
        return list(rows.scalars())

    async def set_line(self, line_id: int, **values: Any) -> None:
        await self.conn.execute(
            update(TransferLineRow).where(TransferLineRow.id == line_id).values(**values)
        )

    async def all_received(self, transfer_id: int) -> bool:
        waiting = await self.conn.execute(
            select(func.count())
            .select_from(TransferLineRow)
            .where(TransferLineRow.transfer_id == transfer_id, TransferLineRow.received.is_(False))
        )
        return waiting.scalar_one() == 0

    async def update_transfer(self, transfer: TransferRec, **values: Any) -> None:
        await self.conn.execute(
            update(TransferRow).where(TransferRow.id == transfer.id).values(**values)
        )
        for name, value in values.items():
            setattr(transfer, name, value)

    async def count(self, count_id: str, *, share: bool = False) -> CountRef | None:
        """The count; `share` holds it open until this transaction ends (closing waits)."""
        query = select(
            CountRow.id, CountRow.count_id, CountRow.depot_id, CountRow.zone, CountRow.open
        ).where(CountRow.count_id == count_id)
        if share:
            query = query.with_for_update(of=CountRow, read=True)
        row = (await self.conn.execute(query)).first()
        return CountRef(**row._asdict()) if row else None

    async def now(self) -> datetime:
        return (await self.conn.execute(select(literal_column("now()")))).scalar_one()
