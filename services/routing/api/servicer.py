"""RoutingService: each method maps the request, runs a use case, maps the answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

import grpc
from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.common import calls, convert, metrics
from services.common.auth import Role, allow
from services.common.clock import PROVINCE_TZ
from services.common.errors import Violations
from services.routing.adapters.inventory_client import InventoryClient
from services.routing.api import mappers
from services.routing.domain.assignment import ReadyKit
from services.routing.domain.network import Network, Place
from services.routing.domain.travel import TravelTimes
from services.routing.service_layer import estimates, network, planning, plans
from services.routing.service_layer.estimates import EstimateRequest
from services.routing.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

R = TypeVar("R")


class RoutingServicer(pb_grpc.RoutingServiceServicer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        inventory: InventoryClient,
        cities: dict[str, Place],
        travel: TravelTimes,
        solver: Executor,
        max_solve_s: float = 30.0,
    ) -> None:
        self._uow = uow
        self._inventory = inventory
        self._cities = cities
        self._travel = travel
        # OR-Tools' routing search holds the GIL: plans are solved in worker processes.
        self._solver = solver
        self._max_solve_s = max_solve_s

    async def _read(self, work: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        async with self._uow() as uow:
            return await work(uow)

    async def _write(self, method: str, key: str, work: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        """Upserts: a retry writes the same values again, so it is safe without a request id.

        Each is audited (who, from where, under which request id) in its transaction."""
        async with self._uow() as uow:
            found = await work(uow)
            uow.audit.record(method, [key])
            await uow.commit()
            return found

    @allow(Role.PLANNER, Role.COMMAND)
    async def GetNetwork(
        self, request: pb.GetNetworkRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetNetworkResponse:
        view = await self._read(network.get_network)
        answer = pb.GetNetworkResponse(
            hubs=[mappers.hub(h) for h in view.hubs],
            services=[mappers.service(s, basis) for s, basis in view.services],
            partner_trucks=[mappers.partner_truck(b, name) for b, name in view.partner_trucks],
            fleet=[mappers.vehicle(v) for v in view.fleet],
        )
        answer.as_of.GetCurrentTime()
        return answer

    @allow(Role.PLANNER, Role.COMMAND)
    async def ListPartnerServices(
        self, request: pb.ListPartnerServicesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPartnerServicesResponse:
        mode, origin = mappers.mode_filter(request)
        found = await self._read(lambda uow: network.list_services(mode, origin, uow))
        return pb.ListPartnerServicesResponse(
            services=[mappers.service(s, basis) for s, basis in found]
        )

    @allow(Role.PLANNER)
    async def UpsertPartnerService(
        self, request: pb.UpsertPartnerServiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpsertPartnerServiceResponse:
        service, basis = mappers.to_service(request)
        found, kept = await self._write(
            "UpsertPartnerService",
            service.service_code,
            lambda uow: network.upsert_service(service, basis, uow),
        )
        return pb.UpsertPartnerServiceResponse(service=mappers.service(found, kept))

    @allow(Role.PLANNER, Role.COMMAND)
    async def ListFleet(
        self, request: pb.ListFleetRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListFleetResponse:
        v = Violations()
        depot = convert.code(v, "depot_code", request.depot_code, required=False) or None
        v.raise_if_any()
        found = await self._read(lambda uow: network.list_fleet(depot, uow))
        return pb.ListFleetResponse(vehicles=[mappers.vehicle(x) for x in found])

    @allow(Role.PLANNER)
    async def UpsertVehicle(
        self, request: pb.UpsertVehicleRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpsertVehicleResponse:
        vehicle = mappers.to_vehicle(request)
        found = await self._write(
            "UpsertVehicle", vehicle.vehicle_id, lambda uow: network.upsert_vehicle(vehicle, uow)
        )
        return pb.UpsertVehicleResponse(vehicle=mappers.vehicle(found))

    # ---------------------------------------------------------------- planning
    async def _stock(self) -> tuple[Network, dict[str, Place], list[ReadyKit]]:
        view = await self._read(network.get_network)
        depots = await self._inventory.depots()
        kits = await self._inventory.ready_kits()
        return view.as_network(), depots, kits

    @allow(Role.PLANNER)
    async def PlanDelivery(
        self, request: pb.PlanDeliveryRequest, context: grpc.aio.ServicerContext
    ) -> pb.PlanDeliveryResponse:
        now = datetime.now(PROVINCE_TZ)
        net, depots, kits = await self._stock()
        asked, destinations, named = mappers.to_plan(
            request, self._cities, depots, now, self._max_solve_s
        )
        places = {**depots, **destinations}
        plan_input = replace(asked, places=places, kits=tuple(kits))
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        found = await loop.run_in_executor(
            self._solver, planning.plan, plan_input, net, self._travel
        )
        metrics.plan_solved(found.result.status, time.perf_counter() - started)
        plan_id = uuid.uuid4()
        receiving = plans.receiving_depots(asked.demands, places, depots, named)
        who = calls.now_serving().actor
        message = mappers.plan(found, plan_id, now, request, receiving)
        message.created_by = who
        stored = plans.to_store(
            found, plan_id, now, asked.demands, receiving, mappers.document(message), who
        )
        async with self._uow() as uow:
            await plans.save_plan(stored, uow)
        return pb.PlanDeliveryResponse(plan=message)

    @allow(Role.PLANNER, Role.COMMAND)
    async def GetPlan(
        self, request: pb.GetPlanRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPlanResponse:
        plan_id = mappers.plan_id(request.plan_id)
        found = await self._read(lambda uow: plans.get_plan(plan_id, uow))
        return pb.GetPlanResponse(plan=mappers.stored_plan(found))

    @allow(Role.PLANNER, Role.COMMAND)
    async def ListPlans(
        self, request: pb.ListPlansRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPlansResponse:
        v = Violations()
        page = convert.page(v, request.page_size, request.page_token, "plans")
        v.raise_if_any()
        found = await self._read(lambda uow: plans.list_plans(page, uow))
        return pb.ListPlansResponse(
            plans=[mappers.plan_summary(p) for p in found.items],
            next_page_token=convert.page_token(found.next_key, "plans"),
        )

    @allow(Role.PLANNER)
    async def CommitPlan(
        self, request: pb.CommitPlanRequest, context: grpc.aio.ServicerContext
    ) -> pb.CommitPlanResponse:
        plan_id = mappers.plan_id(request.plan_id)
        committed = await plans.commit_plan(
            plan_id, self._inventory, self._uow, lambda: datetime.now(PROVINCE_TZ)
        )
        return pb.CommitPlanResponse(plan=mappers.stored_plan(committed))

    @allow(Role.PLANNER, Role.COMMAND)
    async def EstimateDeliveryTimes(
        self, request: pb.EstimateDeliveryTimesRequest, context: grpc.aio.ServicerContext
    ) -> pb.EstimateDeliveryTimesResponse:
        cities, asked, needed = mappers.to_estimates(request, self._cities)
        now = datetime.now(PROVINCE_TZ)
        net, depots, kits = await self._stock()
        templates = asked or sorted({k.template_code for k in kits})
        wanted = [
            EstimateRequest(t, city, needed) for t in templates for city in cities or self._cities
        ]
        places = {**depots, **self._cities}
        found = await asyncio.to_thread(
            estimates.estimate, wanted, kits, places, now, net, self._travel, winter=request.winter
        )
        answer = pb.EstimateDeliveryTimesResponse(
            estimates=[mappers.estimate(e, now) for e in found]
        )
        answer.as_of.FromDatetime(now)
        return answer
