"""PlanDelivery and EstimateDeliveryTimes over gRPC, reading ready kits from a real inventory."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import grpc
import pytest
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.inventory.v1 import inventory_service_pb2_grpc as inv_grpc
from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.common.clock import PROVINCE_TZ
from services.common.database import async_engine
from services.common.settings import ServerSettings
from services.routing import server as routing_server
from services.routing.seed import load as network_seed
from services.routing.service_layer.unit_of_work import UnitOfWorkFactory
from tests.api.helpers import fails, violations
from tests.conftest import start_inventory
from tests.support import auth

ADDRESSES: dict[str, str] = {}


@pytest.fixture(scope="session")
async def stubs(
    seeded_url: str,
) -> AsyncIterator[tuple[pb_grpc.RoutingServiceStub, inv_grpc.InventoryServiceStub]]:
    engine = async_engine(seeded_url)
    await network_seed.load(UnitOfWorkFactory(engine))
    await engine.dispose()
    inventory = await start_inventory(seeded_url)
    routing = await routing_server.start(
        ServerSettings(
            service="routing", auth_public_keys=auth.PUBLIC_KEYS, database_url=seeded_url, port=0
        ),
        inventory_address=inventory.address,
    )
    ADDRESSES["routing"] = routing.address
    async with (
        auth.channel(routing.address) as r,
        auth.channel(inventory.address) as i,
    ):
        yield pb_grpc.RoutingServiceStub(r), inv_grpc.InventoryServiceStub(i)
    await routing.stop(0)
    await inventory.stop(0)


async def _plan(routing: pb_grpc.RoutingServiceStub, request: pb.PlanDeliveryRequest) -> pb.Plan:
    return (await routing.PlanDelivery(request)).plan


def _demand(
    demand_id: str, city: str, count: int, hours: float, priority: int = 1
) -> pb.DemandSpec:
    spec = pb.DemandSpec(
        demand_id=demand_id,
        destination=pb.Destination(city=city),
        template_code="WATER-FLOOD",
        count=count,
        priority=priority,
    )
    spec.deadline.FromDatetime(datetime.now(UTC) + timedelta(hours=hours))
    return spec


async def test_a_flood_in_two_cities_is_planned_from_kits_ready_at_their_sources(stubs) -> None:
    routing, inventory = stubs
    plan = await _plan(
        routing,
        pb.PlanDeliveryRequest(
            demands=[_demand("songyuan", "songyuan", 4, 12), _demand("baicheng", "baicheng", 2, 8)],
            winter=True,
            time_budget_s=3,
        ),
    )
    assert plan.status in ("OPTIMAL", "FEASIBLE")
    assert plan.deliveries, "nothing was planned"
    assert len(plan.deliveries) + len(plan.unmet) == 6
    for delivery in plan.deliveries:
        kit = await inventory.GetKit(inv.GetKitRequest(label=delivery.kit_label))
        assert kit.kit.state == inv.Kit.STATE_READY
        assert kit.kit.depot_code == delivery.source_depot == delivery.legs[0].origin
        assert delivery.on_time and delivery.legs[-1].destination in ("songyuan", "baicheng")
    assert all(u.reason in ("TOO_FAR", "NO_READY_KIT", "NO_CAPACITY") for u in plan.unmet)


async def test_an_impossible_deadline_is_reported_with_its_reason(stubs) -> None:
    routing, _ = stubs
    plan = await _plan(
        routing,
        pb.PlanDeliveryRequest(demands=[_demand("now", "changbaishan", 1, 0.25)], time_budget_s=2),
    )
    assert [u.reason for u in plan.unmet] == ["TOO_FAR"]
    assert plan.unmet[0].late.kit_label  # it still goes, late, and the plan says when


async def test_an_unknown_city_is_invalid_naming_the_field(stubs) -> None:
    routing, _ = stubs
    error = await fails(
        routing.PlanDelivery(pb.PlanDeliveryRequest(demands=[_demand("x", "atlantis", 1, 5)])),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "demands[0].destination.city" in violations(error)


async def test_estimates_cover_every_template_and_city_asked(stubs) -> None:
    routing, _ = stubs
    answer = await routing.EstimateDeliveryTimes(
        pb.EstimateDeliveryTimesRequest(cities=["songyuan", "yanbian"], kits_needed=1)
    )
    templates = {e.template_code for e in answer.estimates}
    assert len(templates) == 5 and len(answer.estimates) == 10
    assert all(e.reachable and e.hours > 0 for e in answer.estimates)


async def test_where_road_is_too_slow_a_kit_flies(stubs) -> None:
    """A winter mountain rescue at Changbaishan: kits from Changchun only make it by air."""
    routing, _ = stubs
    tomorrow = datetime.now(PROVINCE_TZ).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(4, 30), tzinfo=PROVINCE_TZ)
    demand = pb.DemandSpec(
        demand_id="changbaishan",
        destination=pb.Destination(city="changbaishan"),
        template_code="MTN-ROPE",
        count=10,
        priority=1,
    )
    demand.deadline.FromDatetime(start + timedelta(hours=9))
    request = pb.PlanDeliveryRequest(demands=[demand], winter=True, time_budget_s=3)
    request.start_time.FromDatetime(start)
    plan = await _plan(routing, request)
    flown = [d for d in plan.deliveries if any(leg.mode == pb.MODE_AIR for leg in d.legs)]
    assert flown, [
        (d.source_depot, [pb.Mode.Name(x.mode) for x in d.legs]) for d in plan.deliveries
    ]
    flight = next(leg for leg in flown[0].legs if leg.mode == pb.MODE_AIR)
    assert flight.service_code and flight.origin == "CGQ" and flown[0].on_time
    road_only = pb.PlanDeliveryRequest()
    road_only.CopyFrom(request)
    road_only.ClearField("modes")
    road_only.modes.extend([pb.MODE_OWN_TRUCK, pb.MODE_PARTNER_TRUCK])
    by_road = await _plan(routing, road_only)
    assert len(by_road.deliveries) < len(plan.deliveries)  # road alone serves fewer in time


async def test_muster_plan_prints_the_plan_as_tables(stubs, tmp_path) -> None:
    import argparse
    import asyncio

    from rich.console import Console

    from services.cli import plan as plan_cli

    parser = argparse.ArgumentParser()
    plan_cli.add_arguments(parser, ADDRESSES["routing"])
    args = parser.parse_args(
        [
            "--demand",
            "songyuan:WATER-FLOOD:2:12",
            "--demand",
            "changbaishan:MTN-ROPE:1:0.2",
            "--json",
            str(tmp_path / "plan.json"),
        ]
    )
    console = Console(record=True, width=200)
    assert await asyncio.to_thread(plan_cli.command, args, console) == 0
    text = console.export_text()
    assert "kits by source" in text and "TOO_FAR" in text
    assert (tmp_path / "plan.json").read_text().startswith("{")
