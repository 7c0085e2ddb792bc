"""kill -9 of inventory mid-load, then a restart: no acknowledged scan lost or stored twice."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.common.schemas import upgrade_all
from tests.api.scan_world import build_world
from tests.faults.processes import ServiceProcess, wait_for_health
from tests.faults.scan_load import ScanLoad, assert_each_stored_once, read_ledger, scanner_channel
from tests.support.database import PgServer

SCANS = 300
WORKERS = 2


@pytest.mark.slow
async def test_a_killed_and_restarted_inventory_stores_every_acknowledged_scan_once(
    pg: PgServer,
) -> None:
    url = pg.new_database("muster_faults")
    upgrade_all(url)
    inventory = ServiceProcess(
        "inventory",
        {"MUSTER_INVENTORY_DATABASE_URL": url, "MUSTER_INVENTORY_WORKERS": str(WORKERS)},
    )
    inventory.start()
    try:
        await wait_for_health(inventory)
        async with scanner_channel(inventory.address) as channel:
            stub = pb_grpc.InventoryServiceStub(channel)
            world = await build_world(stub)
            scans = [
                world.make(
                    world.unit(f"K9-{i:04d}"),
                    pb.SCAN_ACTION_RECEIVE,
                    scan_id=str(uuid.uuid4()),
                    bin_code=world.bin("B-01"),
                )
                for i in range(SCANS)
            ]
            load = ScanLoad(stub, scans)
            sending = asyncio.create_task(load.run(senders=4))

            await asyncio.wait_for(load.acknowledged_at_least(SCANS // 4), 30)
            inventory.kill_group()
            acknowledged_before_kill = len(load.acknowledged)
            inventory.start()  # the same port
            await wait_for_health(inventory)
            await asyncio.wait_for(sending, 45)
    finally:
        inventory.stop()

    assert acknowledged_before_kill < SCANS, "the load ended before the kill"
    assert sum(load.failures.values()) > 0, "no call was cut by the kill"
    ledger = await read_ledger(url, [s.scan_id for s in scans], world.depot.code, world.boat.code)
    assert_each_stored_once(load, ledger)
