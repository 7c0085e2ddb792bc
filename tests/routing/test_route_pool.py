"""Recombining pooled routes (set covering on CP-SAT, then repair): known answers."""

from __future__ import annotations

from collections.abc import Sequence

from services.routing.adapters.route_pool import (
    PooledRoute,
    RoutePool,
    VehicleClass,
    recombine,
)
from services.routing.adapters.vrp_arcs import Arcs, Nodes, RouteCosts
from services.routing.domain.vrp import Location, Stop, TimeWindow, Vehicle, VrpProblem

LIMIT_S = 2.0
FLEET = [VehicleClass(count=5, fixed_cost=0)]
MANDATORY = 10_000


class StopCosts:
    """A route costs the sum of its stops' own costs; a stop can leave any route unless
    listed as pinned."""

    def __init__(self, costs: Sequence[int], pinned: Sequence[int] = ()) -> None:
        self.costs = costs
        self.pinned = set(pinned)

    def cost(self, vehicle_class: int, stops: Sequence[int]) -> int:
        return sum(self.costs[s] for s in stops)

    def can_skip(self, vehicle_class: int, stops: Sequence[int], position: int) -> bool:
        return stops[position] not in self.pinned


def pool_of(*routes: tuple[tuple[int, ...], int], vehicle_class: int = 0) -> RoutePool:
    pool = RoutePool()
    for stops, cost in routes:
        pool.add(vehicle_class, stops, cost)
    return pool


def served(routes: Sequence[PooledRoute]) -> list[int]:
    return sorted(s for r in routes for s in r.stops)


def test_routes_of_two_plans_combine_into_a_cheaper_one() -> None:
    # Plan A: {0,1} + {2,3} = 20; plan B: {0,3} + {1,2} = 22; A's {0,1} is dearer than B's.
    pool = pool_of(((0, 1), 12), ((2, 3), 8), ((0, 3), 13), ((1, 2), 9))
    costs = StopCosts([100] * 4)  # unused: no stop is served twice
    found = recombine(pool, FLEET, [MANDATORY] * 4, costs, LIMIT_S)
    assert found is not None
    assert found.objective == 20
    assert {r.stops for r in found.routes} == {(0, 1), (2, 3)}
    pool.add(0, (0, 1), 11)  # a cheaper order of the same stops replaces the dearer one
    pool.add(0, (1, 0), 10)
    pool.add(0, (0, 3), 4)
    found = recombine(pool, FLEET, [MANDATORY] * 4, costs, LIMIT_S)
    assert found is not None
    assert found.objective == 4 + 9
    assert {r.stops for r in found.routes} == {(0, 3), (1, 2)}


def test_stop_served_twice_leaves_the_route_where_it_saves_most() -> None:
    # No partition serves every stop; the covering {0,1,2} + {2,3} does, stop 2 twice.
    pool = pool_of(((0, 1, 2), 3), ((2, 3), 2))
    costs = StopCosts([1, 1, 1, 1])
    found = recombine(pool, FLEET, [MANDATORY] * 4, costs, LIMIT_S)
    assert found is not None
    assert served(found.routes) == [0, 1, 2, 3]
    assert found.dropped == ()
    assert found.objective == 4  # {0,1} + {2,3} or {0,1,2} + {3}, the shortened one repriced
    assert found.objective == sum(r.cost for r in found.routes)


def test_stop_that_no_route_may_leave_falls_back_to_set_partitioning() -> None:
    pool = pool_of(((0, 1, 2), 3), ((2, 3), 2))
    costs = StopCosts([1, 1, 1, 1], pinned=[2])
    # Partitioning must drop: stop 3 (penalty 50) or stops 0 and 1 (60 each).
    found = recombine(pool, FLEET, [60, 60, MANDATORY, 50], costs, LIMIT_S)
    assert found is not None
    assert [r.stops for r in found.routes] == [(0, 1, 2)]
    assert found.dropped == (3,)
    assert found.objective == 3 + 50


def test_fleet_size_limits_the_routes_chosen() -> None:
    singles = [((s,), 1) for s in range(4)]
    pool = pool_of(*singles, ((0, 1, 2, 3), 10))
    costs = StopCosts([1] * 4)
    four = recombine(pool, [VehicleClass(4, 0)], [MANDATORY] * 4, costs, LIMIT_S)
    three = recombine(pool, [VehicleClass(3, 0)], [MANDATORY] * 4, costs, LIMIT_S)
    assert four is not None and four.objective == 4
    assert three is not None and three.objective == 10


def test_fixed_cost_of_a_vehicle_counts_once_per_route() -> None:
    pool = pool_of(((0,), 1), ((1,), 1), ((0, 1), 5))
    costs = StopCosts([1, 1])
    cheap_vehicles = recombine(pool, [VehicleClass(5, 1)], [MANDATORY] * 2, costs, LIMIT_S)
    dear_vehicles = recombine(pool, [VehicleClass(5, 10)], [MANDATORY] * 2, costs, LIMIT_S)
    assert cheap_vehicles is not None and cheap_vehicles.objective == 2 + 2
    assert dear_vehicles is not None and dear_vehicles.objective == 5 + 10


def test_route_is_only_for_its_vehicle_class() -> None:
    pool = RoutePool()
    pool.add(0, (0, 1), 2)  # the cheap route needs a vehicle of class 0, and there is none
    pool.add(1, (0,), 5)
    pool.add(1, (1,), 5)
    classes = [VehicleClass(0, 0), VehicleClass(2, 0)]
    found = recombine(pool, classes, [MANDATORY] * 2, StopCosts([1, 1]), LIMIT_S)
    assert found is not None
    assert found.objective == 10
    assert {r.vehicle_class for r in found.routes} == {1}


def test_pool_keeps_the_cheapest_order_of_each_set_of_stops() -> None:
    pool = pool_of(((0, 1, 2), 9), ((2, 1, 0), 7), ((1, 0, 2), 8))
    (route,) = pool.routes()
    assert route.stops == (2, 1, 0) and route.cost == 7


def test_pool_of_a_part_is_translated_to_the_whole_problem() -> None:
    part = RoutePool()
    part.add(0, (1, 0), 4)
    whole = part.translated(stops=[7, 3], classes={0: 2})
    (route,) = whole.routes()
    assert route == PooledRoute(2, (3, 7), 4)


def test_stop_leaves_a_route_only_when_the_rest_of_it_arrives_no_later() -> None:
    # Stop 1 (location b) lies on a fast road from a to c: a -> b -> c takes 2, a -> c 10.
    times = ((0, 1, 2, 1), (1, 0, 1, 10), (2, 1, 0, 1), (1, 10, 1, 0))  # d, a, b, c
    day = TimeWindow(0, 100)
    problem = VrpProblem(
        locations=(Location("d"), Location("a"), Location("b"), Location("c")),
        vehicles=(Vehicle("v", 0, 0, (10,), day),),
        stops=tuple(Stop(f"s{i}", i + 1, (1,), 0.0, day) for i in range(3)),
        distance_matrix=tuple(tuple(float(t) for t in row) for row in times),
        time_matrix=tuple(tuple(float(t) for t in row) for row in times),
    )
    costs = RouteCosts(problem, Arcs.of(problem, Nodes.of(problem)))
    route = (0, 1, 2)  # a, b, c
    assert not costs.can_skip(0, route, 1)  # without b, a -> c takes 10 instead of 2
    assert costs.can_skip(0, route, 0)  # without a, d -> b takes 2, as d -> a -> b does
    assert costs.can_skip(0, route, 2)
    assert costs.cost(0, route) == 4 * 1000  # distance x1000, depot to depot
