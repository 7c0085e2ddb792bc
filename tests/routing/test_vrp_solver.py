"""The OR-Tools routing adapter on small problems whose answers are known."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest

from services.routing.adapters.vrp_solver import (
    FEWER_ROUTES_PORTFOLIO,
    LARGE_PORTFOLIO,
    LARGE_PROBLEM_STOPS,
    PORTFOLIO,
    portfolio_for,
    solve,
    solve_one,
)
from services.routing.domain.vrp import (
    Location,
    PickupDelivery,
    Stop,
    TimeWindow,
    Vehicle,
    VrpProblem,
    VrpSolution,
)

LIMIT_S = 1.0
DAY = TimeWindow(0, 1000)


def stop(location: int, demand: tuple[int, ...] = (1,), window: TimeWindow = DAY, **kw) -> Stop:
    return Stop(f"s{location}", location, demand, kw.pop("service_time", 0.0), window, **kw)


def vehicles(count: int, capacity: tuple[int, ...] = (100,), depot: int = 0) -> tuple[Vehicle, ...]:
    return tuple(Vehicle(f"v{k}", depot, depot, capacity, DAY) for k in range(count))


def points(*xy: tuple[float, float]) -> tuple[Location, ...]:
    return tuple(Location(f"p{i}", x, y) for i, (x, y) in enumerate(xy))


def sequences(solution: VrpSolution) -> list[list[int]]:
    return [[v.stop for v in r.visits] for r in solution.routes]


def test_square_is_served_along_its_perimeter() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (0, 1), (1, 1), (1, 0)),
        vehicles=vehicles(1),
        stops=(stop(1), stop(2), stop(3)),
    )
    solution = solve(problem, LIMIT_S, workers=1)
    assert solution.status.value == "feasible"
    assert solution.total_distance == pytest.approx(4.0)
    assert sequences(solution) in ([[0, 1, 2]], [[2, 1, 0]])
    assert solution.dropped == ()


def test_time_window_forces_the_farther_stop_first() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (1, 0), (2, 0)),
        vehicles=vehicles(1),
        stops=(stop(1, window=TimeWindow(10, 20)), stop(2, window=TimeWindow(0, 3))),
    )
    solution = solve(problem, LIMIT_S, workers=1)
    assert sequences(solution) == [[1, 0]]
    route = solution.routes[0]
    first, second = route.visits
    assert first.arrival == pytest.approx(route.departure + 2.0)
    assert first.start <= 3.0
    assert second.arrival == pytest.approx(first.start + 1.0)
    assert second.start == pytest.approx(10.0)


def test_search_from_a_given_plan_improves_it() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (0, 1), (1, 1), (1, 0)),
        vehicles=vehicles(2),
        stops=(stop(1), stop(2), stop(3)),
    )
    crossing = ((1, 0, 2), ())  # 0 -> (1,1) -> (0,1) -> (1,0) -> 0, about 4.83
    solution = solve_one(problem, LIMIT_S / 2, PORTFOLIO[0], start=crossing)
    assert solution.total_distance == pytest.approx(4.0)


def test_a_route_bias_leaves_the_reported_objective_at_the_plans_cost() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (0, 1), (1, 1), (1, 0)),
        vehicles=vehicles(2),
        stops=(stop(1), stop(2), stop(3)),
    )
    plain = solve_one(problem, LIMIT_S / 2, PORTFOLIO[0])
    biased = solve_one(problem, LIMIT_S / 2, replace(PORTFOLIO[0], route_bias=3.0))
    assert biased.total_distance == pytest.approx(4.0)
    assert biased.objective == plain.objective == 4000


def test_large_problem_also_starts_from_local_cheapest_insertion() -> None:
    def problem(stops: int) -> VrpProblem:
        return VrpProblem(
            locations=points((0, 0), (1, 0)),
            vehicles=vehicles(1),
            stops=tuple(stop(1) for _ in range(stops)),
        )

    assert portfolio_for(problem(LARGE_PROBLEM_STOPS - 1)) == FEWER_ROUTES_PORTFOLIO
    assert portfolio_for(problem(LARGE_PROBLEM_STOPS)) == LARGE_PORTFOLIO
    assert LARGE_PORTFOLIO[0].first_solution == "LOCAL_CHEAPEST_INSERTION"


def test_short_and_long_routes_get_a_search_drawn_to_fewer_routes_pairs_do_not() -> None:
    def problem(capacity: int, pairs: tuple[PickupDelivery, ...] = ()) -> VrpProblem:
        return VrpProblem(
            locations=points(*((float(i), float(i % 7)) for i in range(61))),
            vehicles=vehicles(10, capacity=(capacity,)),
            stops=tuple(stop(i) for i in range(1, 61)),
            pickup_deliveries=pairs,
        )

    assert portfolio_for(problem(6)) == FEWER_ROUTES_PORTFOLIO  # routes of at most 6 stops
    assert portfolio_for(problem(100)) == FEWER_ROUTES_PORTFOLIO  # one route could take all
    assert portfolio_for(problem(100, (PickupDelivery(0, 1),))) == PORTFOLIO
    assert FEWER_ROUTES_PORTFOLIO[1].route_bias > 0.0
    assert all(config.route_bias == 0.0 for config in PORTFOLIO + LARGE_PORTFOLIO)


def test_capacity_forces_a_second_vehicle() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (1, 0), (-1, 0)),
        vehicles=vehicles(3, capacity=(10,)),
        stops=(stop(1, demand=(6,)), stop(2, demand=(6,))),
    )
    solution = solve(problem, LIMIT_S, workers=1)
    assert solution.vehicles_used == 2
    assert sorted(sequences(solution)) == [[0], [1]]


def test_second_capacity_dimension_binds_too() -> None:
    """kg fits in one truck, m3 does not."""
    problem = VrpProblem(
        locations=points((0, 0), (1, 0), (-1, 0)),
        vehicles=vehicles(2, capacity=(1000, 10)),
        stops=(stop(1, demand=(100, 6)), stop(2, demand=(100, 6))),
    )
    assert solve(problem, LIMIT_S, workers=1).vehicles_used == 2


def test_kit_picked_at_a_depot_is_delivered_by_the_same_truck_afterwards() -> None:
    # Truck at depot 0; kits wait at depot 1 (x=10); destinations at x=5 and x=12.
    problem = VrpProblem(
        locations=points((0, 0), (10, 0), (5, 0), (12, 0)),
        vehicles=(
            Vehicle("own", 0, 0, (50, 2), DAY),
            Vehicle("spare", 0, 0, (50, 2), DAY),
        ),
        stops=(
            stop(1, demand=(40, 1)),  # 0: pick kit A at depot 1
            stop(2, demand=(0, 0)),  # 1: deliver kit A
            stop(1, demand=(40, 1)),  # 2: pick kit B at depot 1
            stop(3, demand=(0, 0)),  # 3: deliver kit B
        ),
        pickup_deliveries=(PickupDelivery(0, 1), PickupDelivery(2, 3)),
    )
    solution = solve(problem, LIMIT_S, workers=1)
    assert solution.status.value == "feasible"
    for pickup, delivery in ((0, 1), (2, 3)):
        (route,) = [r for r in sequences(solution) if pickup in r]
        assert delivery in route
        assert route.index(pickup) < route.index(delivery)
    # 80 kg never fit one truck at once: two trucks, or one that delivers between pickups.
    for route in sequences(solution):
        load = 0
        for s in route:
            load += 40 if s in (0, 2) else -40
            assert load <= 50


def test_impossible_window_drops_an_optional_stop_and_says_so() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (1, 0), (50, 0)),
        vehicles=vehicles(1),
        stops=(stop(1), stop(2, window=TimeWindow(0, 10), drop_penalty=1000.0)),
    )
    solution = solve(problem, LIMIT_S, workers=1)
    assert solution.status.value == "feasible"
    assert solution.dropped == (1,)
    assert sequences(solution) == [[0]]


def test_impossible_window_on_a_mandatory_stop_is_reported_infeasible() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (1, 0), (50, 0)),
        vehicles=vehicles(1),
        stops=(stop(1), stop(2, window=TimeWindow(0, 10))),
    )
    solution = solve(problem, LIMIT_S, workers=1)
    assert solution.status.value == "infeasible"
    assert solution.dropped_mandatory(problem) == (1,)
    assert sequences(solution) == [[0]]


def test_cheap_optional_stop_is_skipped_when_visiting_costs_more() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (1, 0), (50, 0)),
        vehicles=vehicles(1),
        stops=(stop(1), stop(2, drop_penalty=10.0)),
    )
    assert solve(problem, LIMIT_S, workers=1).dropped == (1,)


def test_explicit_integer_matrix_is_used_as_given() -> None:
    # Coordinates absent; the matrix makes 0 -> 2 -> 1 -> 0 the only cheap tour.
    matrix = ((0, 9, 1), (1, 0, 9), (9, 1, 0))
    problem = VrpProblem(
        locations=(Location("d"), Location("a"), Location("b")),
        vehicles=vehicles(1),
        stops=(stop(1), stop(2)),
        distance_matrix=tuple(tuple(float(x) for x in row) for row in matrix),
    )
    solution = solve(problem, LIMIT_S, workers=1)
    assert sequences(solution) == [[1, 0]]
    assert solution.total_distance == pytest.approx(3.0)


def test_invalid_problem_is_refused_before_solving() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (1, 0)),
        vehicles=vehicles(1, capacity=(10, 10)),
        stops=(stop(1, demand=(1,)),),
    )
    solution = solve(problem, LIMIT_S)
    assert solution.status.value == "invalid"
    assert "demand" in solution.notes[0]


def test_unpaired_load_beside_pickup_delivery_pairs_is_refused() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (1, 0), (2, 0)),
        vehicles=vehicles(1),
        stops=(stop(1), stop(2), stop(2)),
        pickup_deliveries=(PickupDelivery(0, 1),),
    )
    assert solve(problem, LIMIT_S).status.value == "invalid"


def test_portfolio_in_worker_processes_keeps_the_best() -> None:
    problem = VrpProblem(
        locations=points((0, 0), (0, 1), (1, 1), (1, 0)),
        vehicles=vehicles(2),
        stops=(stop(1), stop(2), stop(3)),
    )
    with ProcessPoolExecutor(
        max_workers=2, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        solution = solve(problem, LIMIT_S, workers=2, executor=pool)
    assert solution.total_distance == pytest.approx(4.0)
    assert solution.configuration in {c.name for c in PORTFOLIO[:2]}
