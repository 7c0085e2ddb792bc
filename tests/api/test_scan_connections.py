"""The scan path's own connections: no ping on checkout, and no scan lost to a dead one."""

from __future__ import annotations

import asyncio

import psycopg
from muster.inventory.v1 import inventory_service_pb2 as pb
from sqlalchemy import make_url

from tests.api.scan_world import build_world

A = pb.ScanAction


async def _drop_every_other_connection(database_url: str) -> int:
    """What a database restart does to a pool: its connections die while idle."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def test_scans_after_the_database_dropped_the_pool_s_connections_are_recorded(
    stub, database_url: str
) -> None:
    world = await build_world(stub)
    warm = [world.make(world.unit(f"W-{i}"), A.SCAN_ACTION_RECEIVE) for i in range(8)]
    await asyncio.gather(*(stub.RecordScan(pb.RecordScanRequest(scan=s)) for s in warm))
    assert await _drop_every_other_connection(database_url) > 0
    after = [world.make(world.unit(f"D-{i}"), A.SCAN_ACTION_RECEIVE) for i in range(8)]
    answers = await asyncio.gather(*(stub.RecordScan(pb.RecordScanRequest(scan=s)) for s in after))
    assert all(a.result.accepted for a in answers)
    batch = await stub.RecordScans(pb.RecordScansRequest(scans=after))  # replayed, not redone
    assert [r.ledger_seq for r in batch.results] == [a.result.ledger_seq for a in answers]
