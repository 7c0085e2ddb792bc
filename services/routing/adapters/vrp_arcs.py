"""A VrpProblem in the routing model's integers: solver nodes, arc matrices, route costs.

Distances are scaled x1000 and rounded; travel and service times x1000 and
rounded up, so that a plan feasible in integers is feasible in real
arithmetic. The matrices are built once per solve with numpy and handed to
every worker and every stage (searches, parts, recombination), so that all of
them price a route the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.routing.adapters.route_pool import PooledRoute, VehicleClass
from services.routing.domain.vrp import Vehicle, VrpProblem

DISTANCE_SCALE = 1000
TIME_SCALE = 1000

Routes = tuple[tuple[int, ...], ...]  # stop indices, one tuple per vehicle (empty if unused)


@dataclass(frozen=True)
class Nodes:
    """Solver nodes: one per stop (0..S-1), then one per distinct vehicle start/end location."""

    location: list[int]
    starts: list[int]
    ends: list[int]
    stop_count: int

    @classmethod
    def of(cls, problem: VrpProblem) -> Nodes:
        depots = sorted({v.start for v in problem.vehicles} | {v.end for v in problem.vehicles})
        s = len(problem.stops)
        node_of = {loc: s + k for k, loc in enumerate(depots)}
        return cls(
            location=[st.location for st in problem.stops] + depots,
            starts=[node_of[v.start] for v in problem.vehicles],
            ends=[node_of[v.end] for v in problem.vehicles],
            stop_count=s,
        )


@dataclass(frozen=True)
class Arcs:
    """Integer arc matrices between solver nodes: for 1,000 stops, Python loops would
    cost seconds a round."""

    distance: npt.NDArray[np.int64]  # x DISTANCE_SCALE, rounded
    time: npt.NDArray[np.int64]  # service at the origin plus travel, x TIME_SCALE, rounded up

    @classmethod
    def of(cls, problem: VrpProblem, nodes: Nodes) -> Arcs:
        index = np.asarray(nodes.location)
        grid = np.ix_(index, index)
        if problem.distance_matrix is not None:
            distance = np.asarray(problem.distance_matrix, dtype=np.float64)[grid]
        else:
            xy = np.array([(p.x, p.y) for p in problem.locations], dtype=np.float64)[index]
            distance = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        if problem.time_matrix is not None:
            travel = np.asarray(problem.time_matrix, dtype=np.float64)[grid]
        else:
            travel = distance / problem.speed
        service = [s.service_time for s in problem.stops] + [0.0] * (len(index) - nodes.stop_count)
        service_column = np.ceil(np.asarray(service)[:, None] * TIME_SCALE - 1e-6)
        return cls(
            distance=np.rint(distance * DISTANCE_SCALE).astype(np.int64),
            time=(service_column + np.ceil(travel * TIME_SCALE - 1e-6)).astype(np.int64),
        )

    def between(self, nodes: Sequence[int]) -> Arcs:
        """The arcs among `nodes` only, in that order."""
        grid = np.ix_(nodes, nodes)
        return Arcs(distance=self.distance[grid], time=self.time[grid])


def fixed_cost(vehicle: Vehicle) -> int:
    return round(vehicle.fixed_cost * DISTANCE_SCALE)


def drop_penalties(problem: VrpProblem, arcs: Arcs) -> list[int]:
    """What leaving each stop out costs, in the objective's integers."""
    mandatory = _mandatory_penalty(problem, arcs)
    return [
        mandatory if s.drop_penalty is None else round(s.drop_penalty * DISTANCE_SCALE)
        for s in problem.stops
    ]


def _mandatory_penalty(problem: VrpProblem, arcs: Arcs) -> int:
    """More than any plan can cost: every node's longest arc plus every vehicle's fixed cost."""
    longest = int(arcs.distance.max(axis=1).sum())
    fixed = sum(fixed_cost(v) for v in problem.vehicles)
    return 10 * (longest + fixed) + 1


def vehicle_classes(problem: VrpProblem) -> tuple[list[int], list[VehicleClass]]:
    """Each vehicle's class, and the classes: vehicles that can drive each other's routes."""
    index: dict[tuple[object, ...], int] = {}
    class_of: list[int] = []
    counts: list[int] = []
    fixed: list[int] = []
    for v in problem.vehicles:
        key = (v.start, v.end, v.capacities, v.shift, v.max_duration, v.fixed_cost)
        if key not in index:
            index[key] = len(counts)
            counts.append(0)
            fixed.append(fixed_cost(v))
        class_of.append(index[key])
        counts[index[key]] += 1
    return class_of, [VehicleClass(c, f) for c, f in zip(counts, fixed, strict=True)]


def path_cost(distance: list[list[int]], start: int, stops: Sequence[int], end: int) -> int:
    path = [start, *stops, end]
    return sum(distance[a][b] for a, b in itertools.pairwise(path))


class RouteCosts:
    """What a plan given as stop sequences costs in the routing model's objective, and
    which stop a route can leave (route_pool.RouteGeometry)."""

    def __init__(self, problem: VrpProblem, arcs: Arcs) -> None:
        nodes = Nodes.of(problem)
        self.class_of, self.classes = vehicle_classes(problem)
        self.penalties = drop_penalties(problem, arcs)
        self._terminals: dict[int, tuple[int, int]] = {}
        for v, c in enumerate(self.class_of):
            self._terminals.setdefault(c, (nodes.starts[v], nodes.ends[v]))
        self._distance: list[list[int]] = arcs.distance.tolist()
        self._time: list[list[int]] = arcs.time.tolist()
        self._only_loads = [all(q >= 0 for q in s.demand) for s in problem.stops]

    def cost(self, vehicle_class: int, stops: Sequence[int]) -> int:
        start, end = self._terminals[vehicle_class]
        return path_cost(self._distance, start, stops, end)

    def can_skip(self, vehicle_class: int, stops: Sequence[int], position: int) -> bool:
        """Yes when the stop only adds load, and going straight from the stop before it to
        the one after takes no longer than through it (every later visit is then no later)."""
        stop = stops[position]
        if not self._only_loads[stop]:
            return False
        start, end = self._terminals[vehicle_class]
        before = stops[position - 1] if position > 0 else start
        after = stops[position + 1] if position + 1 < len(stops) else end
        t = self._time
        return t[before][after] <= t[before][stop] + t[stop][after]

    def pooled(self, vehicle: int, stops: Sequence[int]) -> PooledRoute:
        vehicle_class = self.class_of[vehicle]
        return PooledRoute(vehicle_class, tuple(stops), self.cost(vehicle_class, stops))

    def of_vehicle(self, vehicle: int, stops: Sequence[int]) -> int:
        """The route's arcs and its vehicle's fixed cost; nothing for an unused vehicle."""
        if not stops:
            return 0
        c = self.class_of[vehicle]
        return self.cost(c, stops) + self.classes[c].fixed_cost

    def objective(self, routes: Routes) -> int:
        served = {s for stops in routes for s in stops}
        dropped = sum(p for s, p in enumerate(self.penalties) if s not in served)
        return sum(self.of_vehicle(v, stops) for v, stops in enumerate(routes)) + dropped
