"""Planning a delivery: candidate itineraries for every ready kit, then the assignment.

Pure computation over values (the network, the ready stock, the demands): it
runs in a worker thread, never on the server's event loop, and always within
a time limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.routing.adapters import assignment_solver
from services.routing.domain.assignment import (
    AssignmentResult,
    Demand,
    Limits,
    Option,
    ReadyKit,
    slots_of,
)
from services.routing.domain.itineraries import Itinerary, ItineraryBuilder, Shipment
from services.routing.domain.network import Mode, Network, Place
from services.routing.domain.travel import TravelTimes


@dataclass(frozen=True)
class PlanInput:
    demands: tuple[Demand, ...]
    # Where each demand's destination and each depot are.
    places: dict[str, Place]
    kits: tuple[ReadyKit, ...]
    now: datetime
    winter: bool = False
    modes: frozenset[Mode] = frozenset(Mode)
    time_limit_s: float = 5.0


@dataclass(frozen=True)
class Plan:
    result: AssignmentResult
    options_considered: int


def limits_of(network: Network, options: Iterable[Option]) -> Limits:
    """Payload caps: each scheduled departure's payload, each depot's own trucks' total."""
    scheduled: dict[str, float] = {}
    for option in options:
        for leg in option.itinerary.scheduled_legs:
            scheduled[leg.capacity_key] = leg.payload_kg
    trucks: dict[str, float] = {}
    for vehicle in network.fleet:
        trucks[vehicle.depot_code] = (
            trucks.get(vehicle.depot_code, 0.0) + vehicle.payload_kg * vehicle.count
        )
    return Limits(scheduled_payload_kg=scheduled, own_truck_payload_kg=trucks)


def options_for(request: PlanInput, builder: ItineraryBuilder) -> list[Option]:
    """Every (slot, ready kit, itinerary) worth considering; itineraries built once per route."""
    slots = slots_of(request.demands)
    cache: dict[tuple[str, str, float, float], Sequence[Itinerary]] = {}
    options: list[Option] = []
    for slot in slots:
        destination = request.places[slot.demand.destination]
        for kit in request.kits:
            if kit.template_code != slot.demand.template_code:
                continue
            key = (kit.depot_code, destination.code, kit.weight_kg, kit.heaviest_piece_kg)
            if key not in cache:
                cache[key] = builder.build(
                    request.places[kit.depot_code],
                    destination,
                    request.now,
                    Shipment(kit.weight_kg, kit.heaviest_piece_kg),
                    winter=request.winter,
                    modes=request.modes,
                )
            options += [Option(slot, kit, it) for it in cache[key]]
    return options


def plan(request: PlanInput, network: Network, travel: TravelTimes) -> Plan:
    builder = ItineraryBuilder(network, travel)
    options = options_for(request, builder)
    result = assignment_solver.solve(
        slots_of(request.demands),
        options,
        limits_of(network, options),
        time_limit_s=request.time_limit_s,
    )
    return Plan(result, len(options))
