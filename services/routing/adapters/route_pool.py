"""Routes the searches met, and the set-partitioning model that recombines them (CP-SAT).

Every solution a guided local search accepts is a feasible plan, so each of its
routes is a feasible route on its own. Routes from different plans, each one
good somewhere, can combine into a plan better than any the searches reached:
choose, among every route met, the cheapest set that serves each stop exactly
once with no more vehicles than the fleet has. That choice is a set-partitioning
model, small enough for CP-SAT to solve (or nearly) in a fraction of a second on
a pool of tens of thousands of routes (the ILS-SP / HGS-SP matheuristics).

A route belongs to a vehicle class: vehicles with the same start, end,
capacities, shift, maximum duration and fixed cost can drive each other's
routes, others cannot. For one set of stops the pool keeps only the cheapest
order met. Costs are the routing model's integers (distance x1000, plus the
class's fixed cost); a stop left out costs its drop penalty, as in the routing
model, so a partition is priced exactly as the search prices a plan.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ortools.sat.python import cp_model


@dataclass(frozen=True)
class PooledRoute:
    vehicle_class: int
    stops: tuple[int, ...]  # in driving order
    cost: int  # the arcs' integer cost from the class's start to its end


@dataclass(frozen=True)
class VehicleClass:
    count: int  # vehicles in the fleet of this class
    fixed_cost: int  # paid once per route of this class (routing-model integers)


class RoutePool:
    """For each (vehicle class, set of stops) met, the cheapest order met and its cost."""

    def __init__(self) -> None:
        self._best: dict[tuple[int, frozenset[int]], tuple[int, tuple[int, ...]]] = {}

    def add(self, vehicle_class: int, stops: Sequence[int], cost: int) -> None:
        if not stops:
            return
        key = (vehicle_class, frozenset(stops))
        known = self._best.get(key)
        if known is None or cost < known[0]:
            self._best[key] = (cost, tuple(stops))

    def merge(self, other: RoutePool) -> None:
        for (vehicle_class, _), (cost, stops) in other._best.items():
            self.add(vehicle_class, stops, cost)

    def translated(self, stops: Sequence[int], classes: dict[int, int]) -> RoutePool:
        """This pool's routes in a larger problem: stop i is `stops[i]` there, class c
        is `classes[c]`."""
        wider = RoutePool()
        for (c, _), (cost, local) in self._best.items():
            wider.add(classes[c], [stops[i] for i in local], cost)
        return wider

    def __len__(self) -> int:
        return len(self._best)

    def routes(self) -> list[PooledRoute]:
        return [PooledRoute(c, stops, cost) for (c, _), (cost, stops) in self._best.items()]


class RouteGeometry(Protocol):
    """What recombining needs to know of the routing model."""

    def cost(self, vehicle_class: int, stops: Sequence[int]) -> int: ...

    def can_skip(self, vehicle_class: int, stops: Sequence[int], position: int) -> bool:
        """Whether the route stays feasible without its stop at `position`."""
        ...


@dataclass(frozen=True)
class Partition:
    routes: tuple[PooledRoute, ...]
    dropped: tuple[int, ...]  # stops no chosen route serves
    objective: int  # routes' costs, fixed costs and drop penalties


def recombine(
    pool: RoutePool,
    classes: Sequence[VehicleClass],
    drop_penalties: Sequence[int],
    geometry: RouteGeometry,
    time_limit_s: float,
    hint: Sequence[PooledRoute] = (),
) -> Partition | None:
    """The cheapest plan made of pool routes, each stop served once or dropped at its penalty.

    First as a set covering (a stop may be served twice), which combines more
    routes and solves faster, then repaired: each stop served twice is taken
    out of the route where leaving it saves the most, when `geometry` says the
    route stays feasible. If a repair is impossible, set partitioning on what
    is left of the time. None if CP-SAT found nothing in time.
    """
    deadline = time.perf_counter() + time_limit_s
    routes = pool.routes()
    covering = _solve(routes, classes, drop_penalties, time_limit_s, hint, exact=False)
    if covering is None:
        return None
    repaired = _repair(covering, geometry, classes, drop_penalties)
    if repaired is not None:
        for r in repaired.routes:
            pool.add(r.vehicle_class, r.stops, r.cost)
        return repaired
    return _solve(routes, classes, drop_penalties, deadline - time.perf_counter(), hint, True)


def _solve(
    routes: Sequence[PooledRoute],
    classes: Sequence[VehicleClass],
    drop_penalties: Sequence[int],
    time_limit_s: float,
    hint: Sequence[PooledRoute],
    exact: bool,
) -> Partition | None:
    if time_limit_s <= 0.0:
        return None
    model = cp_model.CpModel()
    pick = [model.new_bool_var(f"r{k}") for k in range(len(routes))]
    drop = [model.new_bool_var(f"d{i}") for i in range(len(drop_penalties))]
    serving: list[list[cp_model.IntVar]] = [[d] for d in drop]
    by_class: list[list[cp_model.IntVar]] = [[] for _ in classes]
    for route, chosen in zip(routes, pick, strict=True):
        for s in route.stops:
            serving[s].append(chosen)
        by_class[route.vehicle_class].append(chosen)
    for literals in serving:
        if exact:
            model.add_exactly_one(literals)
        else:
            model.add_bool_or(literals)
    for vehicle_class, literals in zip(classes, by_class, strict=True):
        if len(literals) > vehicle_class.count:
            model.add(sum(literals) <= vehicle_class.count)
    model.minimize(
        sum(
            (r.cost + classes[r.vehicle_class].fixed_cost) * x
            for r, x in zip(routes, pick, strict=True)
        )
        + sum(p * d for p, d in zip(drop_penalties, drop, strict=True))
    )
    _add_hint(model, routes, pick, drop, hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    # The LP relaxation, which a single worker skips at the default level: without it
    # CP-SAT does not prove a pool of a thousand routes optimal in seconds, with it in
    # a fraction of a second.
    solver.parameters.linearization_level = 2
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return Partition(
        routes=tuple(r for r, x in zip(routes, pick, strict=True) if solver.boolean_value(x)),
        dropped=tuple(i for i, d in enumerate(drop) if solver.boolean_value(d)),
        objective=round(solver.objective_value),
    )


def _repair(
    covering: Partition,
    geometry: RouteGeometry,
    classes: Sequence[VehicleClass],
    drop_penalties: Sequence[int],
) -> Partition | None:
    """`covering` with every stop served once: each stop served twice leaves the route
    where its absence saves the most. None if some stop can leave none of its routes."""
    routes = list(covering.routes)
    while True:
        count = Counter(s for r in routes for s in r.stops)
        twice = [s for s, c in count.items() if c > 1]
        if not twice:
            break
        best: tuple[int, int, PooledRoute] | None = None  # saving, which route, shortened
        for s in twice:
            for k, r in enumerate(routes):
                if s not in r.stops:
                    continue
                position = r.stops.index(s)
                if not geometry.can_skip(r.vehicle_class, r.stops, position):
                    continue
                stops = r.stops[:position] + r.stops[position + 1 :]
                shorter = PooledRoute(r.vehicle_class, stops, geometry.cost(r.vehicle_class, stops))
                if best is None or r.cost - shorter.cost > best[0]:
                    best = (r.cost - shorter.cost, k, shorter)
        if best is None:
            return None
        routes[best[1]] = best[2]
    chosen = tuple(r for r in routes if r.stops)
    # A stop the covering dropped although a chosen route serves it: served, then.
    dropped = set(covering.dropped) - {s for r in chosen for s in r.stops}
    objective = sum(r.cost + classes[r.vehicle_class].fixed_cost for r in chosen)
    objective += sum(drop_penalties[s] for s in dropped)
    return Partition(chosen, tuple(sorted(dropped)), objective)


def _add_hint(
    model: cp_model.CpModel,
    routes: Sequence[PooledRoute],
    pick: Sequence[cp_model.IntVar],
    drop: Sequence[cp_model.IntVar],
    hint: Iterable[PooledRoute],
) -> None:
    chosen = {(r.vehicle_class, frozenset(r.stops)) for r in hint}
    if not chosen:
        return
    served: set[int] = set()
    for route, x in zip(routes, pick, strict=True):
        used = (route.vehicle_class, frozenset(route.stops)) in chosen
        model.add_hint(x, int(used))
        if used:
            served.update(route.stops)
    for i, d in enumerate(drop):
        model.add_hint(d, int(i not in served))
