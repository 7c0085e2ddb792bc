"""Reading and changing the transport network."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.errors import FieldViolation, InvalidArgument
from services.routing.adapters.network_repository import HubRecord
from services.routing.domain.network import (
    HubKind,
    Mode,
    Network,
    PartnerTruckBase,
    ScheduledService,
    Vehicle,
)
from services.routing.service_layer.unit_of_work import UnitOfWork

_HUB_FOR_MODE = {Mode.AIR: HubKind.AIRPORT, Mode.RAIL: HubKind.RAIL_HUB}


@dataclass(frozen=True)
class NetworkView:
    hubs: list[HubRecord]
    services: list[tuple[ScheduledService, str]]
    partner_trucks: list[tuple[PartnerTruckBase, str]]
    fleet: list[Vehicle]

    def as_network(self) -> Network:
        return Network(
            hubs={h.hub.place.code: h.hub for h in self.hubs},
            services=tuple(s for s, _ in self.services),
            partner_trucks=tuple(b for b, _ in self.partner_trucks),
            fleet=tuple(self.fleet),
        )


async def get_network(uow: UnitOfWork) -> NetworkView:
    return NetworkView(
        await uow.network.hubs(),
        await uow.network.services(),
        await uow.network.partner_trucks(),
        await uow.network.fleet(),
    )


async def list_services(
    mode: Mode | None, origin: str | None, uow: UnitOfWork
) -> list[tuple[ScheduledService, str]]:
    return await uow.network.services(mode, origin)


async def upsert_service(
    service: ScheduledService, basis: str, uow: UnitOfWork
) -> tuple[ScheduledService, str]:
    """A flight must link airports and a train rail hubs; both must be known hubs."""
    wanted = _HUB_FOR_MODE.get(service.mode)
    if wanted is None:
        raise InvalidArgument(
            [FieldViolation("service.mode", "a scheduled service is AIR or RAIL")]
        )
    problems = []
    for path, code in (
        ("service.origin_hub", service.origin),
        ("service.destination_hub", service.destination),
    ):
        kind = await uow.network.hub_kind(code)
        if kind is None:
            problems.append(FieldViolation(path, f"no hub {code!r}"))
        elif kind is not wanted:
            problems.append(FieldViolation(path, f"{code} is a {kind.value}, not a {wanted.value}"))
    if service.origin == service.destination:
        problems.append(FieldViolation("service.destination_hub", "goes nowhere"))
    if problems:
        raise InvalidArgument(problems)
    await uow.network.put_service(service, basis)
    return service, basis


async def list_fleet(depot_code: str | None, uow: UnitOfWork) -> list[Vehicle]:
    return await uow.network.fleet(depot_code)


async def upsert_vehicle(vehicle: Vehicle, uow: UnitOfWork) -> Vehicle:
    await uow.network.put_vehicle(vehicle)
    return vehicle
