"""A seeded reserve with real inventory, routing and gateway servers, for the gateway's tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from muster.gateway.v1 import gateway_service_pb2 as pb
from muster.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.inventory.v1 import inventory_service_pb2_grpc as inv_grpc

from services.common.database import async_engine
from services.common.server import RunningServer
from services.common.settings import ServerSettings
from services.gateway import server as gateway_server
from services.gateway.server import RunningGateway
from services.gateway.service_layer.keeper import KeeperTimings
from services.gateway.settings import GatewaySettings
from services.routing import server as routing_server
from services.routing.seed import load as network_seed
from services.routing.service_layer.unit_of_work import UnitOfWorkFactory
from tests.conftest import TODAY, start_inventory
from tests.support import auth

FAST = KeeperTimings(retry_s=0.2, estimates_interval_s=3.0, estimates_settle_s=0.2, day_check_s=60)


async def seed_network(url: str) -> None:
    engine = async_engine(url)
    await network_seed.load(UnitOfWorkFactory(engine))
    await engine.dispose()


@dataclass
class World:
    url: str
    inventory: RunningServer
    routing: RunningServer
    gateway: RunningGateway
    channels: list[grpc.aio.Channel]

    @property
    def readiness(self) -> pb_grpc.ReadinessServiceStub:
        return pb_grpc.ReadinessServiceStub(self.channels[0])

    @property
    def stock(self) -> inv_grpc.InventoryServiceStub:
        return inv_grpc.InventoryServiceStub(self.channels[1])

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        await self.gateway.stop(0)
        await self.routing.stop(0)
        await self.inventory.stop(0)


async def start_world(url: str) -> World:
    inventory = await start_inventory(url)
    routing = await routing_server.start(
        ServerSettings(
            service="routing", auth_public_keys=auth.PUBLIC_KEYS, database_url=url, port=0
        ),
        inventory_address=inventory.address,
    )
    gateway = await gateway_server.start(
        GatewaySettings(
            inventory_address=inventory.address,
            routing_address=routing.address,
            auth_public_keys=auth.PUBLIC_KEYS,
            token=auth.gateway_token(),
        ),
        today=lambda: TODAY,
        timings=FAST,
    )
    channels = [
        auth.channel(gateway.address),
        auth.channel(inventory.address),
    ]
    world = World(url, inventory, routing, gateway, channels)
    assert await gateway.keeper.wait_loaded(30), "the gateway never read inventory"
    return world


async def get(world: World, category: int, kind: int, code: str) -> pb.ReadinessReport:
    answer = await world.readiness.GetReadiness(
        pb.GetReadinessRequest(category=category, scope=pb.Scope(kind=kind, code=code)),
        timeout=5,
    )
    return answer.report


async def eventually(
    fetch: Callable[[], object], check: Callable[[pb.ReadinessReport], bool], within_s: float = 15
) -> pb.ReadinessReport:
    """Polls until the check holds; generous, since the machine is shared (speed is benched)."""
    deadline = time.monotonic() + within_s
    while True:
        report = await fetch()  # type: ignore[misc]
        if check(report):
            return report
        if time.monotonic() > deadline:
            raise AssertionError(f"never held; last report:\n{report}")
        await asyncio.sleep(0.05)


def measure(report: pb.ReadinessReport, kind: int) -> pb.Measure:
    return next(m for m in report.measures if m.kind == kind)


async def unit_code(world: World, kit_label: str, item_type: str) -> tuple[str, str]:
    """The GS1 code of the first unit of an item type in a kit, and its serial."""
    kit = await world.stock.GetKit(inv.GetKitRequest(label=kit_label))
    serial = next(u.serial for u in kit.units if u.item_type_code == item_type)
    items = await world.stock.ListItemTypes(inv.ListItemTypesRequest(page_size=500))
    gtin = next(i.gtin for i in items.item_types if i.code == item_type)
    return f"01{gtin}21{serial}", serial


async def inspect(world: World, code: str, depot: str, passed: bool) -> inv.ScanResult:
    action = inv.SCAN_ACTION_INSPECT_PASS if passed else inv.SCAN_ACTION_INSPECT_FAIL
    scan = inv.Scan(
        scan_id=str(uuid.uuid4()),
        code=code,
        action=action,
        depot_code=depot,
        operator="inspector",
        device="HH-GW",
    )
    answer = await world.stock.RecordScan(inv.RecordScanRequest(scan=scan), timeout=10)
    assert answer.result.accepted, answer.result.status.message
    return answer.result
