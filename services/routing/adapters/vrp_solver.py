"""Solve a VrpProblem with OR-Tools routing, as a portfolio of search configurations.

The pipeline follows the OR-Tools routing samples, one small stage each:
nodes -> index manager -> model -> dimensions -> search parameters -> solve ->
read routes. Inputs are scaled to integers (distances x1000, travel and service
times x1000 and rounded up, so that a plan feasible in integers is feasible in
real arithmetic), and every transit is a matrix or vector registered with the
model, evaluated in C++ (no Python callback per arc).

Every stop is a disjunction: an optional stop at its penalty, a mandatory one
at a penalty larger than any plan's cost, which lets the search start from a
partial plan when the fleet or the windows are tight. A mandatory stop left
out is reported as dropped and the status says INFEASIBLE; nothing is silent.

`solve` runs `workers` configurations at once in separate processes (a
ProcessPoolExecutor; OR-Tools' routing search is single-threaded) and keeps the
best: fewest mandatory stops dropped, then the lowest objective.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from services.routing.domain.vrp import (
    InvalidProblem,
    Route,
    SolveStatus,
    Visit,
    VrpProblem,
    VrpSolution,
)

DISTANCE_SCALE = 1000
TIME_SCALE = 1000
TIME = "time"


@dataclass(frozen=True)
class SearchConfig:
    name: str
    first_solution: str  # a routing_enums_pb2.FirstSolutionStrategy name
    metaheuristic: str  # a routing_enums_pb2.LocalSearchMetaheuristic name


# In the order they are used: `workers` = 2 runs the first two.
PORTFOLIO: tuple[SearchConfig, ...] = (
    SearchConfig("pca+gls", "PATH_CHEAPEST_ARC", "GUIDED_LOCAL_SEARCH"),
    SearchConfig("pci+gls", "PARALLEL_CHEAPEST_INSERTION", "GUIDED_LOCAL_SEARCH"),
    SearchConfig("savings+gls", "SAVINGS", "GUIDED_LOCAL_SEARCH"),
    SearchConfig("lci+sa", "LOCAL_CHEAPEST_INSERTION", "SIMULATED_ANNEALING"),
    SearchConfig("pca+tabu", "PATH_CHEAPEST_ARC", "TABU_SEARCH"),
    SearchConfig("christofides+gls", "CHRISTOFIDES", "GUIDED_LOCAL_SEARCH"),
)


def solve(
    problem: VrpProblem,
    time_limit_s: float,
    workers: int = 2,
    configs: Sequence[SearchConfig] = PORTFOLIO,
    executor: Executor | None = None,
) -> VrpSolution:
    """The best plan the portfolio finds within `time_limit_s` (per configuration)."""
    started = time.perf_counter()
    try:
        problem.validate()
    except InvalidProblem as exc:
        return VrpSolution(status=SolveStatus.INVALID, notes=(str(exc),))
    chosen = list(configs[: max(1, workers)])
    if len(chosen) == 1:
        results = [solve_one(problem, time_limit_s, chosen[0])]
    elif executor is not None:
        results = _run_all(executor, problem, time_limit_s, chosen)
    else:
        # spawn, not fork: a forked child of a process running gRPC threads aborts.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(chosen), mp_context=context) as pool:
            results = _run_all(pool, problem, time_limit_s, chosen)
    best = min(results, key=lambda s: _rank(problem, s))
    return _with_seconds(best, time.perf_counter() - started)


def _run_all(
    executor: Executor, problem: VrpProblem, limit: float, configs: list[SearchConfig]
) -> list[VrpSolution]:
    futures = [executor.submit(solve_one, problem, limit, c) for c in configs]
    return [f.result() for f in futures]


def _rank(problem: VrpProblem, s: VrpSolution) -> tuple[int, int, int]:
    """Found a plan before none; then fewer mandatory stops dropped; then the lower objective."""
    found = s.status is SolveStatus.FEASIBLE or bool(s.routes)
    return (0 if found else 1, len(s.dropped_mandatory(problem)), s.objective)


def _with_seconds(s: VrpSolution, seconds: float) -> VrpSolution:
    return VrpSolution(
        status=s.status,
        routes=s.routes,
        dropped=s.dropped,
        total_distance=s.total_distance,
        objective=s.objective,
        seconds=seconds,
        configuration=s.configuration,
        notes=s.notes,
    )


def solve_one(problem: VrpProblem, time_limit_s: float, config: SearchConfig) -> VrpSolution:
    """One configuration in this process: the samples' pipeline end to end."""
    started = time.perf_counter()
    nodes = _Nodes.of(problem)
    manager = pywrapcp.RoutingIndexManager(
        len(nodes.location), len(problem.vehicles), nodes.starts, nodes.ends
    )
    routing = pywrapcp.RoutingModel(manager)
    _add_costs(problem, nodes, routing)
    time_dim = _add_time(problem, nodes, manager, routing)
    _add_loads(problem, nodes, routing)
    _add_pickups_and_deliveries(problem, manager, routing, time_dim)
    _add_drops(problem, nodes, manager, routing)
    assignment = routing.SolveWithParameters(_parameters(config, time_limit_s))
    elapsed = time.perf_counter() - started
    if assignment is None:
        status = SolveStatus.TIMEOUT if elapsed >= time_limit_s * 0.95 else SolveStatus.INFEASIBLE
        everything = tuple(range(len(problem.stops)))
        return VrpSolution(status, dropped=everything, seconds=elapsed, configuration=config.name)
    return _read(problem, manager, routing, time_dim, assignment, elapsed, config)


@dataclass(frozen=True)
class _Nodes:
    """Solver nodes: one per stop (0..S-1), then one per distinct vehicle start/end location."""

    location: list[int]
    starts: list[int]
    ends: list[int]
    stop_count: int

    @classmethod
    def of(cls, problem: VrpProblem) -> _Nodes:
        depots = sorted({v.start for v in problem.vehicles} | {v.end for v in problem.vehicles})
        s = len(problem.stops)
        node_of = {loc: s + k for k, loc in enumerate(depots)}
        return cls(
            location=[st.location for st in problem.stops] + depots,
            starts=[node_of[v.start] for v in problem.vehicles],
            ends=[node_of[v.end] for v in problem.vehicles],
            stop_count=s,
        )


def _distance_matrix(problem: VrpProblem, nodes: _Nodes) -> list[list[int]]:
    loc = nodes.location
    return [[round(problem.distance(a, b) * DISTANCE_SCALE) for b in loc] for a in loc]


def _add_costs(problem: VrpProblem, nodes: _Nodes, routing: pywrapcp.RoutingModel) -> None:
    arc = routing.RegisterTransitMatrix(_distance_matrix(problem, nodes))
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    for v, vehicle in enumerate(problem.vehicles):
        if vehicle.fixed_cost:
            routing.SetFixedCostOfVehicle(round(vehicle.fixed_cost * DISTANCE_SCALE), v)


def _ceil_time(t: float) -> int:
    return math.ceil(t * TIME_SCALE - 1e-6)


def _floor_time(t: float) -> int:
    return math.floor(t * TIME_SCALE + 1e-6)


def _time_matrix(problem: VrpProblem, nodes: _Nodes) -> list[list[int]]:
    """Service at the origin plus travel, rounded up."""
    service = [_ceil_time(s.service_time) for s in problem.stops]
    service += [0] * (len(nodes.location) - nodes.stop_count)
    loc = nodes.location
    return [
        [service[i] + _ceil_time(problem.travel_time(a, b)) for b in loc] for i, a in enumerate(loc)
    ]


def _add_time(
    problem: VrpProblem,
    nodes: _Nodes,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
) -> pywrapcp.RoutingDimension:
    transit = routing.RegisterTransitMatrix(_time_matrix(problem, nodes))
    horizon = max(_floor_time(v.shift.latest) for v in problem.vehicles)
    routing.AddDimension(transit, horizon, horizon, False, TIME)
    dim = routing.GetDimensionOrDie(TIME)
    for i, stop in enumerate(problem.stops):
        index = manager.NodeToIndex(i)
        dim.CumulVar(index).SetRange(
            _ceil_time(stop.window.earliest), _floor_time(stop.window.latest)
        )
    for v, vehicle in enumerate(problem.vehicles):
        shift = (_ceil_time(vehicle.shift.earliest), _floor_time(vehicle.shift.latest))
        dim.CumulVar(routing.Start(v)).SetRange(*shift)
        dim.CumulVar(routing.End(v)).SetRange(*shift)
        if vehicle.max_duration is not None:
            dim.SetSpanUpperBoundForVehicle(_floor_time(vehicle.max_duration), v)
        routing.AddVariableMaximizedByFinalizer(dim.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(dim.CumulVar(routing.End(v)))
    return dim


def _load_vectors(problem: VrpProblem, nodes: _Nodes) -> list[list[int]]:
    """Per dimension, the load change at each node: +demand at a pickup, -demand at its delivery."""
    change = [list(s.demand) for s in problem.stops]
    for pd in problem.pickup_deliveries:
        change[pd.delivery] = [-q for q in problem.stops[pd.pickup].demand]
    depot_nodes = len(nodes.location) - nodes.stop_count
    return [[c[d] for c in change] + [0] * depot_nodes for d in range(problem.dimensions)]


def _add_loads(problem: VrpProblem, nodes: _Nodes, routing: pywrapcp.RoutingModel) -> None:
    for d, vector in enumerate(_load_vectors(problem, nodes)):
        transit = routing.RegisterUnaryTransitVector(vector)
        capacities = [v.capacities[d] for v in problem.vehicles]
        routing.AddDimensionWithVehicleCapacity(transit, 0, capacities, True, f"load{d}")


def _add_pickups_and_deliveries(
    problem: VrpProblem,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    time_dim: pywrapcp.RoutingDimension,
) -> None:
    solver = routing.solver()
    for pd in problem.pickup_deliveries:
        pickup, delivery = manager.NodeToIndex(pd.pickup), manager.NodeToIndex(pd.delivery)
        routing.AddPickupAndDelivery(pickup, delivery)
        solver.Add(routing.ActiveVar(pickup) == routing.ActiveVar(delivery))
        solver.Add(routing.VehicleVar(pickup) == routing.VehicleVar(delivery))
        solver.Add(time_dim.CumulVar(pickup) <= time_dim.CumulVar(delivery))


def _mandatory_penalty(problem: VrpProblem, nodes: _Nodes) -> int:
    """More than any plan can cost: every node's longest arc plus every vehicle's fixed cost."""
    longest = sum(max(row) for row in _distance_matrix(problem, nodes))
    fixed = sum(round(v.fixed_cost * DISTANCE_SCALE) for v in problem.vehicles)
    return 10 * (longest + fixed) + 1


def _add_drops(
    problem: VrpProblem,
    nodes: _Nodes,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
) -> None:
    mandatory = _mandatory_penalty(problem, nodes)
    for i, stop in enumerate(problem.stops):
        if stop.drop_penalty is None:
            penalty = mandatory
        else:
            penalty = round(stop.drop_penalty * DISTANCE_SCALE)
        routing.AddDisjunction([manager.NodeToIndex(i)], penalty)


def _parameters(config: SearchConfig, time_limit_s: float) -> object:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, config.first_solution
    )
    params.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, config.metaheuristic
    )
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    return params


def _read(
    problem: VrpProblem,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    time_dim: pywrapcp.RoutingDimension,
    assignment: pywrapcp.Assignment,
    elapsed: float,
    config: SearchConfig,
) -> VrpSolution:
    routes: list[Route] = []
    served: set[int] = set()
    for v in range(len(problem.vehicles)):
        sequence = _sequence(manager, routing, assignment, v)
        if not sequence:
            continue
        served.update(sequence)
        departure = assignment.Value(time_dim.CumulVar(routing.Start(v))) / TIME_SCALE
        routes.append(_route(problem, v, sequence, departure))
    dropped = tuple(i for i in range(len(problem.stops)) if i not in served)
    missing = any(problem.stops[i].drop_penalty is None for i in dropped)
    return VrpSolution(
        status=SolveStatus.INFEASIBLE if missing else SolveStatus.FEASIBLE,
        routes=tuple(routes),
        dropped=dropped,
        total_distance=sum(r.distance for r in routes),
        objective=assignment.ObjectiveValue(),
        seconds=elapsed,
        configuration=config.name,
    )


def _sequence(
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    assignment: pywrapcp.Assignment,
    vehicle: int,
) -> list[int]:
    stops = []
    index = assignment.Value(routing.NextVar(routing.Start(vehicle)))
    while not routing.IsEnd(index):
        stops.append(manager.IndexToNode(index))
        index = assignment.Value(routing.NextVar(index))
    return stops


def _route(problem: VrpProblem, vehicle: int, sequence: list[int], departure: float) -> Route:
    """Times and distance recomputed in real arithmetic along the chosen sequence."""
    v = problem.vehicles[vehicle]
    here, clock, distance = v.start, departure, 0.0
    visits = []
    for i in sequence:
        stop = problem.stops[i]
        distance += problem.distance(here, stop.location)
        arrival = clock + problem.travel_time(here, stop.location)
        start = max(arrival, stop.window.earliest)
        visits.append(Visit(stop=i, arrival=arrival, start=start))
        clock, here = start + stop.service_time, stop.location
    distance += problem.distance(here, v.end)
    return_time = clock + problem.travel_time(here, v.end)
    return Route(vehicle, tuple(visits), departure, return_time, distance)
