"""The vehicle-routing problem and its solution, as plain values (no I/O, no solver).

A problem is a set of stops to visit with a fleet of vehicles. Travel between
locations comes either from coordinates (Euclidean distance, time = distance /
speed) or from explicit integer matrices. Times are in one unit throughout
(minutes for Solomon, seconds for a road matrix); windows are [earliest, latest]
for the *start* of service.

Loads: a stop's demand has one amount per capacity dimension (kg, m3, ...).
An unpaired stop is a delivery from the vehicle's start, as in the classical
VRP; a pickup-delivery pair loads the pickup's demand and unloads it at the
delivery (the delivery stop's own demand is ignored). A problem mixes the two
only if it accepts that loads are then counted as delivered-so-far plus on
board, so `validate` refuses the mix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True)
class TimeWindow:
    earliest: float
    latest: float


@dataclass(frozen=True)
class Location:
    name: str
    x: float | None = None
    y: float | None = None


@dataclass(frozen=True)
class Vehicle:
    name: str
    start: int  # location index
    end: int  # location index
    capacities: tuple[int, ...]
    shift: TimeWindow
    max_duration: float | None = None  # from leaving start to arriving at end
    fixed_cost: float = 0.0  # in distance units, paid once if the vehicle is used


@dataclass(frozen=True)
class Stop:
    name: str
    location: int  # location index
    demand: tuple[int, ...]
    service_time: float
    window: TimeWindow
    drop_penalty: float | None = None  # None: mandatory; else cost (distance units) to skip it


@dataclass(frozen=True)
class PickupDelivery:
    pickup: int  # stop index
    delivery: int  # stop index


@dataclass(frozen=True)
class VrpProblem:
    locations: tuple[Location, ...]
    vehicles: tuple[Vehicle, ...]
    stops: tuple[Stop, ...]
    pickup_deliveries: tuple[PickupDelivery, ...] = ()
    distance_matrix: tuple[tuple[float, ...], ...] | None = None
    time_matrix: tuple[tuple[float, ...], ...] | None = None
    speed: float = 1.0  # distance units per time unit, when travel comes from coordinates

    def distance(self, a: int, b: int) -> float:
        if self.distance_matrix is not None:
            return self.distance_matrix[a][b]
        la, lb = self.locations[a], self.locations[b]
        assert la.x is not None and la.y is not None and lb.x is not None and lb.y is not None
        return math.hypot(la.x - lb.x, la.y - lb.y)

    def travel_time(self, a: int, b: int) -> float:
        if self.time_matrix is not None:
            return self.time_matrix[a][b]
        return self.distance(a, b) / self.speed

    @property
    def dimensions(self) -> int:
        return len(self.vehicles[0].capacities) if self.vehicles else 0

    def validate(self) -> None:
        """Raise InvalidProblem naming the first thing that cannot be solved as stated."""
        _validate(self)


class InvalidProblem(ValueError):
    pass


def _validate(p: VrpProblem) -> None:
    n = len(p.locations)
    if not p.vehicles:
        raise InvalidProblem("vehicles: at least one is needed")
    for m, name in ((p.distance_matrix, "distance_matrix"), (p.time_matrix, "time_matrix")):
        if m is not None and (len(m) != n or any(len(row) != n for row in m)):
            raise InvalidProblem(f"{name}: must be {n} x {n}")
    if p.distance_matrix is None and any(loc.x is None or loc.y is None for loc in p.locations):
        raise InvalidProblem("locations: coordinates are needed without a distance_matrix")
    dims = p.dimensions
    for i, v in enumerate(p.vehicles):
        if not (0 <= v.start < n and 0 <= v.end < n):
            raise InvalidProblem(f"vehicles[{i}]: start/end must be a location index")
        if len(v.capacities) != dims:
            raise InvalidProblem(f"vehicles[{i}].capacities: every vehicle needs {dims}")
    for i, s in enumerate(p.stops):
        if not 0 <= s.location < n:
            raise InvalidProblem(f"stops[{i}].location: not a location index")
        if len(s.demand) != dims:
            raise InvalidProblem(f"stops[{i}].demand: needs {dims} amounts")
        if s.window.earliest > s.window.latest:
            raise InvalidProblem(f"stops[{i}].window: earliest after latest")
    _validate_pairs(p)


def _validate_pairs(p: VrpProblem) -> None:
    seen: set[int] = set()
    for i, pd in enumerate(p.pickup_deliveries):
        for s in (pd.pickup, pd.delivery):
            if not 0 <= s < len(p.stops) or s in seen:
                raise InvalidProblem(f"pickup_deliveries[{i}]: stop {s} unknown or paired twice")
            seen.add(s)
    unpaired = (s for k, s in enumerate(p.stops) if k not in seen)
    if p.pickup_deliveries and any(any(s.demand) for s in unpaired):
        raise InvalidProblem("stops: a problem with pickup-delivery pairs needs every load paired")


class SolveStatus(Enum):
    OPTIMAL = "optimal"  # the search proved it (small problems)
    FEASIBLE = "feasible"  # every mandatory stop served, within the constraints
    INFEASIBLE = "infeasible"  # no plan serves every mandatory stop
    TIMEOUT = "timeout"  # no solution found within the time limit
    INVALID = "invalid"


@dataclass(frozen=True)
class Visit:
    stop: int
    arrival: float  # when the vehicle arrives
    start: float  # when service starts (arrival or the window's opening, whichever is later)


@dataclass(frozen=True)
class Route:
    vehicle: int
    visits: tuple[Visit, ...]
    departure: float  # from the vehicle's start
    return_time: float  # at the vehicle's end
    distance: float


@dataclass(frozen=True)
class VrpSolution:
    status: SolveStatus
    routes: tuple[Route, ...] = ()  # used vehicles only
    dropped: tuple[int, ...] = ()  # stop indices not served (optional and mandatory)
    total_distance: float = 0.0  # recomputed in double precision
    objective: int = 0  # the solver's integer objective (scaled)
    seconds: float = 0.0
    configuration: str = ""  # which portfolio member produced it
    notes: tuple[str, ...] = field(default=())

    @property
    def vehicles_used(self) -> int:
        return len(self.routes)

    def dropped_mandatory(self, problem: VrpProblem) -> tuple[int, ...]:
        return tuple(s for s in self.dropped if problem.stops[s].drop_penalty is None)
