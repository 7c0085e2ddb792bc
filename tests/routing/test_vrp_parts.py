"""Improving a plan part by part, and the rounds that use it, on problems whose answers
are known."""

from __future__ import annotations

import math
import time

import pytest

from services.routing.adapters import vrp_solver
from services.routing.adapters.vrp_arcs import Arcs, Nodes, RouteCosts
from services.routing.adapters.vrp_parts import improve_by_parts
from services.routing.domain.vrp import Location, Stop, TimeWindow, Vehicle, VrpProblem

DAY = TimeWindow(0, 10_000)


def ring_problem(clusters: int = 6, per_cluster: int = 8, capacity: int = 8) -> VrpProblem:
    """Clusters of stops on a ring around the depot; a truck holds exactly one cluster's
    load, so the best plan sends one truck per cluster."""
    locations = [Location("depot", 0.0, 0.0)]
    for c in range(clusters):
        angle = 2 * math.pi * c / clusters
        cx, cy = 100 * math.cos(angle), 100 * math.sin(angle)
        for k in range(per_cluster):
            locations.append(Location(f"c{c}s{k}", cx + k % 3, cy + k // 3))
    stops = tuple(Stop(loc.name, i, (1,), 0.0, DAY) for i, loc in enumerate(locations) if i > 0)
    vehicles = tuple(Vehicle(f"v{k}", 0, 0, (capacity,), DAY) for k in range(clusters + 2))
    return VrpProblem(tuple(locations), vehicles, stops)


def scrambled_plan(problem: VrpProblem, clusters: int, per_cluster: int) -> tuple:
    """Each truck takes one stop of every cluster: feasible, and far from the best."""
    routes: list[tuple[int, ...]] = [() for _ in problem.vehicles]
    for v in range(per_cluster):
        routes[v] = tuple(c * per_cluster + v for c in range(clusters))
    return tuple(routes)


def test_parts_untangle_a_scrambled_plan_and_serve_every_stop_once() -> None:
    problem = ring_problem(clusters=6, per_cluster=8)
    arcs = Arcs.of(problem, Nodes.of(problem))
    costs = RouteCosts(problem, arcs)
    start = scrambled_plan(problem, clusters=6, per_cluster=8)
    routes, pool = improve_by_parts(problem, arcs, start, time_limit_s=3.0, seed=1)
    served = sorted(s for r in routes for s in r)
    assert served == list(range(len(problem.stops)))
    assert costs.objective(routes) < 0.6 * costs.objective(start)
    clusters = [{s // 8 for s in r} for r in routes if r]
    assert all(len(c) == 1 for c in clusters)  # one truck per cluster, as in the best plan
    assert len(pool) > 0
    for route in pool.routes():  # every pooled route is one the whole problem can drive
        assert len(route.stops) <= 8
        assert route.cost == costs.cost(route.vehicle_class, route.stops)


def test_parts_keep_to_their_time_limit() -> None:
    problem = ring_problem(clusters=6, per_cluster=8)
    arcs = Arcs.of(problem, Nodes.of(problem))
    start = scrambled_plan(problem, clusters=6, per_cluster=8)
    for limit in (0.2, 1.0):
        started = time.perf_counter()
        improve_by_parts(problem, arcs, start, time_limit_s=limit, seed=2)
        assert time.perf_counter() - started < limit + 0.3


def test_short_routes_are_improved_by_parts_and_long_ones_and_large_problems_are_not() -> None:
    short = ring_problem(clusters=6, per_cluster=8, capacity=8)
    long = ring_problem(clusters=6, per_cluster=8, capacity=48)
    assert vrp_solver._by_parts(short, Arcs.of(short, Nodes.of(short)))
    assert not vrp_solver._by_parts(long, Arcs.of(long, Nodes.of(long)))
    large = ring_problem(clusters=50, per_cluster=8, capacity=8)  # 400 stops: one search
    assert len(large.stops) >= vrp_solver.LARGE_PROBLEM_STOPS
    assert not vrp_solver._by_parts(large, Arcs.of(large, Nodes.of(large)))


@pytest.mark.slow
def test_solve_with_parts_finds_one_truck_per_cluster_within_its_time() -> None:
    problem = ring_problem(clusters=6, per_cluster=8)
    solution = vrp_solver.solve(problem, 4.0, workers=1)
    assert solution.status.value == "feasible"
    assert solution.vehicles_used == 6
    assert sorted(len(r.visits) for r in solution.routes) == [8] * 6
    assert solution.seconds < 4.5
