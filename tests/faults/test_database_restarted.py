"""PostgreSQL stopped mid-load, then started: UNAVAILABLE while down, recovery with no restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from tests.api.scan_world import World, build_world
from tests.faults.private_postgres import PrivatePostgres
from tests.faults.processes import NOT_SERVING, SERVING, ServiceProcess, wait_for_health
from tests.faults.scan_load import ScanLoad, assert_each_stored_once, read_ledger, scanner_channel

SCANS = 300


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    server = PrivatePostgres.start(tmp_path / "pg")
    yield server
    server.close()


async def _unavailable_while_down(stub: pb_grpc.InventoryServiceStub, world: World) -> None:
    """A read and a scan, each answered UNAVAILABLE (not INTERNAL, not a hang)."""
    scan = world.make(world.unit("DOWN-1"), pb.SCAN_ACTION_RECEIVE, bin_code=world.bin("B-01"))
    calls = (
        stub.ListDepots(pb.ListDepotsRequest(), timeout=10),
        stub.RecordScan(pb.RecordScanRequest(scan=scan), timeout=10),
    )
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value.details()


@pytest.mark.slow
async def test_inventory_answers_unavailable_while_postgres_is_down_and_recovers_by_itself(
    postgres: PrivatePostgres,
) -> None:
    url = postgres.migrated_database("muster_faults")
    inventory = ServiceProcess(
        "inventory",
        {
            "MUSTER_INVENTORY_DATABASE_URL": url,
            "MUSTER_INVENTORY_WORKERS": "1",
            "MUSTER_INVENTORY_HEALTH_INTERVAL_S": "0.2",
        },
    )
    inventory.start()
    try:
        await wait_for_health(inventory)
        assert inventory.process is not None
        pid = inventory.process.pid
        async with scanner_channel(inventory.address) as channel:
            stub = pb_grpc.InventoryServiceStub(channel)
            world = await build_world(stub)
            scans = [
                world.make(
                    world.unit(f"PG-{i:04d}"),
                    pb.SCAN_ACTION_RECEIVE,
                    scan_id=str(uuid.uuid4()),
                    bin_code=world.bin("B-01"),
                )
                for i in range(SCANS)
            ]
            load = ScanLoad(stub, scans, call_timeout_s=10)
            sending = asyncio.create_task(load.run(senders=4))

            await asyncio.wait_for(load.acknowledged_at_least(SCANS // 4), 30)
            await asyncio.to_thread(postgres.stop)
            acknowledged_at_stop = len(load.acknowledged)
            await wait_for_health(inventory, NOT_SERVING, within_s=15)
            await _unavailable_while_down(stub, world)

            await asyncio.to_thread(postgres.restart)
            await wait_for_health(inventory, SERVING, within_s=30)
            await asyncio.wait_for(sending, 45)
            await stub.ListDepots(pb.ListDepotsRequest(), timeout=10)
        assert inventory.alive() and inventory.process.pid == pid, "inventory was restarted"
    finally:
        inventory.stop()

    assert acknowledged_at_stop < SCANS, "the load ended before PostgreSQL stopped"
    assert set(load.failures) == {grpc.StatusCode.UNAVAILABLE}, load.failures
    ledger = await read_ledger(url, [s.scan_id for s in scans], world.depot.code, world.boat.code)
    assert_each_stored_once(load, ledger)
