"""One OR-Tools routing search over a VrpProblem: the pipeline of the OR-Tools samples.

One small stage each: nodes -> index manager -> model -> dimensions -> search
parameters -> solve -> read routes. Inputs are the integer matrices of
`vrp_arcs`, registered with the model as matrices and vectors, evaluated in C++
(no Python callback per arc).

Every stop is a disjunction: an optional stop at its penalty, a mandatory one
at a penalty larger than any plan's cost, which lets the search start from a
partial plan when the fleet or the windows are tight. A mandatory stop left
out is reported as dropped and the status says INFEASIBLE; nothing is silent.

A search can start from a given plan (stop sequences per vehicle), and can
collect every route of every plan it accepts (`route_pool`): the searches
accept only feasible plans, so each of those routes is feasible alone.

`ITERATED_LOCAL_SEARCH` (OR-Tools >= 9.11) is OR-Tools' ruin and recreate:
remove a few strings of neighbouring stops (SISR), reinsert them cheapest
first, descend to a local optimum, accept the result as the next reference
by simulated annealing, keep the best. OR-Tools runs it only from its own
first solution, so a search from a given plan runs a guided local search.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_ils_pb2
from ortools.util import optional_boolean_pb2

from services.routing.adapters.route_pool import RoutePool
from services.routing.adapters.vrp_arcs import (
    TIME_SCALE,
    Arcs,
    Nodes,
    Routes,
    drop_penalties,
    fixed_cost,
    path_cost,
    vehicle_classes,
)
from services.routing.domain.vrp import Route, SolveStatus, Visit, VrpProblem, VrpSolution

TIME = "time"

ITERATED_LOCAL_SEARCH = "ITERATED_LOCAL_SEARCH"
# Visits removed per ruin, on average, and at most per string. Single worker, 8 s, six of
# the hardest Solomon instances (R104, R109, R207, RC103, RC107, RC206), mean gap: guided
# local search +6.8 %; ruins of 5 visits +6.4 %, 10 +4.0-4.5 %, 20 +3.2 %, 30 +4.3 %, 40
# +3.9 %; strings of at most 5 +4.8 %, 10 +3.2 %, 15 +3.9 %.
RUIN_VISITS = 20
RUIN_STRING = 10
# The descent after each recreate goes without the operators that are searches of their own
# (the cheapest-insertion large neighbourhoods, each up to lns_time_limit) and Lin-Kernighan:
# about twice the ruins in the same time. Same six plus six more R1/RC1, single worker, 8 s:
# +2.58 % against +3.03 %; in the portfolio, 10 s, R1 and RC1 +1.15 % against +1.24 %, R2
# and RC2 +0.64 % (worst +1.63 %) against +0.85 % (worst +2.71 %).
DESCENT_WITHOUT = (
    "use_lin_kernighan",
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
)


@dataclass(frozen=True)
class SearchConfig:
    name: str
    first_solution: str  # a routing_enums_pb2.FirstSolutionStrategy name
    # a routing_enums_pb2.LocalSearchMetaheuristic name, or ITERATED_LOCAL_SEARCH
    metaheuristic: str
    # What each route costs the search on top of its arcs, in mean stop-to-stop arcs: a
    # search drawn to plans with fewer routes. The plan it returns is priced without it.
    route_bias: float = 0.0


def solve_one(
    problem: VrpProblem,
    time_limit_s: float,
    config: SearchConfig,
    start: Routes | None = None,
    arcs: Arcs | None = None,
) -> VrpSolution:
    """One configuration in this process: the samples' pipeline end to end.

    With `start` (stop indices per vehicle), the search begins from that plan
    instead of building a first solution.
    """
    return search(problem, time_limit_s, config, start, arcs)[0]


def search(
    problem: VrpProblem,
    time_limit_s: float,
    config: SearchConfig,
    start: Routes | None = None,
    arcs: Arcs | None = None,
    collect: bool = False,
    evaluate_only: bool = False,
) -> tuple[VrpSolution, RoutePool | None]:
    """`solve_one`, and with `collect` the pool of every route of every plan the search met.

    With `evaluate_only`, `start` is read and timed, not searched from.
    """
    started = time.perf_counter()
    nodes = Nodes.of(problem)
    arcs = Arcs.of(problem, nodes) if arcs is None else arcs
    manager = pywrapcp.RoutingIndexManager(
        len(nodes.location), len(problem.vehicles), nodes.starts, nodes.ends
    )
    routing = pywrapcp.RoutingModel(manager)
    distance = _add_costs(problem, arcs, routing)
    bias = _add_route_bias(problem, arcs, routing, config.route_bias)
    time_dim = _add_time(problem, arcs, manager, routing)
    _add_loads(problem, nodes, routing)
    _add_pickups_and_deliveries(problem, manager, routing, time_dim)
    _add_drops(problem, arcs, manager, routing)
    pool = None
    if collect:
        collector = _RouteCollector(problem, nodes, manager, routing, distance)
        routing.AddAtSolutionCallback(collector)
        pool = collector.pool
    params = _parameters(config, time_limit_s - (time.perf_counter() - started))
    if evaluate_only:
        params.solution_limit = 1
    initial = None if start is None else _read_start(manager, routing, start, params)
    if initial is None and evaluate_only:
        assignment = None
    elif initial is None and params.use_iterated_local_search:
        assignment = routing.SolveWithIteratedLocalSearch(params)
    elif initial is None:
        assignment = routing.SolveWithParameters(params)
    else:
        params.use_iterated_local_search = False  # OR-Tools' ILS has no given start
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
        assignment = routing.SolveFromAssignmentWithParameters(initial, params)
    elapsed = time.perf_counter() - started
    if assignment is None:
        status = SolveStatus.TIMEOUT if elapsed >= time_limit_s * 0.95 else SolveStatus.INFEASIBLE
        everything = tuple(range(len(problem.stops)))
        failed = VrpSolution(status, dropped=everything, seconds=elapsed, configuration=config.name)
        return failed, pool
    solution = _read(problem, manager, routing, time_dim, assignment, elapsed, config)
    return replace(solution, objective=solution.objective - bias * len(solution.routes)), pool


def evaluate(problem: VrpProblem, arcs: Arcs, routes: Routes, name: str) -> VrpSolution | None:
    """The plan `routes` read as a solution (the routing model times it), or None if refused."""
    config = SearchConfig(name, "AUTOMATIC", "GREEDY_DESCENT")
    solution, _ = search(problem, 1.0, config, routes, arcs, evaluate_only=True)
    return solution if solution.routes else None


def routes_by_vehicle(problem: VrpProblem, solution: VrpSolution) -> Routes:
    by_vehicle: list[tuple[int, ...]] = [() for _ in problem.vehicles]
    for r in solution.routes:
        by_vehicle[r.vehicle] = tuple(v.stop for v in r.visits)
    return tuple(by_vehicle)


class _RouteCollector:
    """Called at every plan the search accepts: adds each of its routes to the pool."""

    def __init__(
        self,
        problem: VrpProblem,
        nodes: Nodes,
        manager: pywrapcp.RoutingIndexManager,
        routing: pywrapcp.RoutingModel,
        distance: list[list[int]],
    ) -> None:
        self.pool = RoutePool()
        self._routing = routing
        self._manager = manager
        self._distance = distance
        self._classes = vehicle_classes(problem)[0]
        self._starts, self._ends = nodes.starts, nodes.ends
        self._seen: set[tuple[int, tuple[int, ...]]] = set()

    def __call__(self) -> None:
        routing, manager = self._routing, self._manager
        for v, vehicle_class in enumerate(self._classes):
            stops = []
            index = routing.NextVar(routing.Start(v)).Value()
            while not routing.IsEnd(index):
                stops.append(manager.IndexToNode(index))
                index = routing.NextVar(index).Value()
            key = (vehicle_class, tuple(stops))
            if not stops or key in self._seen:
                continue
            self._seen.add(key)
            self.pool.add(vehicle_class, key[1], self._cost(v, stops))

    def _cost(self, v: int, stops: list[int]) -> int:
        return path_cost(self._distance, self._starts[v], stops, self._ends[v])


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


def _add_costs(problem: VrpProblem, arcs: Arcs, routing: pywrapcp.RoutingModel) -> list[list[int]]:
    """Arc costs (the distance matrix, returned as lists) and vehicles' fixed costs."""
    distance: list[list[int]] = arcs.distance.tolist()
    arc = routing.RegisterTransitMatrix(distance)
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    for v, vehicle in enumerate(problem.vehicles):
        if vehicle.fixed_cost:
            routing.SetFixedCostOfVehicle(fixed_cost(vehicle), v)
    return distance


def _add_route_bias(
    problem: VrpProblem, arcs: Arcs, routing: pywrapcp.RoutingModel, route_bias: float
) -> int:
    """Each vehicle's fixed cost raised by `route_bias` mean arcs between stops; the raise."""
    count = len(problem.stops)
    if route_bias <= 0.0 or count < 2:
        return 0
    mean_arc = float(arcs.distance[:count, :count].sum()) / (count * (count - 1))
    bias = round(route_bias * mean_arc)
    for v, vehicle in enumerate(problem.vehicles):
        routing.SetFixedCostOfVehicle(fixed_cost(vehicle) + bias, v)
    return bias


def _ceil_time(t: float) -> int:
    return math.ceil(t * TIME_SCALE - 1e-6)


def _floor_time(t: float) -> int:
    return math.floor(t * TIME_SCALE + 1e-6)


def _add_time(
    problem: VrpProblem,
    arcs: Arcs,
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


def _load_vectors(problem: VrpProblem, nodes: Nodes) -> list[list[int]]:
    """Per dimension, the load change at each node: +demand at a pickup, -demand at its delivery."""
    change = [list(s.demand) for s in problem.stops]
    for pd in problem.pickup_deliveries:
        change[pd.delivery] = [-q for q in problem.stops[pd.pickup].demand]
    depot_nodes = len(nodes.location) - nodes.stop_count
    return [[c[d] for c in change] + [0] * depot_nodes for d in range(problem.dimensions)]


def _add_loads(problem: VrpProblem, nodes: Nodes, routing: pywrapcp.RoutingModel) -> None:
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


def _add_drops(
    problem: VrpProblem,
    arcs: Arcs,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
) -> None:
    for i, penalty in enumerate(drop_penalties(problem, arcs)):
        routing.AddDisjunction([manager.NodeToIndex(i)], penalty)


def _parameters(config: SearchConfig, time_limit_s: float) -> Any:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, config.first_solution
    )
    if config.metaheuristic == ITERATED_LOCAL_SEARCH:
        _use_ruin_and_recreate(params)
    else:
        params.local_search_metaheuristic = getattr(
            routing_enums_pb2.LocalSearchMetaheuristic, config.metaheuristic
        )
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    return params


def _use_ruin_and_recreate(params: Any) -> None:
    """Iterated local search: SISR ruins (Christiaens and Vanden Berghe, 2020), cheapest
    reinsertion, a descent after each, simulated annealing between local optima."""
    params.use_iterated_local_search = True
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    ils = params.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    ils.improve_perturbed_solution = True
    ruin_recreate = ils.ruin_recreate_parameters
    del ruin_recreate.ruin_strategies[:]
    sisr = ruin_recreate.ruin_strategies.add().sisr
    sisr.avg_num_removed_visits = RUIN_VISITS
    sisr.max_removed_sequence_size = RUIN_STRING
    sisr.bypass_factor = 0.01  # the paper's
    ruin_recreate.ruin_composition_strategy = (
        routing_ils_pb2.RuinCompositionStrategy.RUN_ONE_RANDOMLY
    )
    ruin_recreate.recreate_strategy.heuristic = (
        routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
    )
    annealing = ils.reference_solution_acceptance_strategy.simulated_annealing
    annealing.cooling_schedule_strategy = routing_ils_pb2.CoolingScheduleStrategy.EXPONENTIAL
    annealing.automatic_temperatures = True
    ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()
    for operator in DESCENT_WITHOUT:
        setattr(params.local_search_operators, operator, optional_boolean_pb2.BOOL_FALSE)


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
