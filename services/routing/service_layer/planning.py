"""Planning a delivery: candidate itineraries for every ready kit, the assignment, the trucks.

Three stages over values (the network, the ready stock, the demands): the
itinerary builder lists every way each ready kit could travel; CP-SAT chooses
sources and itineraries; OR-Tools routing then builds the corps' own trucks'
routes for the chosen own-truck legs, re-timing each of those legs as its
truck drives it. A kit no truck can carry in time becomes an unmet demand
(NO_CAPACITY), never a silent drop. It runs in a worker process, never on the
server's event loop, and always within its time limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from services.routing.adapters import assignment_solver, vrp_solver
from services.routing.domain import truck_routes
from services.routing.domain.assignment import (
    AssignmentResult,
    Chosen,
    Demand,
    Limits,
    Option,
    ReadyKit,
    Unmet,
    UnmetReason,
    slots_of,
)
from services.routing.domain.itineraries import Itinerary, ItineraryBuilder, Shipment
from services.routing.domain.network import Mode, Network, Place
from services.routing.domain.travel import TravelTimes
from services.routing.domain.truck_routes import TruckPlan
from services.routing.domain.vrp import SolveStatus

# The assignment's share of the time budget; the trucks' routes get the rest.
ASSIGNMENT_SHARE = 0.7
MIN_ROUTING_S = 0.5
# Pickup-and-delivery problems start best from parallel cheapest insertion; a
# plan's truck problem is small, so a local optimum comes long before the limit.
TRUCK_SEARCH = (
    vrp_solver.SearchConfig("pci+descent", "PARALLEL_CHEAPEST_INSERTION", "GREEDY_DESCENT"),
)


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
    trucks: TruckPlan


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
    started = time.monotonic()
    builder = ItineraryBuilder(network, travel)
    options = options_for(request, builder)
    result = assignment_solver.solve(
        slots_of(request.demands),
        options,
        limits_of(network, options),
        time_limit_s=request.time_limit_s * ASSIGNMENT_SHARE,
    )
    left = max(MIN_ROUTING_S, request.time_limit_s - (time.monotonic() - started))
    trucks = route_trucks(result, request, network, travel, left)
    return Plan(with_trucks(result, trucks), len(options), trucks)


def route_trucks(
    result: AssignmentResult,
    request: PlanInput,
    network: Network,
    travel: TravelTimes,
    time_limit_s: float,
) -> TruckPlan:
    """The own trucks' routes for every kit that goes, on time or late."""
    going = [c.option for c in result.chosen] + [u.late for u in result.unmet if u.late]
    jobs = truck_routes.jobs_of(going, request.places, network)
    if not jobs:
        return TruckPlan((), {}, (), SolveStatus.OPTIMAL)
    problem = truck_routes.problem_for(
        jobs, network, request.places, travel, request.now, winter=request.winter
    )
    solution = vrp_solver.solve(problem.problem, time_limit_s, workers=1, configs=TRUCK_SEARCH)
    return truck_routes.read_routes(problem, solution)


def with_trucks(result: AssignmentResult, trucks: TruckPlan) -> AssignmentResult:
    """Own-truck legs as their trucks drive them; a kit no truck can carry is unmet."""

    def driven(option: Option) -> Option:
        leg = trucks.legs.get(option.slot.key)
        if leg is None:
            return option
        return replace(option, itinerary=truck_routes.retimed(option.itinerary, leg))

    unserved = set(trucks.unserved)
    chosen: list[Chosen] = []
    unmet: list[Unmet] = []
    lost_on_time: list[Unmet] = []
    lost_late: list[Unmet] = []
    for c in result.chosen:
        if c.option.slot.key in unserved:
            lost_on_time.append(Unmet(c.option.slot, UnmetReason.NO_CAPACITY))
        else:
            chosen.append(Chosen(driven(c.option)))
    for u in result.unmet:
        if u.late is None:
            unmet.append(u)
        elif u.slot.key in unserved:
            lost_late.append(Unmet(u.slot, UnmetReason.NO_CAPACITY))
        else:
            unmet.append(replace(u, late=driven(u.late)))
    unmet += lost_on_time + lost_late
    return replace(result, chosen=tuple(chosen), unmet=tuple(unmet))
