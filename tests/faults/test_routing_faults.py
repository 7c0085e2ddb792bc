"""Routing as a real process: a solver out of time still answers with a plan; SIGTERM drains.

Inventory runs in the test's process on its own seeded database; routing is
`python -m services.routing` against the same database, with its solver
worker processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.common.database import async_engine
from services.common.server import RunningServer
from services.routing.seed import load as network_seed
from services.routing.service_layer.unit_of_work import UnitOfWorkFactory
from tests.conftest import seeded_database, start_inventory
from tests.faults.processes import NOT_SERVING, SERVING, ServiceProcess, wait_for_health
from tests.support import auth
from tests.support.database import PgServer

CITIES = (
    "changchun",
    "jilin",
    "siping",
    "liaoyuan",
    "tonghua",
    "baishan",
    "songyuan",
    "baicheng",
    "yanbian",
    "changbaishan",
)
TEMPLATES = ("GEO-USAR", "MTN-ROPE", "WATER-FLOOD", "PETROCHEM-HAZMAT", "BLDG-FIRE")
# What the server may add to a solver's budget: reading the network and the
# ready kits, building itineraries, at least half a second for the trucks,
# storing the plan; generous, since this machine is shared while tests run.
OVERHEAD_S = 15.0


@dataclass
class Stack:
    url: str
    inventory: RunningServer


@pytest.fixture(scope="module")
async def stack(pg: PgServer) -> AsyncIterator[Stack]:
    url = await asyncio.to_thread(seeded_database, pg, "muster_faults_routing")
    engine = async_engine(url)
    await network_seed.load(UnitOfWorkFactory(engine))
    await engine.dispose()
    inventory = await start_inventory(url)
    yield Stack(url, inventory)
    await inventory.stop(0)


async def _routing(stack: Stack) -> ServiceProcess:
    routing = ServiceProcess(
        "routing",
        {
            "MUSTER_ROUTING_DATABASE_URL": stack.url,
            "MUSTER_ROUTING_INVENTORY_ADDRESS": stack.inventory.address,
            # The default grace (10 s) is for production; under the whole suite on
            # two shared cores a plan in flight can need longer to finish.
            "MUSTER_ROUTING_SHUTDOWN_GRACE_S": "60",
        },
    )
    routing.start()
    try:
        await wait_for_health(routing)
    except BaseException:
        routing.stop()
        raise
    return routing


def _every_city_and_template(count: int, budget_s: float) -> pb.PlanDeliveryRequest:
    """The largest request the server takes: 50 demands, each template to each city."""
    now = datetime.now(UTC)
    demands = []
    for i, (city, template) in enumerate((c, t) for c in CITIES for t in TEMPLATES):
        demand = pb.DemandSpec(
            demand_id=f"{city}-{template}".lower(),
            destination=pb.Destination(city=city),
            template_code=template,
            count=count,
            priority=1 + i % 5,
        )
        demand.deadline.FromDatetime(now + timedelta(hours=6 + i % 18))
        demands.append(demand)
    return pb.PlanDeliveryRequest(demands=demands, winter=True, time_budget_s=budget_s)


async def _plan(address: str, request: pb.PlanDeliveryRequest) -> tuple[pb.Plan, float]:
    async with auth.channel(address) as channel:
        started = time.monotonic()
        answer = await pb_grpc.RoutingServiceStub(channel).PlanDelivery(request, timeout=120)
        return answer.plan, time.monotonic() - started


@pytest.mark.slow
async def test_a_solver_out_of_time_answers_with_its_best_plan_and_says_so(stack: Stack) -> None:
    routing = await _routing(stack)
    try:
        warm_up = _every_city_and_template(1, 0.1)
        del warm_up.demands[1:]
        await _plan(routing.address, warm_up)  # the solver's worker processes have started
        request = _every_city_and_template(3, 0.1)
        plan, took_s = await _plan(routing.address, request)
    finally:
        routing.stop()
    assert plan.status in ("FEASIBLE", "NO_SOLUTION"), plan.status
    assert len(plan.deliveries) + len(plan.unmet) == 3 * len(request.demands)
    reasons = {u.reason for u in plan.unmet}
    if plan.status == "NO_SOLUTION":  # nothing chosen: no slot lost out on capacity
        assert reasons <= {"OUT_OF_TIME", "TOO_FAR", "NO_READY_KIT"}, reasons
    # The server caps a budget at 30 s: a solver ignoring the 0.1 s asked would fail this.
    assert took_s < request.time_budget_s + OVERHEAD_S


@pytest.mark.slow
async def test_sigterm_lets_a_plan_in_flight_finish_goes_not_serving_and_exits_0(
    stack: Stack,
) -> None:
    routing = await _routing(stack)
    try:
        async with grpc.aio.insecure_channel(routing.address) as plain:
            watch = health_pb2_grpc.HealthStub(plain).Watch(health_pb2.HealthCheckRequest())
            assert (await watch.read()).status == SERVING
            planning = asyncio.ensure_future(
                _plan(routing.address, _every_city_and_template(2, 3.0))
            )
            await asyncio.sleep(1.5)  # reading stock and building itineraries alone take longer
            assert not planning.done(), "the plan was made before the signal"

            routing.terminate()
            update = await asyncio.wait_for(watch.read(), 5)
            assert update.status == NOT_SERVING
            watch.cancel()  # a watch is a call in flight too: the drain must not wait for it
            assert routing.alive(), "routing exited with a call in flight"
            plan, _ = await asyncio.wait_for(planning, 60)
        assert plan.status in ("OPTIMAL", "FEASIBLE", "NO_SOLUTION") and plan.plan_id
        assert await routing.exit_code(within_s=30) == 0
        events = routing.log_lines()
    finally:
        routing.stop()
    names = [e["event"] for e in events]
    planned = next(
        i
        for i, e in enumerate(events)
        if e["event"] == "rpc" and e["method"].endswith("/PlanDelivery") and e["code"] == "OK"
    )
    assert names.index("server_stopping") < planned < names.index("server_stopped")
