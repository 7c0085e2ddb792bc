"""The raw SQL row of RecordScans: a batch's statements sent straight to PostgreSQL.

Each batch sends what the server's set-based batch path sends (the very
statements of services/inventory/adapters/batch_store.py, so this row
cannot drift from them), the way it sends them (scan_connections.run_pooled,
on a connection opened as the pool's are), in the same two round trips:

1. BEGIN, and one call of inventory.prefetch_scans(): claim the scan ids,
   lock the kits, units and lots the batch names, then the kits those are
   packed in, read every kit's contents, take ids for new rows;
2. write the new and changed units and lots, the ledger and change-feed
   rows, and COMMIT.

What it leaves out is everything but the database: no gRPC, no protobuf,
no label parsing, no rules and no kit re-assessment (the benchmark's kits
stay READY, so the server writes no kit either). The scans' changes are
worked out in a few lines of plain Python. It is the database floor of the
current design: the server cannot record batches faster than this.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from services.inventory.adapters import batch_store as sql
from services.inventory.adapters.scan_connections import run_pooled

if TYPE_CHECKING:
    from benchmarks.scan_bench import Spec

ACTIONS = {"RECEIVE_UNIT": "RECEIVE", "INSPECT": "INSPECT_PASS", "PACK": "PACK", "UNPACK": "UNPACK"}
UNIT_FIELDS = (
    "id",
    "item_type_id",
    "serial",
    "kit_id",
    "depot_id",
    "location_id",
    "condition",
    "expires_on",
    "last_inspected_on",
    "next_inspection_on",
    "retired_on",
)
LOT_FIELDS = (
    "id",
    "item_type_id",
    "lot_number",
    "kit_id",
    "depot_id",
    "location_id",
    "quantity",
    "condition",
    "expires_on",
    "next_inspection_on",
)


DEPOT = "SELECT id FROM inventory.depots WHERE code = %(code)s"
ITEMS = "SELECT gtin, id FROM inventory.item_types WHERE gtin = ANY(%(gtins)s)"
BINS = "SELECT label, id FROM inventory.locations WHERE depot_id = %(depot)s"
INTERVAL = "SELECT inspection_interval_days FROM inventory.item_types WHERE id = %(id)s"


@dataclass(frozen=True)
class Places:
    """The ids the scans refer to, read once before the row starts."""

    depot_id: int
    depot_code: str
    unit_item: int  # the serial item type
    lot_item: int  # the lot item type
    bins: dict[str, int]  # bin label -> location id
    inspection_days: int
    payload: bytes  # a scan's stored answer, of a typical size


async def places(
    conn: psycopg.AsyncConnection[Any], depot_code: str, gtins: Sequence[str]
) -> Places:
    depot = await (await conn.execute(DEPOT, {"code": depot_code})).fetchone()
    assert depot is not None
    items = dict(await (await conn.execute(ITEMS, {"gtins": list(gtins)})).fetchall())
    bins = dict(await (await conn.execute(BINS, {"depot": depot[0]})).fetchall())
    days = await (await conn.execute(INTERVAL, {"id": items[gtins[0]]})).fetchone()
    await conn.commit()
    assert days is not None
    payload = b"\x0a\x24" + str(uuid.uuid4()).encode() + b"\x10\x01" + b"\x1a\x40" + b"x" * 64
    return Places(depot[0], depot_code, items[gtins[0]], items[gtins[1]], bins, days[0], payload)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def record_batch(
    conn: psycopg.AsyncConnection[Any], specs: Sequence[Spec], at: Places, today: date
) -> None:
    """One batch of scans, applied and committed as the server's batch path does."""
    scan_ids = [str(uuid.uuid4()) for _ in specs]
    giais = sorted({s.kit_giai for s in specs if s.kind == "PACK"})
    unit_keys = sorted({(at.unit_item, s.key) for s in specs if s.kind != "RECEIVE_LOT"})
    lot_keys = sorted({(at.lot_item, s.key, at.depot_id) for s in specs if s.kind == "RECEIVE_LOT"})
    new_units = sum(s.kind == "RECEIVE_UNIT" for s in specs)
    new_lots = sum(s.kind == "RECEIVE_LOT" for s in specs)
    params = {
        "claim": _json(scan_ids),
        "giais": _json(giais),
        "units": _json(unit_keys),
        "lots": _json(lot_keys),
        "new_units": new_units,
        "new_lots": new_lots,
    }
    cursor = psycopg.AsyncClientCursor(conn)
    rows = await (await run_pooled(cursor, sql._PREFETCH, params)).fetchall()
    parts: dict[int, list[Any]] = {}
    for found in rows:
        parts.setdefault(found[0], []).append(found)
    if parts.get(sql._CLAIM_ROW):
        raise RuntimeError("a fresh scan id was seen before")
    kit_rows = [found[sql._KIT_AT] for found in parts.get(sql._KIT_ROW, ())]
    kit_by_giai = {kit[2]: kit[0] for kit in kit_rows if kit[2] in giais}
    kit_labels = {kit[0]: kit[1] for kit in kit_rows}
    # Units and lots by key (a kit's contents come too, as the server reads them).
    wanted_units, wanted_lots = set(unit_keys), set(lot_keys)
    unit_rows: dict[str, dict[str, Any]] = {}
    for found in parts.get(sql._UNIT_ROW, ()):
        got = dict(zip(UNIT_FIELDS, found[sql._UNIT_AT], strict=True))
        if (got["item_type_id"], got["serial"]) in wanted_units:
            unit_rows.setdefault(got["serial"], got)
    lot_rows: dict[str, dict[str, Any]] = {}
    for found in parts.get(sql._LOT_ROW, ()):
        got = dict(zip(LOT_FIELDS, found[sql._LOT_AT], strict=True))
        if (got["item_type_id"], got["lot_number"], got["depot_id"]) in wanted_lots:
            lot_rows.setdefault(got["lot_number"], got)
    unit_ids = sorted(found[sql._NEW_ID_AT] for found in parts.get(sql._NEW_UNIT_ID, ()))
    lot_ids = sorted(found[sql._NEW_ID_AT] for found in parts.get(sql._NEW_LOT_ID, ()))
    added_units: list[dict[str, Any]] = []
    added_lots: dict[str, dict[str, Any]] = {}
    ledger = []
    next_due = (today + timedelta(days=at.inspection_days)).isoformat()
    for scan_id, spec in zip(scan_ids, specs, strict=True):
        row: dict[str, Any] = {"unit_id": None, "lot_id": None, "kit_id": None}
        location = at.bins.get(spec.bin_label)
        if spec.kind == "RECEIVE_UNIT":
            unit = dict.fromkeys(UNIT_FIELDS)
            unit.update(
                id=unit_ids.pop(0),
                item_type_id=at.unit_item,
                serial=spec.key,
                depot_id=at.depot_id,
                location_id=location,
                condition="SERVICEABLE",
                next_inspection_on=next_due,
            )
            added_units.append(unit)
            row["unit_id"] = unit["id"]
        elif spec.kind == "RECEIVE_LOT":
            lot = lot_rows.get(spec.key) or added_lots.get(spec.key)
            if lot is None:
                lot = dict.fromkeys(LOT_FIELDS)
                lot.update(
                    id=lot_ids.pop(0),
                    item_type_id=at.lot_item,
                    lot_number=spec.key,
                    depot_id=at.depot_id,
                    location_id=location,
                    quantity=0,
                    condition="SERVICEABLE",
                )
                added_lots[spec.key] = lot
            lot["quantity"] += spec.quantity
            row["lot_id"] = lot["id"]
        else:
            unit = unit_rows[spec.key]
            row.update(unit_id=unit["id"], kit_id=unit["kit_id"])
            if spec.kind == "PACK":
                unit.update(kit_id=kit_by_giai[spec.kit_giai], location_id=None)
                row["kit_id"] = unit["kit_id"]
            elif spec.kind == "UNPACK":
                unit.update(kit_id=None, location_id=location)
            else:
                unit.update(last_inspected_on=today, next_inspection_on=next_due)
        ledger.append(_ledger_row(scan_id, spec, at, row, location, kit_labels.get(row["kit_id"])))
    params = {
        "new_units": _json(added_units),
        "new_lots": _json(list(added_lots.values())),
        "units": _json(list(unit_rows.values())),
        "lots": _json([lot for key, lot in lot_rows.items() if key not in added_lots]),
        "ledger": _json(ledger),
    }
    written_parts = frozenset(name for name, v in params.items() if v != "[]") - {"ledger"}
    written = await run_pooled(cursor, sql.write_statement(written_parts), params, commit=True)
    if len(await written.fetchall()) != len(specs):
        raise RuntimeError("the ledger did not take every scan")


def _ledger_row(
    scan_id: str,
    spec: Spec,
    at: Places,
    refs: dict[str, Any],
    location: int | None,
    kit_label: str | None,
) -> dict[str, Any]:
    lot = spec.kind == "RECEIVE_LOT"
    action = "RECEIVE" if lot else ACTIONS[spec.kind]
    return {
        "scan_id": scan_id,
        "action": action,
        "code": spec.code,
        "depot_id": at.depot_id,
        "location_id": location,
        **refs,
        "quantity": spec.quantity if lot else 1,
        "operator": "bench",
        "device": "HH-BENCH",
        "override_reason": "",
        "result": "\\x" + at.payload.hex(),
        "fingerprint": scan_id.replace("-", "") * 2,
        "recorded_by": "scan-bench",
        "request_id": "",
        "feed_kind": "LOT" if lot else "UNIT",
        "feed_key": spec.key,
        "feed_depot_code": at.depot_code,
        "feed_action": action,
        "feed_kit_label": kit_label or "",
        "feed_kit_state": "READY" if kit_label else "",
    }
