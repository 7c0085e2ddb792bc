"""RoutingService: each method maps the request, runs a use case, maps the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.common import convert
from services.common.errors import Violations
from services.routing.api import mappers
from services.routing.service_layer import network
from services.routing.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

R = TypeVar("R")


class RoutingServicer(pb_grpc.RoutingServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def _read(self, work: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        async with self._uow() as uow:
            return await work(uow)

    async def _write(self, work: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        """Upserts: a retry writes the same values again, so it is safe without a request id."""
        async with self._uow() as uow:
            found = await work(uow)
            await uow.commit()
            return found

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

    async def ListPartnerServices(
        self, request: pb.ListPartnerServicesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPartnerServicesResponse:
        mode, origin = mappers.mode_filter(request)
        found = await self._read(lambda uow: network.list_services(mode, origin, uow))
        return pb.ListPartnerServicesResponse(
            services=[mappers.service(s, basis) for s, basis in found]
        )

    async def UpsertPartnerService(
        self, request: pb.UpsertPartnerServiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpsertPartnerServiceResponse:
        service, basis = mappers.to_service(request)
        found, kept = await self._write(lambda uow: network.upsert_service(service, basis, uow))
        return pb.UpsertPartnerServiceResponse(service=mappers.service(found, kept))

    async def ListFleet(
        self, request: pb.ListFleetRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListFleetResponse:
        v = Violations()
        depot = convert.code(v, "depot_code", request.depot_code, required=False) or None
        v.raise_if_any()
        found = await self._read(lambda uow: network.list_fleet(depot, uow))
        return pb.ListFleetResponse(vehicles=[mappers.vehicle(x) for x in found])

    async def UpsertVehicle(
        self, request: pb.UpsertVehicleRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpsertVehicleResponse:
        vehicle = mappers.to_vehicle(request)
        found = await self._write(lambda uow: network.upsert_vehicle(vehicle, uow))
        return pb.UpsertVehicleResponse(vehicle=mappers.vehicle(found))
