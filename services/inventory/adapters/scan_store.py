"""The scan hot path's SQL, sent straight to the driver: few statements, plain records.

A scan reads its subject under a row lock, writes the projection with direct
UPDATE / INSERT statements, and appends its ledger row and change-feed row in
one statement. Reference data that never changes once written (depot codes
and GLNs, item types, bins, template lines) is cached per process.

The statements go to psycopg's connection itself, not through SQLAlchemy:
a scan sends five to ten of them, and SQLAlchemy's execution layer (and its
greenlet bridge to asyncio) cost more CPU per statement than the driver and
the database together. The SQL is written out here so what a scan sends can
be read in one place; psycopg prepares each statement on a connection after
a few uses.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from psycopg import AsyncClientCursor, AsyncConnection, AsyncCursor

from services.common import calls
from services.inventory.adapters.scan_connections import run_pooled
from services.inventory.domain import commands, model
from services.inventory.domain.model import (
    Category,
    Condition,
    KitState,
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
    state_valid_until: date | None = None


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
    "id, item_type_id, serial, kit_id, depot_id, location_id, condition, expires_on, "
    "last_inspected_on, next_inspection_on, retired_on"
)
_LOT_COLUMNS = (
    "id, item_type_id, lot_number, kit_id, depot_id, location_id, quantity, condition, "
    "expires_on, next_inspection_on"
)
_KIT_COLUMNS = "id, label, giai, depot_id, location_id, state, template_id, state_valid_until"


def _kit(row: Sequence[Any]) -> KitRec:
    return KitRec(row[0], row[1], row[2], row[3], row[4], KitState(row[5]), row[6], row[7])


def _unit(row: Sequence[Any]) -> UnitRec:
    return UnitRec(row[0], row[1], row[2], row[3], row[4], row[5], Condition(row[6]), *row[7:11])


def _item(row: Sequence[Any]) -> ItemRef:
    return ItemRef(row[0], row[1], row[2], TrackingMode(row[3]), row[4], row[5], row[6])


def _lot(row: Sequence[Any]) -> LotRec:
    return LotRec(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], Condition(row[7]), row[8], row[9]
    )


# One round trip: lock the ids (in hash order), then look them up with a
# fresh snapshot (migration 7c3e9a51b2f4 says why it is a function).
_CLAIM = "SELECT * FROM inventory.claim_scans(%(ids)s::text[])"
_REFUSE = (
    "INSERT INTO inventory.scan_refusals (scan_id, fingerprint, status)"
    " VALUES (%(scan_id)s, %(fingerprint)s, %(status)s)"
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
    "recorded_by",
    "request_id",
)
_FEED_FIELDS = ("kind", "key", "depot_code", "action", "kit_label", "kit_state")
# The ledger row and the change-feed row, in one statement.
_RECORD = (
    "WITH feed AS (INSERT INTO inventory.changes (scan_id, "
    + ", ".join(_FEED_FIELDS)
    + ") VALUES (%(scan_id)s, "
    + ", ".join(f"%(feed_{name})s" for name in _FEED_FIELDS)
    + ")) INSERT INTO inventory.scans ("
    + ", ".join(_LEDGER_FIELDS)
    + ") VALUES ("
    + ", ".join(f"%({name})s" for name in _LEDGER_FIELDS)
    + ") RETURNING seq, recorded_at"
)
_LAST_ISSUE = (
    "SELECT scan_id, operator FROM inventory.scans"
    " WHERE kit_id = %(kit_id)s AND action = 'ISSUE' ORDER BY seq DESC LIMIT 1"
)
_KIT_BY_GIAI = f"SELECT {_KIT_COLUMNS} FROM inventory.kits WHERE giai = %(giai)s"
_KIT_BY_ID = f"SELECT {_KIT_COLUMNS} FROM inventory.kits WHERE id = %(kit_id)s"
_KIT_BY_GIAI_LOCKED = _KIT_BY_GIAI + " FOR UPDATE"
_KIT_BY_ID_LOCKED = _KIT_BY_ID + " FOR UPDATE"
_LOCK_KITS = (
    "SELECT id FROM inventory.kits WHERE giai = ANY(%(giais)s::text[]) ORDER BY id FOR UPDATE"
)
# A kit's units and lots in one statement: the units first (lot_number NULL), in id order.
_KIT_CONTENTS = (
    "SELECT * FROM ("
    " SELECT 0 AS part, u.id, t.code, u.serial, NULL::int AS quantity, NULL::text AS lot_number,"
    " u.condition, u.expires_on, u.last_inspected_on, u.next_inspection_on"
    " FROM inventory.units AS u JOIN inventory.item_types AS t ON t.id = u.item_type_id"
    " WHERE u.kit_id = %(kit_id)s"
    " UNION ALL"
    " SELECT 1, l.id, t.code, NULL, l.quantity, l.lot_number,"
    " l.condition, l.expires_on, NULL, l.next_inspection_on"
    " FROM inventory.lots AS l JOIN inventory.item_types AS t ON t.id = l.item_type_id"
    " WHERE l.kit_id = %(kit_id)s AND l.quantity > 0"
    ") AS contents ORDER BY part, id"
)
_MOVE_KIT_CONTENTS = (
    "WITH units AS (UPDATE inventory.units SET depot_id = %(depot_id)s"
    " WHERE kit_id = %(kit_id)s)"
    " UPDATE inventory.lots SET depot_id = %(depot_id)s WHERE kit_id = %(kit_id)s"
)
_UNIT = (
    f"SELECT {_UNIT_COLUMNS} FROM inventory.units"
    " WHERE item_type_id = %(item_type_id)s AND serial = %(serial)s"
)
_UNIT_LOCKED = _UNIT + " FOR UPDATE"
# The unit under its lock, and the kit it is packed in under the kit's lock.
_UNIT_AND_KIT_LOCKED = (
    f"WITH unit AS ({_UNIT_LOCKED})"
    f" SELECT unit.*, kit.* FROM unit LEFT JOIN LATERAL"
    f" (SELECT {_KIT_COLUMNS} FROM inventory.kits WHERE id = unit.kit_id FOR UPDATE) AS kit"
    " ON true"
)
_UNIT_FIELDS = (
    "item_type_id",
    "serial",
    "depot_id",
    "location_id",
    "condition",
    "expires_on",
    "next_inspection_on",
)
# A new unit, or nothing when its serial is on record (a copy in flight waits here).
_ADD_UNIT = (
    "INSERT INTO inventory.units ("
    + ", ".join(_UNIT_FIELDS)
    + ") VALUES ("
    + ", ".join(f"%({name})s" for name in _UNIT_FIELDS)
    + f") ON CONFLICT (item_type_id, serial) DO NOTHING RETURNING {_UNIT_COLUMNS}"
)
_LOT_WHERE = (
    " WHERE item_type_id = %(item_type_id)s AND lot_number = %(lot_number)s"
    " AND depot_id = %(depot_id)s"
)
_LOOSE_LOT = (
    f"SELECT {_LOT_COLUMNS} FROM inventory.lots{_LOT_WHERE}"
    " AND kit_id IS NULL ORDER BY id LIMIT 1 FOR UPDATE"
)
_PACKED_LOT = (
    f"SELECT {_LOT_COLUMNS} FROM inventory.lots{_LOT_WHERE}"
    " AND kit_id = %(kit_id)s ORDER BY id LIMIT 1 FOR UPDATE"
)
_LOTS_AT_DEPOT = (
    f"SELECT {_LOT_COLUMNS} FROM inventory.lots{_LOT_WHERE} AND quantity > 0 ORDER BY id FOR UPDATE"
)
_LOT_FIELDS = (
    "item_type_id",
    "lot_number",
    "quantity",
    "depot_id",
    "kit_id",
    "location_id",
    "condition",
    "expires_on",
    "next_inspection_on",
)
_ADD_LOT = (
    "INSERT INTO inventory.lots ("
    + ", ".join(_LOT_FIELDS)
    + ") VALUES ("
    + ", ".join(f"%({name})s" for name in _LOT_FIELDS)
    + f") RETURNING {_LOT_COLUMNS}"
)
# A receipt of loose stock: a new row, or more on the row at this place. The
# unique index on the place makes a concurrent first receipt wait, then add.
# An expiry that disagrees with the one on record adds nothing (no row back).
_RECEIVE_LOT = (
    "INSERT INTO inventory.lots (item_type_id, lot_number, quantity, depot_id, kit_id,"
    " location_id, condition, expires_on)"
    " VALUES (%(item_type_id)s, %(lot_number)s, %(quantity)s, %(depot_id)s, NULL,"
    " %(location_id)s, 'SERVICEABLE', %(expires_on)s)"
    " ON CONFLICT (item_type_id, lot_number, depot_id, kit_id)"
    " DO UPDATE SET quantity = lots.quantity + EXCLUDED.quantity"
    " WHERE EXCLUDED.expires_on IS NULL OR lots.expires_on IS NULL"
    " OR lots.expires_on = EXCLUDED.expires_on"
    f" RETURNING {_LOT_COLUMNS}"
)
_DEPOT = "SELECT id, code, gln FROM inventory.depots WHERE code = %(code)s"
_DEPOT_CODE_BY_ID = "SELECT code FROM inventory.depots WHERE id = %(id)s"
_DEPOT_CODE_BY_GLN = "SELECT code FROM inventory.depots WHERE gln = %(gln)s"
_ITEM_COLUMNS = (
    "id, code, gtin, tracking_mode, shelf_life_days, inspection_interval_days, retire_after_days"
)
_ITEM = f"SELECT {_ITEM_COLUMNS} FROM inventory.item_types WHERE gtin = %(gtin)s"
_BIN = (
    "SELECT id, zone FROM inventory.locations WHERE depot_id = %(depot_id)s AND label = %(label)s"
)
_TEMPLATE = "SELECT code, category FROM inventory.kit_templates WHERE id = %(id)s"
_TEMPLATE_LINES = (
    "SELECT t.code, l.quantity, l.pacing, t.inspection_interval_days"
    " FROM inventory.template_lines AS l JOIN inventory.item_types AS t ON t.id = l.item_type_id"
    " WHERE l.template_id = %(id)s ORDER BY l.position"
)
_PENDING_LINE = (
    "SELECT id, transfer_id, shipped FROM inventory.transfer_lines"
    " WHERE kit_id = %(kit_id)s AND received IS false FOR UPDATE"
)
_TRANSFER = "SELECT id, sscc, from_depot_id, to_depot_id, state FROM inventory.transfers"
_TRANSFER_BY_SSCC = _TRANSFER + " WHERE sscc = %(sscc)s FOR UPDATE"
_TRANSFER_BY_ID = _TRANSFER + " WHERE id = %(id)s FOR UPDATE"
_TRANSFER_KITS = (
    "SELECT kit_id FROM inventory.transfer_lines WHERE transfer_id = %(id)s ORDER BY kit_id"
)
_WAITING_LINES = (
    "SELECT count(*) FROM inventory.transfer_lines WHERE transfer_id = %(id)s AND received IS false"
)
_COUNT = (
    "SELECT id, count_id, depot_id, zone, open FROM inventory.stock_counts WHERE count_id = %(id)s"
)


@functools.cache
def _update(table: str, names: tuple[str, ...]) -> str:
    """UPDATE of some columns of one row by id (names come from code, never from a request)."""
    assignments = ", ".join(f"{name} = %({name})s" for name in names)
    return f"UPDATE inventory.{table} SET {assignments} WHERE id = %(row_id)s"


@dataclass
class ScanStore:
    """The scan path's statements on one driver connection, inside its caller's transaction."""

    conn: AsyncConnection[Any]
    cache: ReferenceCache
    # On a connection of the scan pool (ScanConnections: autocommit, psycopg's own
    # preparing off), the store opens the transaction and prepares its statements.
    pooled: bool = False
    # The kit locked with the unit last locked, for the kit() call that asks for it next;
    # dropped by the next unit() and by forget_rows().
    _locked_kits: dict[int, KitRec] = field(default_factory=dict)
    _cursor: AsyncCursor[Any] | None = None

    async def _execute(
        self, sql: str, params: dict[str, Any], *, commit: bool = False
    ) -> AsyncCursor[Any]:
        """A cursor on `sql`'s result; with `commit`, the transaction committed after it
        (on a pooled connection in the same round trip: run_pooled)."""
        if self._cursor is None:
            self._cursor = AsyncClientCursor(self.conn) if self.pooled else self.conn.cursor()
        cur = self._cursor
        if self.pooled:
            return await run_pooled(cur, sql, params, commit=commit)
        await cur.execute(sql, params)
        if commit:
            await self.conn.commit()  # the rows read stay with the cursor
        return cur

    async def _all(self, sql: str, params: dict[str, Any]) -> list[Any]:
        return await (await self._execute(sql, params)).fetchall()

    async def _one(self, sql: str, params: dict[str, Any]) -> Any:
        return await (await self._execute(sql, params)).fetchone()

    async def _run(self, sql: str, params: dict[str, Any]) -> None:
        await self._execute(sql, params)

    def forget_rows(self) -> None:
        """Drop rows kept between statements (a savepoint was rolled back under them)."""
        self._locked_kits.clear()

    # ---------------------------------------------------------------- ledger
    async def claim(self, scan_ids: Sequence[str]) -> dict[str, Prior]:
        """Hold other copies of these scans in line until this transaction ends,
        and say what they got before, accepted or refused (one round trip)."""
        return priors(await self._all(_CLAIM, {"ids": list(scan_ids)}))

    async def lock_kits(self, giais: Sequence[str]) -> None:
        """Lock a batch's kits in id order up front, so two batches cannot deadlock on them."""
        if giais:
            await self._all(_LOCK_KITS, {"giais": sorted(set(giais))})

    async def refuse(self, scan_id: str, fingerprint: str, status: bytes) -> None:
        await self._run(_REFUSE, {"scan_id": scan_id, "fingerprint": fingerprint, "status": status})

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
        params = _ledger_params(cmd, depot, refs, quantity, payload, change, fingerprint)
        seq, recorded_at = await self._one(_RECORD, params)
        return StoredScan(cmd.scan_id, payload, seq, recorded_at)

    async def last_issue(self, kit_id: int) -> tuple[str, str] | None:
        row = await self._one(_LAST_ISSUE, {"kit_id": kit_id})
        return (row[0], row[1]) if row else None

    # ---------------------------------------------------------------- reference data
    async def depot(self, code: str) -> DepotRef | None:
        if code not in self.cache.depots:
            row = await self._one(_DEPOT, {"code": code})
            if row is None or row[2] is None:
                return None
            ref = DepotRef(*row)
            self.cache.depots[code] = self.cache.depots_by_id[ref.id] = ref
        return self.cache.depots[code]

    async def depot_by_id(self, depot_id: int) -> DepotRef:
        if depot_id not in self.cache.depots_by_id:
            (code,) = await self._one(_DEPOT_CODE_BY_ID, {"id": depot_id})
            await self.depot(code)
        return self.cache.depots_by_id[depot_id]

    async def depot_by_gln(self, gln: str) -> DepotRef | None:
        row = await self._one(_DEPOT_CODE_BY_GLN, {"gln": gln})
        return await self.depot(row[0]) if row else None

    async def item_by_gtin(self, gtin: str) -> ItemRef | None:
        if gtin not in self.cache.items:
            row = await self._one(_ITEM, {"gtin": gtin})
            if row is None:
                return None
            ref = _item(row)
            self.cache.items[gtin] = self.cache.items_by_id[ref.id] = ref
        return self.cache.items[gtin]

    async def bin(self, depot_id: int, label: str) -> BinRef | None:
        key = (depot_id, label)
        if key not in self.cache.bins:
            row = await self._one(_BIN, {"depot_id": depot_id, "label": label})
            if row is None:
                return None
            self.cache.bins[key] = BinRef(row[0], depot_id, label, row[1])
        return self.cache.bins[key]

    async def template(self, template_id: int) -> TemplateRef:
        if template_id not in self.cache.templates:
            code, category = await self._one(_TEMPLATE, {"id": template_id})
            lines = await self._all(_TEMPLATE_LINES, {"id": template_id})
            self.cache.templates[template_id] = TemplateRef(
                template_id,
                code,
                Category(category),
                tuple(model.TemplateLine(*line) for line in lines),
            )
        return self.cache.templates[template_id]

    # ---------------------------------------------------------------- kits
    async def kit(
        self, *, giai: str | None = None, kit_id: int | None = None, lock: bool = True
    ) -> KitRec | None:
        params: dict[str, Any]
        if giai:
            sql, params = (_KIT_BY_GIAI_LOCKED if lock else _KIT_BY_GIAI), {"giai": giai}
        else:
            if lock and kit_id in self._locked_kits:
                return self._locked_kits.pop(kit_id)
            sql, params = (_KIT_BY_ID_LOCKED if lock else _KIT_BY_ID), {"kit_id": kit_id}
        row = await self._one(sql, params)
        return _kit(row) if row else None

    async def update_kit(self, kit: KitRec, **values: Any) -> None:
        await self._run(_update("kits", tuple(values)), {"row_id": kit.id, **values})
        for name, value in values.items():
            setattr(kit, name, value)

    async def kit_contents(self, kit_id: int) -> model.KitContents:
        units: list[model.Unit] = []
        lots: list[model.Lot] = []
        for (
            part,
            _,
            code,
            serial,
            quantity,
            lot_number,
            condition,
            expires,
            inspected,
            due,
        ) in await self._all(_KIT_CONTENTS, {"kit_id": kit_id}):
            if part == 0:
                units.append(
                    model.Unit(code, serial, Condition(condition), expires, inspected, due)
                )
            else:
                lots.append(
                    model.Lot(code, quantity, lot_number, expires, due, Condition(condition))
                )
        return model.KitContents(tuple(units), tuple(lots))

    async def move_kit_contents(self, kit_id: int, depot_id: int) -> None:
        """Units and lots travel with their kit."""
        await self._run(_MOVE_KIT_CONTENTS, {"kit_id": kit_id, "depot_id": depot_id})

    # ---------------------------------------------------------------- units and lots
    async def unit(
        self, item_type_id: int, serial: str, *, lock: bool = True, with_kit: bool = False
    ) -> UnitRec | None:
        """The unit, under its lock unless `lock` is false. `with_kit` locks the kit
        it is packed in too, in the same statement, for the kit() call that follows."""
        params = {"item_type_id": item_type_id, "serial": serial}
        self._locked_kits.clear()
        if not with_kit:
            row = await self._one(_UNIT_LOCKED if lock else _UNIT, params)
            return _unit(row) if row else None
        row = await self._one(_UNIT_AND_KIT_LOCKED, params)
        if row is None:
            return None
        unit = _unit(row)
        if row[11] is not None:
            self._locked_kits[row[11]] = _kit(row[11:])
        return unit

    async def add_unit(self, **values: Any) -> UnitRec | None:
        """A new unit; None when its serial is on record already."""
        row = await self._one(_ADD_UNIT, values)
        return _unit(row) if row else None

    async def update_unit(self, unit: UnitRec, **values: Any) -> None:
        await self._run(_update("units", tuple(values)), {"row_id": unit.id, **values})
        for name, value in values.items():
            setattr(unit, name, value)

    async def lot(
        self, item_type_id: int, lot_number: str, depot_id: int, kit_id: int | None
    ) -> LotRec | None:
        """The lot's stock at one place: loose at a depot (kit_id None) or in a kit."""
        params = {"item_type_id": item_type_id, "lot_number": lot_number, "depot_id": depot_id}
        if kit_id is None:
            row = await self._one(_LOOSE_LOT, params)
        else:
            row = await self._one(_PACKED_LOT, {**params, "kit_id": kit_id})
        return _lot(row) if row else None

    async def lots_at_depot(
        self, item_type_id: int, lot_number: str, depot_id: int
    ) -> list[LotRec]:
        params = {"item_type_id": item_type_id, "lot_number": lot_number, "depot_id": depot_id}
        return [_lot(r) for r in await self._all(_LOTS_AT_DEPOT, params)]

    async def receive_lot(
        self,
        item_type_id: int,
        lot_number: str,
        depot_id: int,
        quantity: int,
        location_id: int | None,
        expires_on: date | None,
    ) -> LotRec | None:
        """Add loose stock of a lot at a depot; None (nothing added) when the
        lot is on record there with another expiry."""
        row = await self._one(
            _RECEIVE_LOT,
            {
                "item_type_id": item_type_id,
                "lot_number": lot_number,
                "depot_id": depot_id,
                "quantity": quantity,
                "location_id": location_id,
                "expires_on": expires_on,
            },
        )
        return _lot(row) if row else None

    async def add_lot(self, **values: Any) -> LotRec:
        params = {name: values.get(name) for name in _LOT_FIELDS}
        return _lot(await self._one(_ADD_LOT, params))

    async def update_lot(self, lot: LotRec, **values: Any) -> None:
        await self._run(_update("lots", tuple(values)), {"row_id": lot.id, **values})
        for name, value in values.items():
            setattr(lot, name, value)

    # ---------------------------------------------------------------- transfers and counts
    async def pending_line(self, kit_id: int) -> PendingLine | None:
        row = await self._one(_PENDING_LINE, {"kit_id": kit_id})
        return PendingLine(*row) if row else None

    async def transfer(
        self, *, transfer_id: int | None = None, sscc: str | None = None
    ) -> TransferRec | None:
        if sscc:
            row = await self._one(_TRANSFER_BY_SSCC, {"sscc": sscc})
        else:
            row = await self._one(_TRANSFER_BY_ID, {"id": transfer_id})
        return TransferRec(row[0], row[1], row[2], row[3], TransferState(row[4])) if row else None

    async def transfer_kits(self, transfer_id: int) -> list[int]:
        return [r[0] for r in await self._all(_TRANSFER_KITS, {"id": transfer_id})]

    async def set_line(self, line_id: int, **values: Any) -> None:
        await self._run(_update("transfer_lines", tuple(values)), {"row_id": line_id, **values})

    async def all_received(self, transfer_id: int) -> bool:
        (waiting,) = await self._one(_WAITING_LINES, {"id": transfer_id})
        return bool(waiting == 0)

    async def update_transfer(self, transfer: TransferRec, **values: Any) -> None:
        await self._run(_update("transfers", tuple(values)), {"row_id": transfer.id, **values})
        for name, value in values.items():
            setattr(transfer, name, value)

    async def count(self, count_id: str, *, share: bool = False) -> CountRef | None:
        """The count; `share` holds it open until this transaction ends (closing waits)."""
        row = await self._one(_COUNT + (" FOR SHARE" if share else ""), {"id": count_id})
        return CountRef(*row) if row else None

    async def now(self) -> datetime:
        (now,) = await self._one("SELECT now()", {})
        assert isinstance(now, datetime)
        return now


def priors(claimed: Sequence[Any]) -> dict[str, Prior]:
    """What each claimed scan got before, from inventory.claim_scans()'s rows."""
    found: dict[str, Prior] = {}
    for scan_id, fp, result, seq, recorded_at, refusal in claimed:
        if refusal is not None:
            found.setdefault(scan_id, Prior(fp, StoredRefusal(scan_id, refusal)))
        else:  # an accepted scan wins over a refusal of the same id
            found[scan_id] = Prior(fp, StoredScan(scan_id, result, seq, recorded_at))
    return found


def _ledger_params(
    cmd: commands.RecordScan,
    depot: DepotRef,
    refs: LedgerRefs,
    quantity: int,
    payload: bytes,
    change: dict[str, Any],
    fingerprint: str,
) -> dict[str, Any]:
    call = cmd.sent_by or calls.now_serving()
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
        # Who sent it (the token's subject) under which request id: the audit of a scan.
        "recorded_by": call.actor,
        "request_id": call.request_id,
    }
    for name in _FEED_FIELDS:
        params[f"feed_{name}"] = change[name]
    return params
