"""The corps' own trucks' routes for a chosen plan, as a multi-depot pickup-and-delivery problem.

The assignment decides, kit by kit, that a kit leaves its depot on one of the
corps' own trucks: straight to the destination, or to the airport or rail hub
of its flight or train. This module turns those own-truck legs into one
vehicle-routing problem, so that kits going the same way share a truck and no
truck is in two places at once:

- each kit is a pickup at its depot (loading time, its weight in kg and its
  volume in m3) paired with a delivery where its own-truck leg ends;
- the vehicles are the fleet's trucks, `count` copies of each, starting and
  ending at their home depot; a truck may collect at another depot;
- a delivery to a hub must arrive in time for its flight's or train's
  acceptance cut-off (the itinerary's latest hand-over), a delivery to the
  destination by the demand's deadline (or, for a kit the assignment already
  sends late, by the arrival it was planned with).

Times are minutes from the plan's start; distances road km. No I/O, no solver:
`problem_for` builds the problem, `read_routes` reads a solution back into
routes and each kit's re-timed truck leg.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.routing.domain.assignment import Option
from services.routing.domain.itineraries import LOADING_MINUTES, Itinerary
from services.routing.domain.network import Mode, Network, Place
from services.routing.domain.travel import TravelTimes
from services.routing.domain.vrp import (
    Location,
    PickupDelivery,
    SolveStatus,
    Stop,
    TimeWindow,
    Vehicle,
    VrpProblem,
    VrpSolution,
)

# A truck that goes out costs as much as this many km: kits going the same way share one.
TRUCK_CALL_OUT_KM = 50.0
VOLUME_SCALE = 1000  # m3 -> litres, so volumes are whole numbers
HORIZON_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class TruckJob:
    """One kit's own-truck leg, for the routing problem."""

    key: str  # the slot it serves
    kit_label: str
    pickup: Place
    dropoff: Place
    weight_kg: float
    volume_m3: float
    latest_dropoff: datetime


@dataclass(frozen=True)
class TruckStop:
    place: str
    arrive: datetime
    depart: datetime
    load: tuple[str, ...] = ()  # kit labels loaded here
    unload: tuple[str, ...] = ()


@dataclass(frozen=True)
class TruckRoute:
    vehicle_id: str  # the fleet's vehicle id, with "#n" for its n-th truck when it has several
    depot_code: str
    stops: tuple[TruckStop, ...]
    leave: datetime  # the home depot
    back: datetime
    distance_km: float


@dataclass(frozen=True)
class TruckPlan:
    routes: tuple[TruckRoute, ...]
    # slot key -> the kit's own-truck leg as driven: (leaves its depot, arrives)
    legs: dict[str, tuple[datetime, datetime]]
    # slot keys no truck can carry in time
    unserved: tuple[str, ...]
    status: SolveStatus


def jobs_of(chosen: Sequence[Option], places: dict[str, Place], network: Network) -> list[TruckJob]:
    """The own-truck legs of the chosen options (each starts at the kit's depot)."""
    cutoffs = {s.service_code: s.cutoff_minutes for s in network.services}
    jobs = []
    for option in chosen:
        legs = option.itinerary.legs
        first = legs[0]
        if first.mode is not Mode.OWN_TRUCK:
            continue
        if len(legs) == 1:
            latest = max(option.slot.demand.deadline, first.arrive)
        else:
            # At the hub in time to hand over before the scheduled leg's cut-off.
            hub = network.hubs[first.destination]
            before = cutoffs.get(legs[1].service_code, 0) + hub.handling_minutes
            latest = max(first.arrive, legs[1].depart - timedelta(minutes=before))
        jobs.append(
            TruckJob(
                key=option.slot.key,
                kit_label=option.kit.label,
                pickup=places[first.origin],
                dropoff=network.hubs[first.destination].place
                if len(legs) > 1
                else places[first.destination],
                weight_kg=option.kit.weight_kg,
                volume_m3=option.kit.volume_m3,
                latest_dropoff=latest,
            )
        )
    return jobs


@dataclass(frozen=True)
class TruckProblem:
    problem: VrpProblem
    jobs: tuple[TruckJob, ...]
    vehicle_ids: tuple[str, ...]
    vehicle_depots: tuple[str, ...]
    location_codes: tuple[str, ...]
    start: datetime


def problem_for(
    jobs: Sequence[TruckJob],
    network: Network,
    places: dict[str, Place],
    travel: TravelTimes,
    start: datetime,
    *,
    winter: bool,
) -> TruckProblem:
    located: list[Place] = []
    index: dict[str, int] = {}

    def at(place: Place) -> int:
        if place.code not in index:
            index[place.code] = len(located)
            located.append(place)
        return index[place.code]

    stops: list[Stop] = []
    pairs: list[PickupDelivery] = []
    for job in jobs:
        load = (math.ceil(job.weight_kg), math.ceil(job.volume_m3 * VOLUME_SCALE))
        latest = (job.latest_dropoff - start).total_seconds() / 60
        pairs.append(PickupDelivery(len(stops), len(stops) + 1))
        stops.append(
            Stop(
                f"load {job.kit_label}",
                at(job.pickup),
                load,
                LOADING_MINUTES,
                TimeWindow(0, HORIZON_MINUTES),
            )
        )
        stops.append(
            Stop(
                f"unload {job.kit_label}",
                at(job.dropoff),
                (0, 0),
                0,
                TimeWindow(0, max(0.0, latest)),
            )
        )
    vehicles: list[Vehicle] = []
    ids: list[str] = []
    depots: list[str] = []
    for truck in network.fleet:
        home = places.get(truck.depot_code)
        if home is None:
            continue  # a depot inventory no longer lists
        for n in range(truck.count):
            ids.append(truck.vehicle_id if truck.count == 1 else f"{truck.vehicle_id}#{n + 1}")
            depots.append(truck.depot_code)
            vehicles.append(
                Vehicle(
                    ids[-1],
                    at(home),
                    at(home),
                    (math.floor(truck.payload_kg), math.floor(truck.volume_m3 * VOLUME_SCALE)),
                    TimeWindow(0, HORIZON_MINUTES),
                    fixed_cost=TRUCK_CALL_OUT_KM,
                )
            )
    codes = tuple(p.code for p in located)
    problem = VrpProblem(
        locations=tuple(Location(c) for c in codes),
        vehicles=tuple(vehicles),
        stops=tuple(stops),
        pickup_deliveries=tuple(pairs),
        distance_matrix=tuple(tuple(travel.road_km(a, b) for b in located) for a in located),
        time_matrix=tuple(
            tuple(float(travel.road_minutes(a, b, winter=winter)) for b in located) for a in located
        ),
    )
    return TruckProblem(problem, tuple(jobs), tuple(ids), tuple(depots), codes, start)


def read_routes(truck: TruckProblem, solution: VrpSolution) -> TruckPlan:
    """Routes as stops with kits loaded and unloaded, and each kit's leg as driven."""

    def clock(minutes: float) -> datetime:
        return truck.start + timedelta(minutes=minutes)

    problem = truck.problem
    routes: list[TruckRoute] = []
    arrive: dict[str, datetime] = {}  # slot key -> when its kit is unloaded
    for route in solution.routes:
        stops: list[TruckStop] = []
        for visit in route.visits:
            stop = problem.stops[visit.stop]
            job = truck.jobs[visit.stop // 2]
            loading = visit.stop % 2 == 0
            leave = visit.start + stop.service_time
            if not loading:
                arrive[job.key] = clock(visit.arrival)
            place = truck.location_codes[stop.location]
            if stops and stops[-1].place == place:
                # Several kits at one place: one stop.
                last = stops[-1]
                stops[-1] = replace(
                    last,
                    depart=max(last.depart, clock(leave)),
                    load=last.load + ((job.kit_label,) if loading else ()),
                    unload=last.unload + (() if loading else (job.kit_label,)),
                )
                continue
            stops.append(
                TruckStop(
                    place,
                    clock(visit.arrival),
                    clock(leave),
                    (job.kit_label,) if loading else (),
                    () if loading else (job.kit_label,),
                )
            )
        routes.append(
            TruckRoute(
                truck.vehicle_ids[route.vehicle],
                truck.vehicle_depots[route.vehicle],
                tuple(stops),
                clock(route.departure),
                clock(route.return_time),
                round(route.distance, 1),
            )
        )
    unserved = tuple(sorted({truck.jobs[s // 2].key for s in solution.dropped}))
    # A kit leaves when its truck leaves the stop it was loaded at (after every load there).
    key_of = {j.kit_label: j.key for j in truck.jobs}
    legs = {
        key_of[label]: (s.depart, arrive[key_of[label]])
        for r in routes
        for s in r.stops
        for label in s.load
    }
    return TruckPlan(tuple(routes), legs, unserved, solution.status)


def retimed(itinerary: Itinerary, leg: tuple[datetime, datetime]) -> Itinerary:
    """The itinerary with its first (own-truck) leg as the truck route drives it."""
    depart, arrive = leg
    first = replace(itinerary.legs[0], depart=depart, arrive=arrive)
    return replace(itinerary, legs=(first, *itinerary.legs[1:]))
