"""A batch of scans, set-based: rows fetched up front, changed in memory, written at once.

A `BatchStore` answers the same calls as the `ScanStore`, for the actions that
only touch kits, units and lots (see `BATCH_ACTIONS`). Before the scans run,
`prefetch` fetches and locks, one statement per table, every kit, unit and
lot the batch names, the kits they are packed in, and those kits' contents.
The scans then run in memory: each change is journalled, so a refused scan is
undone alone (what a savepoint per scan did). `flush` writes the outcome with
one statement per table: new units and lots, changed units, lots and kits,
the ledger rows with their change-feed rows, and the kept refusals.

A row not in memory has no change waiting to be written, so a row that the
prefetch missed is read from the database when asked for (and locked) and is
as current as one fetched up front; a query by anything but a key (a kit's
contents, a lot's stock at a depot) is answered from memory once every row
that can match it has been loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.inventory.adapters.scan_store import (
    _ITEM_COLUMNS,
    _KIT_COLUMNS,
    _LOT_COLUMNS,
    _UNIT_COLUMNS,
    DepotRef,
    KitRec,
    LedgerRefs,
    LotRec,
    ScanStore,
    StoredScan,
    UnitRec,
    _item,
    _kit,
    _ledger_params,
    _lot,
    _unit,
)
from services.inventory.domain import commands, model
from services.inventory.domain.model import Condition, ScanAction

# The actions whose scans touch only kits, units and lots (and the ledger).
BATCH_ACTIONS = frozenset(
    {
        ScanAction.RECEIVE,
        ScanAction.PUTAWAY,
        ScanAction.PACK,
        ScanAction.UNPACK,
        ScanAction.INSPECT_PASS,
        ScanAction.INSPECT_FAIL,
        ScanAction.RETIRE,
    }
)

UnitKey = tuple[int, str]  # item type id, serial
LotKey = tuple[int, str, int]  # item type id, lot number, depot id

_KITS_BY_GIAI = (
    f"SELECT {_KIT_COLUMNS} FROM inventory.kits"
    " WHERE giai = ANY(%(giais)s::text[]) ORDER BY id FOR UPDATE"
)
_KITS_BY_ID = (
    f"SELECT {_KIT_COLUMNS} FROM inventory.kits"
    " WHERE id = ANY(%(ids)s::int[]) ORDER BY id FOR UPDATE"
)
_UNITS_BY_KEY = (
    f"SELECT {_UNIT_COLUMNS} FROM inventory.units WHERE (item_type_id, serial) IN"
    " (SELECT * FROM unnest(%(items)s::int[], %(serials)s::text[]))"
    " ORDER BY id FOR UPDATE"
)
_LOTS_BY_KEY = (
    f"SELECT {_LOT_COLUMNS} FROM inventory.lots WHERE (item_type_id, lot_number, depot_id) IN"
    " (SELECT * FROM unnest(%(items)s::int[], %(lots)s::text[], %(depots)s::int[]))"
    " ORDER BY id FOR UPDATE"
)
# Contents are read without row locks, as a lone scan reads them: the kit is locked.
_UNITS_IN_KITS = f"SELECT {_UNIT_COLUMNS} FROM inventory.units WHERE kit_id = ANY(%(ids)s::int[])"
_LOTS_IN_KITS = f"SELECT {_LOT_COLUMNS} FROM inventory.lots WHERE kit_id = ANY(%(ids)s::int[])"
_ITEMS_BY_ID = f"SELECT {_ITEM_COLUMNS} FROM inventory.item_types WHERE id = ANY(%(ids)s::int[])"
_NEXT_IDS = "SELECT nextval(%(sequence)s::regclass) FROM generate_series(1, %(count)s)"

# Columns written back, with their types for the unnest() arrays.
_UNIT_TYPES = {
    "id": "bigint",
    "item_type_id": "int",
    "serial": "text",
    "kit_id": "int",
    "depot_id": "int",
    "location_id": "int",
    "condition": "inventory.condition",
    "expires_on": "date",
    "last_inspected_on": "date",
    "next_inspection_on": "date",
    "retired_on": "date",
}
_LOT_TYPES = {
    "id": "bigint",
    "item_type_id": "int",
    "lot_number": "text",
    "kit_id": "int",
    "depot_id": "int",
    "location_id": "int",
    "quantity": "int",
    "condition": "inventory.condition",
    "expires_on": "date",
    "next_inspection_on": "date",
}
_KIT_TYPES = {
    "id": "int",
    "depot_id": "int",
    "location_id": "int",
    "state": "inventory.kit_state",
    "state_valid_until": "date",
}
_LEDGER_TYPES = {
    "scan_id": "text",
    "action": "inventory.scan_action",
    "code": "text",
    "depot_id": "int",
    "location_id": "int",
    "kit_id": "int",
    "unit_id": "bigint",
    "lot_id": "bigint",
    "transfer_id": "int",
    "count_id": "int",
    "quantity": "int",
    "operator": "text",
    "device": "text",
    "device_time": "timestamptz",
    "override_reason": "text",
    "result": "bytea",
    "fingerprint": "text",
    "recorded_by": "text",
    "request_id": "text",
}
_FEED_TYPES = {
    "feed_kind": "text",
    "feed_key": "text",
    "feed_depot_code": "text",
    "feed_action": "text",
    "feed_kit_label": "text",
    "feed_kit_state": "text",
}
_REFUSAL_TYPES = {"scan_id": "text", "fingerprint": "text", "status": "bytea"}


def _rows(types: dict[str, str], alias: str = "v") -> str:
    """The rows of one JSON parameter, `rows`, typed column by column, in their order.

    JSON, not an array per column: psycopg dumps arrays element by element in
    Python, which cost more than the rest of the write; json.dumps is C.
    """
    columns = ", ".join(f"{name} {kind}" for name, kind in types.items())
    return (
        f"ROWS FROM (json_to_recordset(%(rows)s::json) AS ({columns}))"
        f" WITH ORDINALITY AS {alias}({', '.join(types)}, n)"
    )


def _as_json(value: object) -> str:
    """The text PostgreSQL reads back into a date, a time or a bytea."""
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"no JSON for {type(value).__name__}")


def _json_rows(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {"rows": json.dumps(list(rows), default=_as_json, separators=(",", ":"))}


def _insert(table: str, types: dict[str, str]) -> str:
    names = ", ".join(types)
    return f"INSERT INTO inventory.{table} ({names}) SELECT {names} FROM {_rows(types)} ORDER BY n"


def _update(table: str, types: dict[str, str]) -> str:
    assignments = ", ".join(f"{name} = v.{name}" for name in types if name != "id")
    return f"UPDATE inventory.{table} AS t SET {assignments} FROM {_rows(types)} WHERE t.id = v.id"


_INSERT_UNITS = _insert("units", _UNIT_TYPES)
_INSERT_LOTS = _insert("lots", _LOT_TYPES)
_UPDATE_UNITS = _update("units", _UNIT_TYPES)
_UPDATE_LOTS = _update("lots", _LOT_TYPES)
_UPDATE_KITS = _update("kits", _KIT_TYPES)
# The ledger rows and their change-feed rows, in the batch's order.
_RECORD_ALL = (
    f"WITH v AS (SELECT * FROM {_rows(_LEDGER_TYPES | _FEED_TYPES, 'r')}),"
    " feed AS (INSERT INTO inventory.changes"
    " (scan_id, kind, key, depot_code, action, kit_label, kit_state)"
    " SELECT scan_id, feed_kind, feed_key, feed_depot_code, feed_action, feed_kit_label,"
    " feed_kit_state FROM v ORDER BY n)"
    f" INSERT INTO inventory.scans ({', '.join(_LEDGER_TYPES)})"
    f" SELECT {', '.join(_LEDGER_TYPES)} FROM v ORDER BY n"
    " RETURNING scan_id, seq, recorded_at"
)
_REFUSE_ALL = _insert("scan_refusals", _REFUSAL_TYPES)


@dataclass
class BatchKeys:
    """What a batch's scans name, found by parsing their labels before any of them runs."""

    kit_giais: set[str] = field(default_factory=set)
    units: set[UnitKey] = field(default_factory=set)
    lots: set[LotKey] = field(default_factory=set)
    # How many units and lot rows the batch may add at most (ids are taken up front).
    new_units: int = 0
    new_lots: int = 0


def _fields(records: Iterable[Any], names: Iterable[str]) -> dict[str, str]:
    names = tuple(names)
    return _json_rows({name: getattr(r, name) for name in names} for r in records)


@dataclass
class BatchStore(ScanStore):
    _kits: dict[int, KitRec] = field(default_factory=dict)
    _kit_by_giai: dict[str, int | None] = field(default_factory=dict)
    _units: dict[int, UnitRec] = field(default_factory=dict)
    _unit_by_key: dict[UnitKey, int | None] = field(default_factory=dict)
    _lots: dict[int, LotRec] = field(default_factory=dict)
    _lot_keys: set[LotKey] = field(default_factory=set)
    _contents_of: set[int] = field(default_factory=set)
    _changed: dict[str, set[int]] = field(
        default_factory=lambda: {"units": set(), "lots": set(), "kits": set()}
    )
    _added: dict[str, set[int]] = field(default_factory=lambda: {"units": set(), "lots": set()})
    _ids: dict[str, list[int]] = field(default_factory=lambda: {"units": [], "lots": []})
    _budget: dict[str, int] = field(default_factory=lambda: {"units": 1, "lots": 1})
    _journal: list[Callable[[], None]] = field(default_factory=list)
    _ledger: list[dict[str, Any]] = field(default_factory=list)
    _refusals: list[tuple[str, str, bytes]] = field(default_factory=list)

    # ---------------------------------------------------------------- the batch
    async def prefetch(self, keys: BatchKeys) -> None:
        """Fetch and lock what the batch names (kits, then units, then lots, each in id
        order), then the kits those are packed in, then every loaded kit's contents."""
        self._budget = {"units": max(keys.new_units, 1), "lots": max(keys.new_lots, 1)}
        await self._load_kits_by_giai(keys.kit_giais)
        await self._load_units(keys.units)
        await self._load_lots(keys.lots)
        holders = {u.kit_id for u in self._units.values() if u.kit_id}
        holders |= {lt.kit_id for lt in self._lots.values() if lt.kit_id}
        await self._load_kits_by_id(holders)
        await self._load_contents(self._kits)

    def begin_scan(self) -> None:
        self._journal.clear()

    def undo_scan(self) -> None:
        """Put back what the scan changed in memory: it was refused."""
        for undo in reversed(self._journal):
            undo()
        self._journal.clear()

    async def flush(self) -> dict[str, tuple[int, datetime]]:
        """Write the batch; the ledger's sequence number and time of each recorded scan."""
        records: dict[str, dict[int, Any]] = {
            "units": self._units,
            "lots": self._lots,
            "kits": self._kits,
        }
        for table, types, insert in (
            ("units", _UNIT_TYPES, _INSERT_UNITS),
            ("lots", _LOT_TYPES, _INSERT_LOTS),
        ):
            added = sorted(self._added[table])
            if added:
                await self._run(insert, _fields((records[table][i] for i in added), types))
        for table, types, update in (
            ("units", _UNIT_TYPES, _UPDATE_UNITS),
            ("lots", _LOT_TYPES, _UPDATE_LOTS),
            ("kits", _KIT_TYPES, _UPDATE_KITS),
        ):
            changed = sorted(self._changed[table] - self._added.get(table, set()))
            if changed:
                await self._run(update, _fields((records[table][i] for i in changed), types))
        recorded: dict[str, tuple[int, datetime]] = {}
        if self._ledger:
            params = _json_rows(self._ledger)
            for scan_id, seq, recorded_at in await self._all(_RECORD_ALL, params):
                recorded[scan_id] = (seq, recorded_at)
        if self._refusals:
            refused = (dict(zip(_REFUSAL_TYPES, row, strict=True)) for row in self._refusals)
            await self._run(_REFUSE_ALL, _json_rows(refused))
        return recorded

    # ---------------------------------------------------------------- loading
    async def _load_kits_by_giai(self, giais: Iterable[str]) -> None:
        wanted = sorted(set(giais) - self._kit_by_giai.keys())
        if not wanted:
            return
        for giai in wanted:
            self._kit_by_giai[giai] = None
        self._keep_kits(await self._all(_KITS_BY_GIAI, {"giais": wanted}))

    async def _load_kits_by_id(self, kit_ids: Iterable[int]) -> None:
        wanted = sorted(set(kit_ids) - self._kits.keys())
        if wanted:
            self._keep_kits(await self._all(_KITS_BY_ID, {"ids": wanted}))

    def _keep_kits(self, rows: Sequence[Any]) -> None:
        for row in rows:
            if row[0] not in self._kits:  # what is in memory is newer
                kit = _kit(row)
                self._kits[kit.id] = kit
                if kit.giai:
                    self._kit_by_giai[kit.giai] = kit.id

    async def _load_units(self, keys: Iterable[UnitKey]) -> None:
        wanted = sorted(set(keys) - self._unit_by_key.keys())
        if not wanted:
            return
        for key in wanted:
            self._unit_by_key[key] = None
        items, serials = zip(*wanted, strict=True)
        rows = await self._all(_UNITS_BY_KEY, {"items": list(items), "serials": list(serials)})
        self._keep_units(rows)

    def _keep_units(self, rows: Sequence[Any]) -> None:
        for row in rows:
            if row[0] not in self._units:
                unit = _unit(row)
                self._units[unit.id] = unit
                self._unit_by_key[(unit.item_type_id, unit.serial)] = unit.id

    async def _load_lots(self, keys: Iterable[LotKey]) -> None:
        wanted = sorted(set(keys) - self._lot_keys)
        if not wanted:
            return
        self._lot_keys.update(wanted)
        items, lots, depots = zip(*wanted, strict=True)
        params = {"items": list(items), "lots": list(lots), "depots": list(depots)}
        self._keep_lots(await self._all(_LOTS_BY_KEY, params))

    def _keep_lots(self, rows: Sequence[Any]) -> None:
        for row in rows:
            if row[0] not in self._lots:
                lot = _lot(row)
                self._lots[lot.id] = lot

    async def _load_contents(self, kit_ids: Iterable[int]) -> None:
        wanted = sorted(set(kit_ids) - self._contents_of)
        if not wanted:
            return
        self._contents_of.update(wanted)
        self._keep_units(await self._all(_UNITS_IN_KITS, {"ids": wanted}))
        self._keep_lots(await self._all(_LOTS_IN_KITS, {"ids": wanted}))
        item_ids = {u.item_type_id for u in self._units.values()}
        item_ids |= {lt.item_type_id for lt in self._lots.values()}
        missing = sorted(item_ids - self.cache.items_by_id.keys())
        for row in await self._all(_ITEMS_BY_ID, {"ids": missing}) if missing else ():
            item = _item(row)
            self.cache.items_by_id[item.id] = item
            if item.gtin:
                self.cache.items.setdefault(item.gtin, item)

    async def _new_id(self, table: str) -> int:
        if not self._ids[table]:
            params = {"sequence": f"inventory.{table}_id_seq", "count": self._budget[table]}
            self._ids[table] = [row[0] for row in await self._all(_NEXT_IDS, params)]
        return self._ids[table].pop(0)

    # ---------------------------------------------------------------- changes in memory
    def _change(self, record: Any, table: str, values: dict[str, Any]) -> None:
        old = {name: getattr(record, name) for name in values}
        for name, value in values.items():
            setattr(record, name, value)
        changed = self._changed[table]
        was_changed = record.id in changed
        changed.add(record.id)

        def undo() -> None:
            for name, value in old.items():
                setattr(record, name, value)
            if not was_changed:
                changed.discard(record.id)

        self._journal.append(undo)

    def _add(self, record: UnitRec | LotRec, table: str) -> None:
        rows: dict[int, Any] = self._units if table == "units" else self._lots
        rows[record.id] = record
        self._added[table].add(record.id)
        if isinstance(record, UnitRec):
            self._unit_by_key[(record.item_type_id, record.serial)] = record.id

        def undo() -> None:
            del rows[record.id]
            self._added[table].discard(record.id)
            if isinstance(record, UnitRec):
                self._unit_by_key[(record.item_type_id, record.serial)] = None

        self._journal.append(undo)

    # ---------------------------------------------------------------- ScanStore's calls
    async def kit(
        self, *, giai: str | None = None, kit_id: int | None = None, lock: bool = True
    ) -> KitRec | None:
        if giai:
            await self._load_kits_by_giai([giai])
            kit_id = self._kit_by_giai[giai]
        elif kit_id is not None:
            await self._load_kits_by_id([kit_id])
        return self._kits.get(kit_id) if kit_id is not None else None

    async def update_kit(self, kit: KitRec, **values: Any) -> None:
        self._change(kit, "kits", values)

    async def kit_contents(self, kit_id: int) -> model.KitContents:
        await self._load_contents([kit_id])
        code = self.cache.items_by_id
        units = sorted((u for u in self._units.values() if u.kit_id == kit_id), key=_by_id)
        lots = sorted(
            (lt for lt in self._lots.values() if lt.kit_id == kit_id and lt.quantity > 0),
            key=_by_id,
        )
        return model.KitContents(
            tuple(
                model.Unit(
                    code[u.item_type_id].code,
                    u.serial,
                    u.condition,
                    u.expires_on,
                    u.last_inspected_on,
                    u.next_inspection_on,
                )
                for u in units
            ),
            tuple(
                model.Lot(
                    code[lt.item_type_id].code,
                    lt.quantity,
                    lt.lot_number,
                    lt.expires_on,
                    lt.next_inspection_on,
                    lt.condition,
                )
                for lt in lots
            ),
        )

    async def unit(
        self, item_type_id: int, serial: str, *, lock: bool = True, with_kit: bool = False
    ) -> UnitRec | None:
        await self._load_units([(item_type_id, serial)])
        unit_id = self._unit_by_key[(item_type_id, serial)]
        return self._units[unit_id] if unit_id is not None else None

    async def add_unit(self, **values: Any) -> UnitRec | None:
        if await self.unit(values["item_type_id"], values["serial"]) is not None:
            return None
        unit = UnitRec(
            id=await self._new_id("units"),
            item_type_id=values["item_type_id"],
            serial=values["serial"],
            kit_id=None,
            depot_id=values["depot_id"],
            location_id=values["location_id"],
            condition=values["condition"],
            expires_on=values["expires_on"],
            last_inspected_on=None,
            next_inspection_on=values["next_inspection_on"],
            retired_on=None,
        )
        self._add(unit, "units")
        return unit

    async def update_unit(self, unit: UnitRec, **values: Any) -> None:
        self._change(unit, "units", values)

    async def lot(
        self, item_type_id: int, lot_number: str, depot_id: int, kit_id: int | None
    ) -> LotRec | None:
        at_depot = await self._lots_of(item_type_id, lot_number, depot_id)
        return next((lt for lt in at_depot if lt.kit_id == kit_id), None)

    async def lots_at_depot(
        self, item_type_id: int, lot_number: str, depot_id: int
    ) -> list[LotRec]:
        at_depot = await self._lots_of(item_type_id, lot_number, depot_id)
        return [lt for lt in at_depot if lt.quantity > 0]

    async def _lots_of(self, item_type_id: int, lot_number: str, depot_id: int) -> list[LotRec]:
        await self._load_lots([(item_type_id, lot_number, depot_id)])
        found = (
            lt
            for lt in self._lots.values()
            if (lt.item_type_id, lt.lot_number, lt.depot_id) == (item_type_id, lot_number, depot_id)
        )
        return sorted(found, key=_by_id)

    async def receive_lot(
        self,
        item_type_id: int,
        lot_number: str,
        depot_id: int,
        quantity: int,
        location_id: int | None,
        expires_on: date | None,
    ) -> LotRec | None:
        loose = await self.lot(item_type_id, lot_number, depot_id, None)
        if loose is None:
            return await self.add_lot(
                item_type_id=item_type_id,
                lot_number=lot_number,
                quantity=quantity,
                depot_id=depot_id,
                location_id=location_id,
                condition=Condition.SERVICEABLE,
                expires_on=expires_on,
            )
        if expires_on and loose.expires_on not in (None, expires_on):
            return None
        self._change(loose, "lots", {"quantity": loose.quantity + quantity})
        return loose

    async def add_lot(self, **values: Any) -> LotRec:
        lot = LotRec(
            id=await self._new_id("lots"),
            item_type_id=values["item_type_id"],
            lot_number=values["lot_number"],
            kit_id=values.get("kit_id"),
            depot_id=values["depot_id"],
            location_id=values.get("location_id"),
            quantity=values["quantity"],
            condition=values["condition"],
            expires_on=values.get("expires_on"),
            next_inspection_on=values.get("next_inspection_on"),
        )
        self._add(lot, "lots")
        return lot

    async def update_lot(self, lot: LotRec, **values: Any) -> None:
        self._change(lot, "lots", values)

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
        """Kept for flush(); its sequence number and time are known only then."""
        self._ledger.append(
            _ledger_params(cmd, depot, refs, quantity, payload, change, fingerprint)
        )
        return StoredScan(cmd.scan_id, payload, 0, datetime.min)

    async def refuse(self, scan_id: str, fingerprint: str, status: bytes) -> None:
        self._refusals.append((scan_id, fingerprint, status))

    def forget_rows(self) -> None:
        """Nothing to forget: a refused scan's changes are undone by undo_scan()."""

    # The other calls (transfer lines, counts, the ledger's last issue, moving a
    # kit's contents) belong to actions outside BATCH_ACTIONS, which never run here.


def _by_id(record: UnitRec | LotRec) -> int:
    return record.id
