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
