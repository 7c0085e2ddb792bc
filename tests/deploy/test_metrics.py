"""Each service's Prometheus endpoint, scraped over HTTP after real calls to real servers."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from muster.gateway.v1 import gateway_service_pb2 as gw
from muster.gateway.v1 import gateway_service_pb2_grpc as gw_grpc
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.inventory.v1 import inventory_service_pb2_grpc as inv_grpc
from muster.routing.v1 import routing_service_pb2 as rt
from muster.routing.v1 import routing_service_pb2_grpc as rt_grpc
from prometheus_client.parser import text_string_to_metric_families

from services.common.server import RunningServer
from services.common.settings import ServerSettings
from services.gateway import server as gateway_server
from services.gateway.server import RunningGateway
from services.gateway.settings import GatewaySettings
from services.routing import server as routing_server
from tests.conftest import TODAY, start_inventory
from tests.gateway.world import FAST
from tests.support import auth

INVENTORY = "muster.inventory.v1.InventoryService"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Trio:
    inventory: RunningServer
    routing: RunningServer
    gateway: RunningGateway

    def metrics_ports(self) -> list[int]:
        servers = (self.inventory, self.routing, self.gateway.grpc)
        return [s.metrics_endpoint.port for s in servers if s.metrics_endpoint]


@pytest.fixture(scope="module")
async def trio(deploy_url: str) -> AsyncIterator[Trio]:
    inventory = await start_inventory(deploy_url, metrics_port=0)
    routing = await routing_server.start(
        ServerSettings(
            service="routing",
            auth_public_keys=auth.PUBLIC_KEYS,
            database_url=deploy_url,
            metrics_port=0,
        ),
        inventory_address=inventory.address,
        solver_processes=1,
    )
    gateway = await gateway_server.start(
        GatewaySettings(
            inventory_address=inventory.address,
            routing_address=routing.address,
            metrics_port=0,
            auth_public_keys=auth.PUBLIC_KEYS,
            token=auth.gateway_token(),
        ),
        today=lambda: TODAY,
        timings=FAST,
    )
    assert await gateway.keeper.wait_loaded(30)
    yield Trio(inventory, routing, gateway)
    await gateway.stop(0)
    await routing.stop(0)
    await inventory.stop(0)


def _scrape_now(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.status == 200
        text = answer.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(port: int) -> Samples:
    return await asyncio.to_thread(_scrape_now, port)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def matching(samples: Samples, name: str, **labels: str) -> dict[frozenset, float]:
    wanted = set(labels.items())
    return {k[1]: v for k, v in samples.items() if k[0] == name and wanted <= k[1]}


async def _inventory_calls(address: str) -> None:
    async with auth.channel(address) as channel:
        stub = inv_grpc.InventoryServiceStub(channel)
        await stub.ListDepots(inv.ListDepotsRequest(), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetKit(inv.GetKitRequest(label="NO-SUCH-KIT"), timeout=10)
        unknown = inv.Scan(
            scan_id=str(uuid.uuid4()),
            code="NO-SUCH-CODE",
            action=inv.SCAN_ACTION_INSPECT_PASS,
            depot_code="D-DET-SIPING",
            operator="metrics-test",
            device="HH-M",
        )
        malformed = inv.Scan(scan_id=str(uuid.uuid4()), code="X", depot_code="D-DET-SIPING")
        answer = await stub.RecordScans(
            inv.RecordScansRequest(scans=[unknown, malformed]), timeout=10
        )
        assert not any(r.accepted for r in answer.results)


async def _plan(address: str) -> None:
    demand = rt.DemandSpec(
        demand_id="m",
        destination=rt.Destination(city="siping"),
        template_code="WATER-FLOOD",
        count=1,
        priority=1,
    )
    demand.deadline.FromDatetime(datetime.now(UTC) + timedelta(hours=12))
    async with auth.channel(address) as channel:
        stub = rt_grpc.RoutingServiceStub(channel)
        await stub.PlanDelivery(rt.PlanDeliveryRequest(demands=[demand], time_budget_s=1))


async def test_every_service_serves_metrics_and_real_calls_move_them(trio: Trio) -> None:
    ports = trio.metrics_ports()
    assert len(set(ports)) == 3
    before = await scrape(ports[0])

    await _inventory_calls(trio.inventory.address)
    await _plan(trio.routing.address)
    async with auth.channel(trio.gateway.address) as channel:
        await gw_grpc.ReadinessServiceStub(channel).ListReadiness(gw.ListReadinessRequest())

    after = [await scrape(port) for port in ports]
    now = after[0]
    handled = "grpc_server_handled_total"
    not_found = {"grpc_service": INVENTORY, "grpc_method": "GetKit", "grpc_code": "NOT_FOUND"}
    assert value(now, handled, **not_found) == value(before, handled, **not_found) + 1
    listed = {"grpc_service": INVENTORY, "grpc_method": "ListDepots", "grpc_code": "OK"}
    count = "grpc_server_handling_seconds_count"
    assert value(now, count, **listed) >= value(before, count, **listed) + 1
    assert value(now, "grpc_server_handling_seconds_bucket", **listed, le="+Inf") >= 1

    scans = "muster_scans_total"
    invalid = {"action": "UNSPECIFIED", "result": "INVALID_ARGUMENT"}
    assert value(now, scans, **invalid) == value(before, scans, **invalid) + 1
    inspected = sum(matching(now, scans, action="INSPECT_PASS").values())
    assert inspected == sum(matching(before, scans, action="INSPECT_PASS").values()) + 1
    accepted = {"action": "INSPECT_PASS", "result": "ACCEPTED"}
    assert value(now, scans, **accepted) == value(before, scans, **accepted)

    solves = matching(now, "muster_plan_solve_seconds_count")
    assert (
        sum(solves.values())
        >= sum(matching(before, "muster_plan_solve_seconds_count").values()) + 1
    )

    levels = matching(now, "muster_readiness_level", category="WATER", scope_kind="CITY")
    assert levels[
        frozenset({("category", "WATER"), ("scope_kind", "CITY"), ("scope", "siping")})
    ] in (
        1,
        2,
        3,
        4,
    )
    assert value(now, "muster_readiness_stale") == 0

    for service in ("inventory", "routing"):
        assert value(now, "muster_db_pool_size", service=service) >= 10
        assert value(now, "muster_db_pool_checked_out", service=service) >= 0
    for samples in after:  # each endpoint answers the same process's registry
        assert value(samples, handled, **not_found) >= 1
