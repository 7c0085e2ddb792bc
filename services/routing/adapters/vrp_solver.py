"""Solve a VrpProblem with OR-Tools routing, as a portfolio of search configurations.

The pipeline follows the OR-Tools routing samples, one small stage each:
nodes -> index manager -> model -> dimensions -> search parameters -> solve ->
read routes. Inputs are scaled to integers (distances x1000, travel and service
times x1000 and rounded up, so that a plan feasible in integers is feasible in
real arithmetic), and every transit is a matrix or vector registered with the
model, evaluated in C++ (no Python callback per arc). The integer matrices are
built once per solve with numpy and handed to the workers.

Every stop is a disjunction: an optional stop at its penalty, a mandatory one
at a penalty larger than any plan's cost, which lets the search start from a
partial plan when the fleet or the windows are tight. A mandatory stop left
out is reported as dropped and the status says INFEASIBLE; nothing is silent.

`solve` runs `workers` configurations at once in separate processes (a
ProcessPoolExecutor; OR-Tools' routing search is single-threaded) and keeps the
best: fewest mandatory stops dropped, then the lowest objective. With
`rounds` > 1 the time is cut into rounds and every later round restarts each
configuration from the best plan so far (`solve_one(..., start=...)`, which
also serves to re-plan from an existing plan). On the Solomon instances three
rounds did not beat one (benchmarks/README.md), so one is the default.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
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
ROUNDS = 1
FIRST_ROUND_SHARE = 0.4

Routes = tuple[tuple[int, ...], ...]  # stop indices, one tuple per vehicle (empty if unused)


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

# From LARGE_PROBLEM_STOPS stops on. A search of a minute barely moves a 1,000-stop plan, so
# the first solution decides, and no one construction wins everywhere (Gehring-Homberger, gap
# of the first solution to the best known): local cheapest insertion is far ahead on RC1_10_1
# (+23 % against +44 % for parallel cheapest insertion, +106 % for path cheapest arc) and
# R2_10_1 (+62 % / +72 %), far behind on C2_10_1 (+95 % / +26 %). So one worker starts from
# each. On RC1_10_1 at 60 s, lci+gls reached +15 % where pca/pci+gls reached +26 %.
LARGE_PROBLEM_STOPS = 400
LARGE_PORTFOLIO: tuple[SearchConfig, ...] = (
    SearchConfig("lci+gls", "LOCAL_CHEAPEST_INSERTION", "GUIDED_LOCAL_SEARCH"),
    SearchConfig("pci+gls", "PARALLEL_CHEAPEST_INSERTION", "GUIDED_LOCAL_SEARCH"),
)


def portfolio_for(problem: VrpProblem) -> tuple[SearchConfig, ...]:
    return LARGE_PORTFOLIO if len(problem.stops) >= LARGE_PROBLEM_STOPS else PORTFOLIO


def solve(
    problem: VrpProblem,
    time_limit_s: float,
    workers: int = 2,
    configs: Sequence[SearchConfig] | None = None,
    executor: Executor | None = None,
    rounds: int = ROUNDS,
) -> VrpSolution:
    """The best plan the portfolio finds within about `time_limit_s` of wall time.

    The time is cut into `rounds`: in the first, every configuration builds its
    own first solution and searches from it; in each later one, every
    configuration searches again from the best plan so far, so both cores keep
    improving one incumbent (a restart of the metaheuristic from the best).
    """
    started = time.perf_counter()
    try:
        problem.validate()
    except InvalidProblem as exc:
        return VrpSolution(status=SolveStatus.INVALID, notes=(str(exc),))
    chosen = list((configs or portfolio_for(problem))[: max(1, workers)])
    if len(chosen) == 1 or executor is not None:
        best = _rounds(executor, problem, time_limit_s, chosen, rounds)
    else:
        # spawn, not fork: a forked child of a process running gRPC threads aborts.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(chosen), mp_context=context) as pool:
            best = _rounds(pool, problem, time_limit_s, chosen, rounds)
    return _with_seconds(best, time.perf_counter() - started)


def _rounds(
    executor: Executor | None,
    problem: VrpProblem,
    limit: float,
    configs: list[SearchConfig],
    rounds: int,
) -> VrpSolution:
    best: VrpSolution | None = None
    arcs = _Arcs.of(problem, _Nodes.of(problem))
    deadline = time.perf_counter() + limit
    for share in _round_shares(rounds):
        limit_now = min(limit * share, deadline - time.perf_counter())
        start = None if best is None or not best.routes else _routes_by_vehicle(problem, best)
        results = _run_all(executor, problem, limit_now, configs, start, arcs)
        if best is not None:
            results.append(best)
        best = min(results, key=lambda s: _rank(problem, s))
    assert best is not None
    return best


def _round_shares(rounds: int) -> list[float]:
    """The first round gets FIRST_ROUND_SHARE of the time, the others share the rest equally."""
    if rounds <= 1:
        return [1.0]
    rest = (1.0 - FIRST_ROUND_SHARE) / (rounds - 1)
    return [FIRST_ROUND_SHARE] + [rest] * (rounds - 1)


def _run_all(
    executor: Executor | None,
    problem: VrpProblem,
    limit: float,
    configs: list[SearchConfig],
    start: Routes | None,
    arcs: _Arcs,
) -> list[VrpSolution]:
    if executor is None:
        return [solve_one(problem, limit, c, start, arcs) for c in configs]
    futures = [executor.submit(solve_one, problem, limit, c, start, arcs) for c in configs]
    return [f.result() for f in futures]


def _routes_by_vehicle(problem: VrpProblem, solution: VrpSolution) -> Routes:
    by_vehicle: list[tuple[int, ...]] = [() for _ in problem.vehicles]
    for r in solution.routes:
        by_vehicle[r.vehicle] = tuple(v.stop for v in r.visits)
    return tuple(by_vehicle)


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


def solve_one(
    problem: VrpProblem,
    time_limit_s: float,
    config: SearchConfig,
    start: Routes | None = None,
    arcs: _Arcs | None = None,
) -> VrpSolution:
    """One configuration in this process: the samples' pipeline end to end.

    With `start` (stop indices per vehicle), the search begins from that plan
    instead of building a first solution.
    """
    started = time.perf_counter()
    nodes = _Nodes.of(problem)
    arcs = _Arcs.of(problem, nodes) if arcs is None else arcs
    manager = pywrapcp.RoutingIndexManager(
        len(nodes.location), len(problem.vehicles), nodes.starts, nodes.ends
    )
    routing = pywrapcp.RoutingModel(manager)
    _add_costs(problem, arcs, routing)
    time_dim = _add_time(problem, arcs, manager, routing)
    _add_loads(problem, nodes, routing)
    _add_pickups_and_deliveries(problem, manager, routing, time_dim)
    _add_drops(problem, arcs, manager, routing)
    params = _parameters(config, time_limit_s - (time.perf_counter() - started))
    initial = None if start is None else _read_start(manager, routing, start, params)
    if initial is None:
        assignment = routing.SolveWithParameters(params)
    else:
        assignment = routing.SolveFromAssignmentWithParameters(initial, params)
    elapsed = time.perf_counter() - started
    if assignment is None:
        status = SolveStatus.TIMEOUT if elapsed >= time_limit_s * 0.95 else SolveStatus.INFEASIBLE
        everything = tuple(range(len(problem.stops)))
        return VrpSolution(status, dropped=everything, seconds=elapsed, configuration=config.name)
    return _read(problem, manager, routing, time_dim, assignment, elapsed, config)


def _read_start(
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    start: Routes,
    params: object,
) -> pywrapcp.Assignment | None:
    """The plan as an assignment; None when the model refuses it (then build one afresh)."""
    routing.CloseModelWithParameters(params)
    routes = [[manager.NodeToIndex(s) for s in stops] for stops in start]
    return routing.ReadAssignmentFromRoutes(routes, True)


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


@dataclass(frozen=True)
class _Arcs:
    """Integer arc matrices between solver nodes, built once per solve (numpy) and
    handed to every worker: for 1,000 stops, Python loops would cost seconds a round."""

    distance: npt.NDArray[np.int64]  # x DISTANCE_SCALE, rounded
    time: npt.NDArray[np.int64]  # service at the origin plus travel, x TIME_SCALE, rounded up

    @classmethod
    def of(cls, problem: VrpProblem, nodes: _Nodes) -> _Arcs:
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


def _add_costs(problem: VrpProblem, arcs: _Arcs, routing: pywrapcp.RoutingModel) -> None:
    arc = routing.RegisterTransitMatrix(arcs.distance.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    for v, vehicle in enumerate(problem.vehicles):
        if vehicle.fixed_cost:
            routing.SetFixedCostOfVehicle(round(vehicle.fixed_cost * DISTANCE_SCALE), v)


def _ceil_time(t: float) -> int:
    return math.ceil(t * TIME_SCALE - 1e-6)


def _floor_time(t: float) -> int:
    return math.floor(t * TIME_SCALE + 1e-6)


def _add_time(
    problem: VrpProblem,
    arcs: _Arcs,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
) -> pywrapcp.RoutingDimension:
    transit = routing.RegisterTransitMatrix(arcs.time.tolist())
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
        # Leave as early as the windows allow: a delivery plan wants kits there soonest
        # (the distance, which the benchmarks score, does not depend on it).
        routing.AddVariableMinimizedByFinalizer(dim.CumulVar(routing.Start(v)))
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


def _mandatory_penalty(problem: VrpProblem, arcs: _Arcs) -> int:
    """More than any plan can cost: every node's longest arc plus every vehicle's fixed cost."""
    longest = int(arcs.distance.max(axis=1).sum())
    fixed = sum(round(v.fixed_cost * DISTANCE_SCALE) for v in problem.vehicles)
    return 10 * (longest + fixed) + 1


def _add_drops(
    problem: VrpProblem,
    arcs: _Arcs,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
) -> None:
    mandatory = _mandatory_penalty(problem, arcs)
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
