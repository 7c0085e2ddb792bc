"""Improve a plan a few neighbouring routes at a time, each part searched on its own.

A guided local search over a whole 100-stop plan with tight windows accepts a
few dozen moves a second and stalls far from the best known plans (R1, RC1: +5
to +9 % after 10 s on one core). On a part of about 30 stops (the routes that
pass near a stop drawn at random, and one unused vehicle), the same search
converges in a fraction of a second, and a better part makes a better plan.
Part after part, that is a large neighbourhood search whose repair is OR-Tools
itself (the decomposition strategies of the VRP literature). Every route a
part's search meets is also a feasible route of the whole problem, so the
search returns them for recombination (`route_pool`).

Only for problems without pickup-delivery pairs (a part would have to keep
pairs whole).
"""

from __future__ import annotations

import random
import time
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from services.routing.adapters.route_pool import RoutePool
from services.routing.adapters.vrp_arcs import Arcs, Nodes, RouteCosts, Routes, vehicle_classes
from services.routing.adapters.vrp_model import SearchConfig, search
from services.routing.domain.vrp import VrpProblem

PART_STOPS = 30  # a part takes whole routes until it holds this many stops
PART_SECONDS = 0.3  # the search of one part
MIN_PART_SECONDS = 0.05  # less is not worth a model build
PART_SEARCH = SearchConfig("parts+gls", "AUTOMATIC", "GUIDED_LOCAL_SEARCH")


def improve_by_parts(
    problem: VrpProblem, arcs: Arcs, start: Routes, time_limit_s: float, seed: int
) -> tuple[Routes, RoutePool]:
    """The plan `start` improved part by part for `time_limit_s`, and every route met."""
    deadline = time.perf_counter() + time_limit_s
    parts = _Parts(problem, arcs, start, seed)
    while (left := deadline - time.perf_counter()) > MIN_PART_SECONDS:
        parts.improve_one(min(PART_SECONDS, left))
    return tuple(tuple(r) for r in parts.routes), parts.pool


class _Parts:
    def __init__(self, problem: VrpProblem, arcs: Arcs, start: Routes, seed: int) -> None:
        self.problem = problem
        self.arcs = arcs
        self.routes = [list(r) for r in start]
        self.pool = RoutePool()
        self._costs = RouteCosts(problem, arcs)
        nodes = Nodes.of(problem)
        self._depot_node = {
            nodes.location[n]: n for n in range(nodes.stop_count, len(nodes.location))
        }
        count = len(problem.stops)
        self._nearest = np.argsort(arcs.distance[:count, :count], axis=1, kind="stable")
        self._rng = random.Random(seed)

    def improve_one(self, seconds: float) -> bool:
        """Search one part from its current routes; keep the result if it costs less."""
        vehicles = _part(self.routes, self._nearest, self._rng, self._costs.class_of)
        stops = [s for v in vehicles for s in self.routes[v]]
        sub = replace(
            self.problem,
            vehicles=tuple(self.problem.vehicles[v] for v in vehicles),
            stops=tuple(self.problem.stops[s] for s in stops),
            pickup_deliveries=(),
        )
        local = {s: i for i, s in enumerate(stops)}
        start = tuple(tuple(local[s] for s in self.routes[v]) for v in vehicles)
        solution, found = search(sub, seconds, PART_SEARCH, start, self._arcs_of(sub, stops), True)
        sub_class_of, _ = vehicle_classes(sub)
        classes = {sub_class_of[i]: self._costs.class_of[v] for i, v in enumerate(vehicles)}
        self.pool.merge((found or RoutePool()).translated(stops, classes))
        before = sum(self._costs.of_vehicle(v, self.routes[v]) for v in vehicles)
        if not solution.routes or solution.objective >= before:
            return False
        for v in vehicles:
            self.routes[v] = []
        for r in solution.routes:
            self.routes[vehicles[r.vehicle]] = [stops[visit.stop] for visit in r.visits]
        return True

    def _arcs_of(self, sub: VrpProblem, stops: list[int]) -> Arcs:
        """The part's arcs, cut from the whole problem's: its stops, then its depots."""
        depots = Nodes.of(sub).location[len(stops) :]
        return self.arcs.between(stops + [self._depot_node[loc] for loc in depots])


def _part(
    routes: list[list[int]],
    nearest: npt.NDArray[np.int64],
    rng: random.Random,
    class_of: list[int],
) -> list[int]:
    """The vehicles whose routes pass nearest a stop drawn at random, until PART_STOPS
    stops, and one unused vehicle of each of their classes (a part may open a route)."""
    where = {s: v for v, r in enumerate(routes) for s in r}
    chosen: list[int] = []
    size = 0
    for s in nearest[rng.randrange(len(nearest))]:
        v = where.get(int(s))
        if v is None or v in chosen:
            continue
        chosen.append(v)
        size += len(routes[v])
        if size >= PART_STOPS:
            break
    classes = {class_of[v] for v in chosen}
    for v, r in enumerate(routes):
        if not r and class_of[v] in classes:
            chosen.append(v)
            classes.discard(class_of[v])
    return chosen
