"""Stored plans and CommitPlan over gRPC: transfers opened in a real inventory, exactly once.

These tests change stock (they open transfers and issue a kit), so they run on
a seeded database of their own.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.inventory.v1 import inventory_service_pb2_grpc as inv_grpc
from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc
from sqlalchemy import make_url

from services.common.database import async_engine
from services.common.settings import ServerSettings
from services.routing import server as routing_server
from services.routing.seed import load as network_seed
from services.routing.service_layer.unit_of_work import UnitOfWorkFactory
from tests.api.helpers import error_reason, fails, violations
from tests.conftest import seeded_database, start_inventory
from tests.support import auth
from tests.support.database import PgServer

Stubs = tuple[pb_grpc.RoutingServiceStub, inv_grpc.InventoryServiceStub]
ADDRESSES: dict[str, str] = {}


@pytest.fixture(scope="module")
def plans_url(pg: PgServer) -> str:
    return seeded_database(pg, "muster_plans")


@pytest.fixture(scope="module")
async def stubs(plans_url: str) -> AsyncIterator[Stubs]:
    engine = async_engine(plans_url)
    await network_seed.load(UnitOfWorkFactory(engine))
    await engine.dispose()
    inventory = await start_inventory(plans_url)
    routing = await routing_server.start(
        ServerSettings(
            service="routing", auth_public_keys=auth.PUBLIC_KEYS, database_url=plans_url, port=0
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


def _request(*demands: tuple[str, str, int, float], receiving: str = "") -> pb.PlanDeliveryRequest:
    request = pb.PlanDeliveryRequest(time_budget_s=2)
    for city, template, count, hours in demands:
        d = request.demands.add(
            demand_id=f"{city}-{template}",
            destination=pb.Destination(city=city, receiving_depot=receiving),
            template_code=template,
            count=count,
            priority=1,
        )
        d.deadline.FromDatetime(datetime.now(UTC) + timedelta(hours=hours))
    return request


async def _transfers(inventory: inv_grpc.InventoryServiceStub) -> list[inv.Transfer]:
    answer = await inventory.ListTransfers(inv.ListTransfersRequest(page_size=500))
    return list(answer.transfers)


async def test_a_plan_is_stored_and_read_back_as_made(stubs: Stubs) -> None:
    routing, _ = stubs
    made = (await routing.PlanDelivery(_request(("songyuan", "WATER-FLOOD", 3, 12)))).plan
    assert uuid.UUID(made.plan_id) and made.state == pb.Plan.STATE_DRAFT
    assert made.request.demands[0].demand_id == "songyuan-WATER-FLOOD"
    read = (await routing.GetPlan(pb.GetPlanRequest(plan_id=made.plan_id))).plan
    assert read == made
    listed = await routing.ListPlans(pb.ListPlansRequest(page_size=50))
    mine = next(p for p in listed.plans if p.plan_id == made.plan_id)
    assert (mine.kits_on_time, mine.kits_unmet) == (len(made.deliveries), len(made.unmet))
    assert list(mine.destinations) == ["songyuan"]


async def test_plans_are_listed_newest_first_a_page_at_a_time(stubs: Stubs) -> None:
    routing, _ = stubs
    made = [
        (await routing.PlanDelivery(_request(("baicheng", "WATER-FLOOD", 1, 12)))).plan.plan_id
        for _ in range(3)
    ]
    seen: list[str] = []
    token = ""
    while True:
        page = await routing.ListPlans(pb.ListPlansRequest(page_size=2, page_token=token))
        assert len(page.plans) <= 2
        seen += [p.plan_id for p in page.plans]
        token = page.next_page_token
        if not token:
            break
    assert seen[:3] == made[::-1]
    assert len(seen) == len(set(seen))


async def test_own_truck_legs_are_driven_by_the_trucks_routes(stubs: Stubs) -> None:
    routing, _ = stubs
    request = _request(("songyuan", "WATER-FLOOD", 4, 12), ("baicheng", "WATER-FLOOD", 2, 8))
    request.modes.append(pb.MODE_OWN_TRUCK)
    plan = (await routing.PlanDelivery(request)).plan
    assert plan.deliveries and plan.truck_routes
    loaded = {
        label: (stop, route)
        for route in plan.truck_routes
        for stop in route.stops
        for label in stop.load
    }
    unloaded = {
        label: stop for route in plan.truck_routes for stop in route.stops for label in stop.unload
    }
    for d in plan.deliveries:
        leg = d.legs[0]
        stop, route = loaded[d.kit_label]
        assert stop.place == d.source_depot == leg.origin
        assert stop.depart == leg.depart and unloaded[d.kit_label].arrive == leg.arrive
        assert unloaded[d.kit_label].place == leg.destination
        assert route.leave.ToDatetime() <= stop.arrive.ToDatetime()


async def test_commit_opens_one_transfer_per_source_and_receiving_depot_exactly_once(
    stubs: Stubs, plans_url: str
) -> None:
    routing, inventory = stubs
    plan = (
        await routing.PlanDelivery(
            _request(("songyuan", "GEO-USAR", 3, 24), receiving="D-SUB-SONGYUAN")
        )
    ).plan
    moving = {d.kit_label: d.source_depot for d in plan.deliveries}
    assert moving and all(d.receiving_depot == "D-SUB-SONGYUAN" for d in plan.deliveries)
    before = await _transfers(inventory)
    # Three commits at once, then one more: the transfers open once.
    answers = await asyncio.gather(
        *(routing.CommitPlan(pb.CommitPlanRequest(plan_id=plan.plan_id)) for _ in range(3))
    )
    again = await routing.CommitPlan(pb.CommitPlanRequest(plan_id=plan.plan_id))
    committed = answers[0].plan
    assert committed.state == pb.Plan.STATE_COMMITTED and committed.HasField("commit_time")
    assert (committed.created_by, committed.committed_by) == ("tester", "tester")
    assert all(a.plan.transfers == committed.transfers for a in (*answers, again))
    after = await _transfers(inventory)
    opened = [t for t in after if t.sscc not in {b.sscc for b in before}]
    assert sorted(t.sscc for t in opened) == sorted(t.sscc for t in committed.transfers)
    expected = {
        (source, "D-SUB-SONGYUAN") for source in moving.values() if source != "D-SUB-SONGYUAN"
    }
    assert {(t.from_depot_code, t.to_depot_code) for t in opened} == expected
    in_transfers = {line.kit_label for t in opened for line in t.lines}
    assert in_transfers == {k for k, s in moving.items() if s != "D-SUB-SONGYUAN"}
    read = (await routing.GetPlan(pb.GetPlanRequest(plan_id=plan.plan_id))).plan
    assert read.state == pb.Plan.STATE_COMMITTED and read.transfers == committed.transfers
    # Audited once: made, committed (the three concurrent commits and the fourth are one).
    url = make_url(plans_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT method, actor, keys FROM routing.audit_log WHERE %s = ANY(keys) ORDER BY id",
            (plan.plan_id,),
        ).fetchall()
    assert [(m, a) for m, a, _ in rows] == [("PlanDelivery", "tester"), ("CommitPlan", "tester")]
    assert {t.sscc for t in committed.transfers} <= set(rows[1][2])


async def test_a_kit_issued_since_the_plan_stops_the_commit_before_anything_opens(
    stubs: Stubs,
) -> None:
    routing, inventory = stubs
    plan = (await routing.PlanDelivery(_request(("yanbian", "MTN-ROPE", 2, 24)))).plan
    far = [d for d in plan.deliveries if d.source_depot != d.receiving_depot]
    assert far, "the test needs a kit that would be transferred"
    kit = (await inventory.GetKit(inv.GetKitRequest(label=far[0].kit_label))).kit
    await inventory.RecordScan(
        inv.RecordScanRequest(
            scan=inv.Scan(
                scan_id=str(uuid.uuid4()),
                code=kit.code,
                action=inv.SCAN_ACTION_ISSUE,
                depot_code=kit.depot_code,
                operator="tester",
                device="HH-01",
            )
        )
    )
    before = await _transfers(inventory)
    error = await fails(
        routing.CommitPlan(pb.CommitPlanRequest(plan_id=plan.plan_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(error) == "KITS_NO_LONGER_READY"
    assert kit.label in (error.details() or "")
    assert len(await _transfers(inventory)) == len(before)
    read = (await routing.GetPlan(pb.GetPlanRequest(plan_id=plan.plan_id))).plan
    assert read.state == pb.Plan.STATE_DRAFT and not read.transfers


async def test_plan_ids_are_checked(stubs: Stubs) -> None:
    routing, _ = stubs
    error = await fails(
        routing.GetPlan(pb.GetPlanRequest(plan_id="not-a-uuid")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "plan_id" in violations(error)
    await fails(
        routing.CommitPlan(pb.CommitPlanRequest(plan_id=str(uuid.uuid4()))),
        grpc.StatusCode.NOT_FOUND,
    )
    error = await fails(
        routing.PlanDelivery(_request(("songyuan", "WATER-FLOOD", 1, 5), receiving="D-NOWHERE")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "demands[0].destination.receiving_depot" in violations(error)
    error = await fails(
        routing.ListPlans(pb.ListPlansRequest(page_token="bm9wZQ")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "page_token" in violations(error)


async def test_muster_plan_commits_and_lists(stubs: Stubs) -> None:
    import argparse

    from rich.console import Console

    from services.cli import plan as plan_cli

    address = ADDRESSES["routing"]

    def run(*argv: str) -> str:
        parser = argparse.ArgumentParser()
        plan_cli.add_arguments(parser, address)
        console = Console(record=True, width=220)
        assert plan_cli.command(parser.parse_args(list(argv)), console) == 0
        return console.export_text()

    made = await asyncio.to_thread(run, "--demand", "siping:BLDG-FIRE:2:24")
    assert "arrival per destination" in made and "commit it with" in made
    plan_id = made.split("commit it with: muster plan --show ")[1].split()[0]
    committed = await asyncio.to_thread(run, "--show", plan_id, "--commit")
    assert "(committed)" in committed
    listed = await asyncio.to_thread(run, "--list")
    assert plan_id in listed and "committed" in listed
