"""The batch path's lookups by key find what a plain join finds, through the keys' indexes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import orjson
import psycopg
import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from sqlalchemy.engine import make_url

from services.inventory.adapters import batch_store
from tests.api.scan_world import build_world

A = pb.ScanAction

# The lookups as they were written before they probed an index per key: the reference.
_UNITS_JOINED = (
    f"SELECT {batch_store._UNIT_COLUMNS} FROM inventory.units WHERE (item_type_id, serial) IN"
    " (SELECT (k->>0)::int, k->>1 FROM json_array_elements(%(keys)s::json) AS k)"
)
_LOTS_JOINED = (
    f"SELECT {batch_store._LOT_COLUMNS} FROM inventory.lots"
    " WHERE (item_type_id, lot_number, depot_id) IN"
    " (SELECT (k->>0)::int, k->>1, (k->>2)::int FROM json_array_elements(%(keys)s::json) AS k)"
)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(url) as connection:
        yield connection


async def _rows(conn: psycopg.AsyncConnection[Any], sql: str, keys: list[Any]) -> list[Any]:
    cur = await conn.execute(sql, {"keys": orjson.dumps(keys).decode()})
    return await cur.fetchall()


async def _ids(conn: psycopg.AsyncConnection[Any], sql: str, params: dict[str, Any]) -> Any:
    return (await (await conn.execute(sql, params)).fetchone())[0]  # type: ignore[index]


async def test_units_and_lots_by_key_are_the_rows_a_join_finds_each_once(stub, conn) -> None:
    world = await build_world(stub)
    kit = await world.kit()
    await world.scan(world.unit("K-1"), A.SCAN_ACTION_RECEIVE)
    await world.scan(world.lot("K-L", date(2028, 1, 31)), A.SCAN_ACTION_RECEIVE, quantity=5)
    await world.scan(world.lot("K-L"), A.SCAN_ACTION_PACK, quantity=2, kit_code=kit.code)
    boat = await _ids(
        conn, "SELECT id FROM inventory.item_types WHERE code = %(c)s", {"c": world.boat.code}
    )
    aid = await _ids(
        conn, "SELECT id FROM inventory.item_types WHERE code = %(c)s", {"c": world.aid.code}
    )
    depot = await _ids(
        conn, "SELECT id FROM inventory.depots WHERE code = %(c)s", {"c": world.depot.code}
    )
    unit_keys = sorted([[boat, "K-1"], [boat, f"{kit.label[-8:]}-0"], [boat, "NOT-THERE"]])
    lot_keys = sorted([[aid, "K-L", depot], [aid, f"L{kit.label[-6:]}", depot], [aid, "K-L", 0]])

    units = await _rows(conn, batch_store._UNITS_BY_KEY, unit_keys)
    lots = await _rows(conn, batch_store._LOTS_BY_KEY, lot_keys)

    assert sorted(units) == sorted(await _rows(conn, _UNITS_JOINED, unit_keys))
    assert sorted(lots) == sorted(await _rows(conn, _LOTS_JOINED, lot_keys))
    assert len(units) == 2
    assert len(lots) == 3  # K-L loose and in the kit, and the kit's own lot
    await conn.rollback()


async def test_units_and_lots_by_key_never_read_the_whole_table(conn) -> None:
    for sql, keys in (
        (batch_store._UNITS_BY_KEY, [[1, "S-1"], [1, "S-2"]]),
        (batch_store._LOTS_BY_KEY, [[1, "L-1", 1], [2, "L-2", 1]]),
    ):
        params = {"keys": orjson.dumps(keys).decode()}
        await conn.execute("SET plan_cache_mode = force_generic_plan")  # as once prepared
        plan = "\n".join(
            r[0] for r in await (await conn.execute(f"EXPLAIN {sql}", params)).fetchall()
        )
        assert "Seq Scan" not in plan
        assert "Index Scan" in plan
    await conn.rollback()


# What prefetch_scans() did in eight statements before it was one: the reference.
_CLAIMED = "SELECT * FROM inventory.claim_scans(ARRAY(SELECT json_array_elements_text(%(ids)s)))"
_KITS_NAMED = (
    f"SELECT {batch_store._KIT_COLUMNS} FROM inventory.kits"
    " WHERE giai = ANY(ARRAY(SELECT json_array_elements_text(%(giais)s::json))) ORDER BY id"
)


async def _parts(conn: psycopg.AsyncConnection[Any], params: dict[str, Any]) -> dict[int, Any]:
    rows = await (await conn.execute(batch_store._PREFETCH, params)).fetchall()
    found: dict[int, list[Any]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row)
    at = {
        batch_store._CLAIM_ROW: batch_store._CLAIM_AT,
        batch_store._KIT_ROW: batch_store._KIT_AT,
        batch_store._UNIT_ROW: batch_store._UNIT_AT,
        batch_store._LOT_ROW: batch_store._LOT_AT,
    }
    return {
        part: [tuple(r[at[part]]) if part in at else r[batch_store._NEW_ID_AT] for r in rows]
        for part, rows in found.items()
    }


async def test_one_prefetch_finds_the_scans_the_kits_the_holders_and_their_contents(
    stub, conn
) -> None:
    world = await build_world(stub)
    named, holding = await world.kit(), await world.kit()
    seen = await world.scan(world.unit("P-1"), A.SCAN_ACTION_RECEIVE, bin_code=world.bin())
    boat, aid, depot = await _world_ids(conn, world)
    giais = [named.giai] if named.giai else []
    unit_keys = sorted([[boat, f"{holding.label[-8:]}-0"], [boat, "P-1"], [boat, "NOT-THERE"]])
    lot_keys = [[aid, "NOT-THERE", depot]]
    claim = [seen.scan_id, "never-sent"]
    params = {
        "claim": orjson.dumps(claim).decode(),
        "giais": orjson.dumps(giais).decode(),
        "units": orjson.dumps(unit_keys).decode(),
        "lots": orjson.dumps(lot_keys).decode(),
        "new_units": 3,
        "new_lots": 2,
    }

    parts = await _parts(conn, params)

    kits = await (await conn.execute(_KITS_NAMED, {"giais": params["giais"]})).fetchall()
    units = await _rows(conn, batch_store._UNITS_BY_KEY, unit_keys)
    holders = sorted({u[3] for u in units if u[3]} - {k[0] for k in kits})
    kits += await _rows_by_ids(conn, batch_store._KITS_BY_ID, holders)
    every_kit = [k[0] for k in kits]
    contents = await _rows_by_ids(conn, batch_store._UNITS_IN_KITS, every_kit)
    lots = await _rows_by_ids(conn, batch_store._LOTS_IN_KITS, every_kit)
    claimed = await (await conn.execute(_CLAIMED, {"ids": params["claim"]})).fetchall()
    assert len(kits) == 2 and len(units) == 2 and len(contents) == 4  # both kits, 2 units each
    assert parts[batch_store._KIT_ROW] == [tuple(k) for k in kits]
    assert parts[batch_store._UNIT_ROW] == [tuple(u) for u in units + contents]
    assert sorted(parts[batch_store._LOT_ROW]) == sorted(tuple(lt) for lt in lots)
    assert parts[batch_store._CLAIM_ROW] == [tuple(c) for c in claimed]
    assert [row[0] for row in claimed] == [seen.scan_id]
    assert len(set(parts[batch_store._NEW_UNIT_ID])) == 3
    assert len(set(parts[batch_store._NEW_LOT_ID])) == 2
    await conn.rollback()


async def test_a_prefetch_with_nothing_to_find_answers_nothing(conn) -> None:
    empty = {"claim": "[]", "giais": "[]", "units": "[]", "lots": "[]"}
    assert await _parts(conn, {**empty, "new_units": 0, "new_lots": 0}) == {}
    await conn.rollback()


async def _world_ids(conn: psycopg.AsyncConnection[Any], world: Any) -> tuple[int, int, int]:
    code = "SELECT id FROM inventory.item_types WHERE code = %(c)s"
    boat = await _ids(conn, code, {"c": world.boat.code})
    aid = await _ids(conn, code, {"c": world.aid.code})
    depot = await _ids(
        conn, "SELECT id FROM inventory.depots WHERE code = %(c)s", {"c": world.depot.code}
    )
    return boat, aid, depot


async def _rows_by_ids(conn: psycopg.AsyncConnection[Any], sql: str, ids: list[int]) -> list[Any]:
    return await (await conn.execute(sql, {"ids": orjson.dumps(ids).decode()})).fetchall()
