"""A batch of scans, set-based: rows fetched up front, changed in memory, written at once.

A `BatchStore` answers the same calls as the `ScanStore`, for the actions that
only touch kits, units and lots (see `BATCH_ACTIONS`). Before the scans run,
`prefetch` fetches and locks every kit, unit and lot the batch names, the kits
they are packed in, and those kits' contents, in one call of
inventory.prefetch_scans() sent with BEGIN (one round trip; its statements
run in order, so the locks are taken kits, units, lots, then the kits
holding those). The scans then run in memory: each change is journalled, so
a refused scan is undone alone (what a savepoint per scan did). `flush`
writes the outcome in one statement, with COMMIT: new units and lots,
changed units, lots and kits, the kept refusals (each part only when it has
rows), and the ledger rows with their change-feed rows.

A row not in memory has no change waiting to be written, so a row that the
prefetch missed is read from the database when asked for (and locked) and is
as current as one fetched up front; a query by anything but a key (a kit's
contents, a lot's stock at a depot) is answered from memory once every row
that can match it has been loaded, through indexes kept as rows change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from services.inventory.adapters.scan_store import (
    _ITEM_COLUMNS,
    _KIT_COLUMNS,
    _LOT_COLUMNS,
    _UNIT_COLUMNS,
    DepotRef,
    KitRec,
    LedgerRefs,
    LotRec,
    Prior,
    ScanStore,
    StoredScan,
    UnitRec,
    _item,
    _ledger_params,
    priors,
)
from services.inventory.domain import commands, model
from services.inventory.domain.model import Condition, KitState, ScanAction

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

# Lists go as one JSON parameter each (orjson is C; psycopg dumps a Python list
# element by element, about 1.5 us each, and a batch sends hundreds).
_TEXTS = "ARRAY(SELECT json_array_elements_text(%({})s::json))"
_INTS = "ARRAY(SELECT json_array_elements_text(%({})s::json)::int)"
# A group's scans claimed and its rows locked and read, in one statement (migration
# a41c7e2d9b30): each answer row is one `part`, its columns at the slice below.
_PREFETCH = (
    "SELECT * FROM inventory.prefetch_scans(%(claim)s::json, %(giais)s::json,"
    " %(units)s::json, %(lots)s::json, %(new_units)s::int, %(new_lots)s::int)"
)
_CLAIM_ROW, _KIT_ROW, _UNIT_ROW, _LOT_ROW, _NEW_UNIT_ID, _NEW_LOT_ID = range(6)
_CLAIM_AT = slice(1, 7)  # as claim_scans() answers
_KIT_AT = slice(7, 15)  # _KIT_COLUMNS
_UNIT_AT = slice(15, 26)  # _UNIT_COLUMNS
_LOT_AT = slice(26, 36)  # _LOT_COLUMNS
_NEW_ID_AT = 36
_KITS_BY_GIAI = (
    f"SELECT {_KIT_COLUMNS} FROM inventory.kits"
    f" WHERE giai = ANY({_TEXTS.format('giais')}) ORDER BY id FOR UPDATE"
)
_KITS_BY_ID = (
    f"SELECT {_KIT_COLUMNS} FROM inventory.kits"
    f" WHERE id = ANY({_INTS.format('ids')}) ORDER BY id FOR UPDATE"
)
# Units and lots by key: one probe of the key's unique index per key (LATERAL,
# kept apart by OFFSET 0), each row locked as it is found, in the keys' order
# (callers send them sorted). A join would not do: the planner guesses 100
# rows for any JSON list and then reads the whole table into a hash instead
# (every unit, twice a transaction, when a transaction holds a few scans).
_UNITS_BY_KEY = (
    "SELECT u.* FROM json_array_elements(%(keys)s::json) AS k, LATERAL"
    f" (SELECT {_UNIT_COLUMNS} FROM inventory.units"
    " WHERE item_type_id = (k->>0)::int AND serial = k->>1 OFFSET 0) AS u"
    " FOR UPDATE OF u"
)
_LOTS_BY_KEY = (
    "SELECT lt.* FROM json_array_elements(%(keys)s::json) AS k, LATERAL"
    f" (SELECT {_LOT_COLUMNS} FROM inventory.lots"
    " WHERE item_type_id = (k->>0)::int AND lot_number = k->>1 AND depot_id = (k->>2)::int"
    " ORDER BY id OFFSET 0) AS lt"
    " FOR UPDATE OF lt"
)
# Contents are read without row locks, as a lone scan reads them: the kit is locked.
_UNITS_IN_KITS = (
    f"SELECT {_UNIT_COLUMNS} FROM inventory.units WHERE kit_id = ANY({_INTS.format('ids')})"
)
_LOTS_IN_KITS = (
    f"SELECT {_LOT_COLUMNS} FROM inventory.lots WHERE kit_id = ANY({_INTS.format('ids')})"
)
_ITEMS_BY_ID = (
    f"SELECT {_ITEM_COLUMNS} FROM inventory.item_types WHERE id = ANY({_INTS.format('ids')})"
)
# Ids for the units and lots the batch may add, both sequences in one row.
_NEXT_IDS = (
    "SELECT ARRAY(SELECT nextval('inventory.units_id_seq') FROM generate_series(1, %(units)s)),"
    " ARRAY(SELECT nextval('inventory.lots_id_seq') FROM generate_series(1, %(lots)s))"
)

# Columns written, with their types for json_to_recordset(). A row goes as
# the record itself (orjson writes a dataclass as an object, a date in ISO
# form, an enum as its value); keys the statement does not name are ignored.
_UNIT_KEYS = {"id": "bigint", "item_type_id": "int", "serial": "text"}
_UNIT_STATE = {
    "kit_id": "int",
    "depot_id": "int",
    "location_id": "int",
    "condition": "inventory.condition",
    "expires_on": "date",
    "last_inspected_on": "date",
    "next_inspection_on": "date",
    "retired_on": "date",
}
_LOT_KEYS = {"id": "bigint", "item_type_id": "int", "lot_number": "text"}
_LOT_STATE = {
    "kit_id": "int",
    "depot_id": "int",
    "location_id": "int",
    "quantity": "int",
    "condition": "inventory.condition",
    "expires_on": "date",
    "next_inspection_on": "date",
}
_KIT_STATE = {
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


def _rows(param: str, types: dict[str, str]) -> str:
    """The rows of one JSON parameter, typed column by column.

    JSON, not an array per column: psycopg dumps arrays element by element in
    Python, which cost more than the rest of the write; orjson is C.
    """
    columns = ", ".join(f"{name} {kind}" for name, kind in types.items())
    return f"json_to_recordset(%({param})s::json) AS v({columns})"


def _insert(table: str, param: str, types: dict[str, str]) -> str:
    names = ", ".join(types)
    return f"INSERT INTO inventory.{table} ({names}) SELECT {names} FROM {_rows(param, types)}"


def _update(table: str, param: str, key: str, types: dict[str, str]) -> str:
    """Rows changed by id. The ids are named to the table apart (= ANY), so that it is
    read through its primary key, not scanned whole to be joined to the JSON rows."""
    assignments = ", ".join(f"{name} = v.{name}" for name in types)
    rows = _rows(param, {"id": key, **types})
    ids = f"ARRAY(SELECT (e->>'id')::{key} FROM json_array_elements(%({param})s::json) AS e)"
    return (
        f"UPDATE inventory.{table} AS t SET {assignments} FROM {rows}"
        f" WHERE t.id = ANY({ids}) AND t.id = v.id"
    )


_LEDGER_ROWS = ", ".join(f"{name} {kind}" for name, kind in (_LEDGER_TYPES | _FEED_TYPES).items())
# The parts of a batch's write before its ledger rows, each a JSON parameter of the same name.
_WRITE_PARTS = {
    "new_units": _insert("units", "new_units", _UNIT_KEYS | _UNIT_STATE),
    "new_lots": _insert("lots", "new_lots", _LOT_KEYS | _LOT_STATE),
    "units": _update("units", "units", "bigint", _UNIT_STATE),
    "lots": _update("lots", "lots", "bigint", _LOT_STATE),
    "kits": _update("kits", "kits", "int", _KIT_STATE),
    "refusals": _insert("scan_refusals", "refusals", _REFUSAL_TYPES),
}
_LEDGER = (
    "ledger AS (SELECT * FROM ROWS FROM"
    f" (json_to_recordset(%(ledger)s::json) AS ({_LEDGER_ROWS}))"
    f" WITH ORDINALITY AS r({', '.join(_LEDGER_TYPES | _FEED_TYPES)}, n)),"
    " feed AS (INSERT INTO inventory.changes"
    " (scan_id, kind, key, depot_code, action, kit_label, kit_state)"
    " SELECT scan_id, feed_kind, feed_key, feed_depot_code, feed_action, feed_kit_label,"
    " feed_kit_state FROM ledger ORDER BY n)"
    f" INSERT INTO inventory.scans ({', '.join(_LEDGER_TYPES)})"
    f" SELECT {', '.join(_LEDGER_TYPES)} FROM ledger ORDER BY n"
    " RETURNING scan_id, seq, recorded_at"
)


@functools.cache
def write_statement(parts: frozenset[str] = frozenset(_WRITE_PARTS)) -> str:
    """Everything a batch changed, in one statement (its parts see one snapshot and
    touch different rows; foreign keys are checked once all of them are done): the
    `parts` it has rows for (new units and lots, changed ones, changed kits, kept
    refusals), then the ledger rows in the batch's order with their change-feed rows.

    A part with no rows is left out rather than sent empty: a group of one or two
    scans has two or three of the six, and each part costs PostgreSQL a plan node
    to start and a JSON document to read, rows or not.
    """
    named = [f"{name} AS ({sql})" for name, sql in _WRITE_PARTS.items() if name in parts]
    return "WITH " + ", ".join([*named, _LEDGER])


# Rows as ScanStore's _kit(), _unit() and _lot() read them (the same columns), but
# with the enums found in a dict: Enum(value) costs about 1 us, and a batch
# reads hundreds of rows.
_CONDITIONS = {member.value: member for member in Condition}
_KIT_STATES = {member.value: member for member in KitState}


def _kit(row: Sequence[Any]) -> KitRec:
    return KitRec(row[0], row[1], row[2], row[3], row[4], _KIT_STATES[row[5]], row[6], row[7])


def _unit(row: Sequence[Any]) -> UnitRec:
    return UnitRec(row[0], row[1], row[2], row[3], row[4], row[5], _CONDITIONS[row[6]], *row[7:11])


def _lot(row: Sequence[Any]) -> LotRec:
    return LotRec(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], _CONDITIONS[row[7]], row[8], row[9]
    )


def _json(rows: Iterable[Any]) -> str:
    return orjson.dumps(list(rows)).decode()


def _bytea(value: bytes) -> str:
    """How a bytea is written in JSON for PostgreSQL to read back."""
    return "\\x" + value.hex()


@dataclass
class BatchKeys:
    """What a batch's scans name, found by parsing their labels before any of them runs."""

    kit_giais: set[str] = field(default_factory=set)
    units: set[UnitKey] = field(default_factory=set)
    lots: set[LotKey] = field(default_factory=set)
    # How many units and lot rows the batch may add at most (ids are taken up front).
    new_units: int = 0
    new_lots: int = 0


def _lot_key(lot: LotRec) -> LotKey:
    return (lot.item_type_id, lot.lot_number, lot.depot_id)


@dataclass
class _Index:
    """Which rows are in which kit, and which lot rows share a key: kept as rows change."""

    units_in: dict[int | None, set[int]] = field(default_factory=dict)
    lots_in: dict[int | None, set[int]] = field(default_factory=dict)
    lots_at: dict[LotKey, set[int]] = field(default_factory=dict)

    def add(self, record: UnitRec | LotRec) -> None:
        if isinstance(record, UnitRec):
            self.units_in.setdefault(record.kit_id, set()).add(record.id)
        else:
            self.lots_in.setdefault(record.kit_id, set()).add(record.id)
            self.lots_at.setdefault(_lot_key(record), set()).add(record.id)

    def drop(self, record: UnitRec | LotRec) -> None:
        if isinstance(record, UnitRec):
            self.units_in[record.kit_id].discard(record.id)
        else:
            self.lots_in[record.kit_id].discard(record.id)
            self.lots_at[_lot_key(record)].discard(record.id)


_INDEXED = frozenset({"kit_id", "item_type_id", "lot_number", "depot_id"})


@dataclass
class BatchStore(ScanStore):
    _kits: dict[int, KitRec] = field(default_factory=dict)
    _kit_by_giai: dict[str, int | None] = field(default_factory=dict)
    _units: dict[int, UnitRec] = field(default_factory=dict)
    _unit_by_key: dict[UnitKey, int | None] = field(default_factory=dict)
    _lots: dict[int, LotRec] = field(default_factory=dict)
    _lot_keys: set[LotKey] = field(default_factory=set)
    _contents_of: set[int] = field(default_factory=set)
    _index: _Index = field(default_factory=_Index)
    _changed: dict[str, set[int]] = field(
        default_factory=lambda: {"units": set(), "lots": set(), "kits": set()}
    )
    _added: dict[str, set[int]] = field(default_factory=lambda: {"units": set(), "lots": set()})
    _ids: dict[str, list[int]] = field(default_factory=lambda: {"units": [], "lots": []})
    _budget: dict[str, int] = field(default_factory=lambda: {"units": 1, "lots": 1})
    _journal: list[Callable[[], None]] = field(default_factory=list)
    _ledger: list[dict[str, Any]] = field(default_factory=list)
    _refusals: list[dict[str, str]] = field(default_factory=list)

    # ---------------------------------------------------------------- the batch
    async def prefetch(self, keys: BatchKeys, claim: Sequence[str] = ()) -> dict[str, Prior]:
        """Claim the scan ids (`claim`), fetch and lock what the batch names (kits, then
        units, then lots, each in id order), then the kits those are packed in, read
        every loaded kit's contents and take ids for the rows it may add: one statement
        (inventory.prefetch_scans), sent with the transaction's BEGIN in one round trip.
        What the claimed scans got before is returned (see ScanStore.claim).
        """
        self._budget = {"units": max(keys.new_units, 1), "lots": max(keys.new_lots, 1)}
        giais = sorted(keys.kit_giais - self._kit_by_giai.keys())
        units = sorted(keys.units - self._unit_by_key.keys())
        lots = sorted(keys.lots - self._lot_keys)
        for giai in giais:
            self._kit_by_giai[giai] = None
        for unit_key in units:
            self._unit_by_key[unit_key] = None
        self._lot_keys.update(lots)
        params = {
            "claim": _json(claim),
            "giais": _json(giais),
            "units": _json(units),
            "lots": _json(lots),
            "new_units": keys.new_units,
            "new_lots": keys.new_lots,
        }
        rows = await self._all(_PREFETCH, params)  # with BEGIN, on a pooled connection
        found = self._keep_prefetched(rows)
        await self._load_items()
        return found

    def _keep_prefetched(self, rows: Sequence[Any]) -> dict[str, Prior]:
        """prefetch_scans()'s rows kept, by part; what the claimed scans got before."""
        claimed, kits, units, lots = [], [], [], []
        new_ids: dict[int, list[int]] = {_NEW_UNIT_ID: [], _NEW_LOT_ID: []}
        for row in rows:
            part = row[0]
            if part == _UNIT_ROW:
                units.append(row[_UNIT_AT])
            elif part == _LOT_ROW:
                lots.append(row[_LOT_AT])
            elif part == _KIT_ROW:
                kits.append(row[_KIT_AT])
            elif part == _CLAIM_ROW:
                claimed.append(row[_CLAIM_AT])
            else:
                new_ids[part].append(row[_NEW_ID_AT])
        self._keep_kits(kits)
        self._contents_of.update(kit[0] for kit in kits)
        self._keep_units(units)
        self._keep_lots(lots)
        if new_ids[_NEW_UNIT_ID] or new_ids[_NEW_LOT_ID]:
            self._take_ids(sorted(new_ids[_NEW_UNIT_ID]), sorted(new_ids[_NEW_LOT_ID]))
        return priors(claimed)

    def begin_scan(self) -> None:
        self._journal.clear()

    def undo_scan(self) -> None:
        """Put back what the scan changed in memory: it was refused."""
        for undo in reversed(self._journal):
            undo()
        self._journal.clear()

    async def flush(self, *, commit: bool = False) -> dict[str, tuple[int, datetime]]:
        """Write the batch, and with `commit` commit it in the same round trip; the
        ledger's sequence number and time of each recorded scan."""
        if not (self._ledger or self._refusals):
            if commit:
                await self.conn.commit()
            return {}  # nothing was accepted nor kept: nothing changed either
        units, lots = self._units, self._lots
        rows_of: dict[str, Sequence[Any]] = {
            "new_units": [units[i] for i in sorted(self._added["units"])],
            "new_lots": [lots[i] for i in sorted(self._added["lots"])],
            "units": [units[i] for i in sorted(self._changed["units"] - self._added["units"])],
            "lots": [lots[i] for i in sorted(self._changed["lots"] - self._added["lots"])],
            "kits": [self._kits[i] for i in sorted(self._changed["kits"])],
            "refusals": self._refusals,
        }
        params = {name: _json(rows) for name, rows in rows_of.items() if rows}
        params["ledger"] = _json(self._ledger)
        write = write_statement(frozenset(params) - {"ledger"})
        rows = await (await self._execute(write, params, commit=commit)).fetchall()
        return {scan_id: (seq, recorded_at) for scan_id, seq, recorded_at in rows}

    # ---------------------------------------------------------------- loading
    async def _load_kits_by_giai(self, giais: Iterable[str]) -> None:
        wanted = sorted(set(giais) - self._kit_by_giai.keys())
        if not wanted:
            return
        for giai in wanted:
            self._kit_by_giai[giai] = None
        self._keep_kits(await self._all(_KITS_BY_GIAI, {"giais": _json(wanted)}))

    async def _load_kits_by_id(self, kit_ids: Iterable[int]) -> None:
        wanted = sorted(set(kit_ids) - self._kits.keys())
        if wanted:
            self._keep_kits(await self._all(_KITS_BY_ID, _ids(wanted)))

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
        self._keep_units(await self._all(_UNITS_BY_KEY, _unit_params(wanted)))

    def _keep_units(self, rows: Sequence[Any]) -> None:
        for row in rows:
            if row[0] not in self._units:
                unit = _unit(row)
                self._units[unit.id] = unit
                self._unit_by_key[(unit.item_type_id, unit.serial)] = unit.id
                self._index.add(unit)

    async def _load_lots(self, keys: Iterable[LotKey]) -> None:
        wanted = sorted(set(keys) - self._lot_keys)
        if not wanted:
            return
        self._lot_keys.update(wanted)
        self._keep_lots(await self._all(_LOTS_BY_KEY, _lot_params(wanted)))

    def _keep_lots(self, rows: Sequence[Any]) -> None:
        for row in rows:
            if row[0] not in self._lots:
                lot = _lot(row)
                self._lots[lot.id] = lot
                self._index.add(lot)

    async def _load_contents(self, kit_ids: Iterable[int]) -> None:
        wanted = sorted(set(kit_ids) - self._contents_of)
        if not wanted:
            return
        self._contents_of.update(wanted)
        self._keep_units(await self._all(_UNITS_IN_KITS, _ids(wanted)))
        self._keep_lots(await self._all(_LOTS_IN_KITS, _ids(wanted)))
        await self._load_items()

    async def _load_items(self) -> None:
        """The item types of every loaded unit and lot (kit contents name them by code)."""
        item_ids = {u.item_type_id for u in self._units.values()}
        item_ids |= {lt.item_type_id for lt in self._lots.values()}
        missing = sorted(item_ids - self.cache.items_by_id.keys())
        for row in await self._all(_ITEMS_BY_ID, _ids(missing)) if missing else ():
            item = _item(row)
            self.cache.items_by_id[item.id] = item
            if item.gtin:
                self.cache.items.setdefault(item.gtin, item)

    def _take_ids(self, units: list[int], lots: list[int]) -> None:
        """Ids to hand out, the smallest first (from the end of each list)."""
        self._ids["units"] += reversed(units)
        self._ids["lots"] += reversed(lots)

    async def _new_id(self, table: str) -> int:
        if not self._ids[table]:
            params = {"units": 0, "lots": 0, table: self._budget[table]}
            self._take_ids(*await self._one(_NEXT_IDS, params))
        return self._ids[table].pop()

    # ---------------------------------------------------------------- changes in memory
    def _change(self, record: Any, table: str, values: dict[str, Any]) -> None:
        old = {name: getattr(record, name) for name in values}
        indexed = table != "kits" and not _INDEXED.isdisjoint(values)
        if indexed:
            self._index.drop(record)
        for name, value in values.items():
            setattr(record, name, value)
        if indexed:
            self._index.add(record)
        changed = self._changed[table]
        was_changed = record.id in changed
        changed.add(record.id)

        def undo() -> None:
            if indexed:
                self._index.drop(record)
            for name, value in old.items():
                setattr(record, name, value)
            if indexed:
                self._index.add(record)
            if not was_changed:
                changed.discard(record.id)

        self._journal.append(undo)

    def _add(self, record: UnitRec | LotRec, table: str) -> None:
        rows: dict[int, Any] = self._units if table == "units" else self._lots
        rows[record.id] = record
        self._added[table].add(record.id)
        self._index.add(record)
        if isinstance(record, UnitRec):
            self._unit_by_key[(record.item_type_id, record.serial)] = record.id

        def undo() -> None:
            del rows[record.id]
            self._added[table].discard(record.id)
            self._index.drop(record)
            if isinstance(record, UnitRec):
                self._unit_by_key[(record.item_type_id, record.serial)] = None

        self._journal.append(undo)

    # ---------------------------------------------------------------- ScanStore's calls
    async def kit(
        self, *, giai: str | None = None, kit_id: int | None = None, lock: bool = True
    ) -> KitRec | None:
        if giai:
            if giai not in self._kit_by_giai:
                await self._load_kits_by_giai([giai])
            kit_id = self._kit_by_giai[giai]
        elif kit_id is not None and kit_id not in self._kits:
            await self._load_kits_by_id([kit_id])
        return self._kits.get(kit_id) if kit_id is not None else None

    async def update_kit(self, kit: KitRec, **values: Any) -> None:
        self._change(kit, "kits", values)

    async def kit_contents(self, kit_id: int) -> model.KitContents:
        if kit_id not in self._contents_of:
            await self._load_contents([kit_id])
        code = self.cache.items_by_id
        units = sorted(self._index.units_in.get(kit_id, ()))
        lots = sorted(self._index.lots_in.get(kit_id, ()))
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
                for u in map(self._units.__getitem__, units)
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
                for lt in map(self._lots.__getitem__, lots)
                if lt.quantity > 0
            ),
        )

    async def unit(
        self, item_type_id: int, serial: str, *, lock: bool = True, with_kit: bool = False
    ) -> UnitRec | None:
        key = (item_type_id, serial)
        if key not in self._unit_by_key:
            await self._load_units([key])
        unit_id = self._unit_by_key[key]
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
        key = (item_type_id, lot_number, depot_id)
        if key not in self._lot_keys:
            await self._load_lots([key])
        return [self._lots[i] for i in sorted(self._index.lots_at.get(key, ()))]

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
        row = _ledger_params(cmd, depot, refs, quantity, payload, change, fingerprint)
        row["result"] = _bytea(payload)
        self._ledger.append(row)
        return StoredScan(cmd.scan_id, payload, 0, datetime.min)

    async def refuse(self, scan_id: str, fingerprint: str, status: bytes) -> None:
        self._refusals.append(
            {"scan_id": scan_id, "fingerprint": fingerprint, "status": _bytea(status)}
        )

    def forget_rows(self) -> None:
        """Nothing to forget: a refused scan's changes are undone by undo_scan()."""

    # The other calls (transfer lines, counts, the ledger's last issue, moving a
    # kit's contents) belong to actions outside BATCH_ACTIONS, which never run here.


def _unit_params(keys: Sequence[UnitKey]) -> dict[str, str]:
    return {"keys": _json(keys)}


def _lot_params(keys: Sequence[LotKey]) -> dict[str, str]:
    return {"keys": _json(keys)}


def _ids(ids: Iterable[int]) -> dict[str, str]:
    return {"ids": _json(sorted(ids))}
