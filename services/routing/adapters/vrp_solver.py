"""Solve a VrpProblem with OR-Tools routing: a portfolio of searches on both cores, then
parts and recombination of the routes they met.

`solve` runs `workers` jobs at once in separate processes (a
ProcessPoolExecutor; OR-Tools' routing search is single-threaded), in rounds:

1. every configuration of the portfolio builds its own first solution and
   runs OR-Tools' iterated local search (ruin and recreate) from it
   (`vrp_model`);
2. when a route holds only a few stops (`_by_parts`), every later round
   improves the best plan a few neighbouring routes at a time
   (`vrp_parts`), each worker drawing its own parts;
3. after every round, the routes every search met are recombined into the
   cheapest plan they make (set covering on CP-SAT, `route_pool`), which the
   next round starts from.

Problems with pickup-delivery pairs, and budgets under MIN_RECOMBINE_S, get
step 1 alone (a pooled route could not be checked to keep each pair
together). Long routes, and problems of LARGE_PROBLEM_STOPS stops or more, get
one round: the searches run uninterrupted (OR-Tools' ruin and recreate starts
only from its own first solution, a guided search restarted mid-way loses its
penalties), and their routes are recombined at the end.

The best plan is reported, its times read by the routing model: fewest
mandatory stops dropped, then the lowest objective.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from services.routing.adapters.route_pool import PooledRoute, RoutePool, recombine
from services.routing.adapters.vrp_arcs import TIME_SCALE, Arcs, Nodes, RouteCosts, Routes
from services.routing.adapters.vrp_model import (
    ITERATED_LOCAL_SEARCH,
    SearchConfig,
    evaluate,
    routes_by_vehicle,
    search,
    solve_one,
)
from services.routing.adapters.vrp_parts import improve_by_parts
from services.routing.domain.vrp import InvalidProblem, SolveStatus, VrpProblem, VrpSolution

__all__ = [
    "FEWER_ROUTES_PORTFOLIO",
    "LARGE_PORTFOLIO",
    "LARGE_PROBLEM_STOPS",
    "PORTFOLIO",
    "SearchConfig",
    "portfolio_for",
    "solve",
    "solve_one",
]

ROUNDS = 5  # with parts: the portfolio's search, then four rounds of parts
# Of the time, for the portfolio's search when parts follow. R1 and RC1, 10 s, ruin and
# recreate: 70 % +1.24 %, 35 % +1.45 %, 100 % (no parts) +1.46 % (one run each).
FIRST_SHARE = 0.7
MIN_RECOMBINE_S = 1.0
RECOMBINE_SHARE = 0.05  # of the time, at most, for each recombination
RECOMBINE_MAX_S = 2.0
EVALUATE_S_PER_STOP = 0.001  # kept to read the last recombined plan (a model build)
PARTS_MIN_STOPS = 40
PARTS_MAX_ROUTE_STOPS = 25

# In the order they are used: `workers` = 2 runs the first two. Ruin and recreate
# (ITERATED_LOCAL_SEARCH) against a guided local search from the same two first solutions,
# OR-Tools 9.15, 10 s: R1 and RC1 (the search for 35 % of the time, then parts) mean gap
# +1.45 % against +2.32 %, worst +4.86 % against +6.82 %; R2 and RC2 (one round) +0.85 %
# against +2.01 %, worst +2.71 % against +5.36 %.
PORTFOLIO: tuple[SearchConfig, ...] = (
    SearchConfig("pca+ils", "PATH_CHEAPEST_ARC", ITERATED_LOCAL_SEARCH),
    SearchConfig("pci+ils", "PARALLEL_CHEAPEST_INSERTION", ITERATED_LOCAL_SEARCH),
    SearchConfig("pca+gls", "PATH_CHEAPEST_ARC", "GUIDED_LOCAL_SEARCH"),
    SearchConfig("pci+gls", "PARALLEL_CHEAPEST_INSERTION", "GUIDED_LOCAL_SEARCH"),
    SearchConfig("savings+gls", "SAVINGS", "GUIDED_LOCAL_SEARCH"),
    SearchConfig("lci+sa", "LOCAL_CHEAPEST_INSERTION", "SIMULATED_ANNEALING"),
    SearchConfig("pca+tabu", "PATH_CHEAPEST_ARC", "TABU_SEARCH"),
    SearchConfig("christofides+gls", "CHRISTOFIDES", "GUIDED_LOCAL_SEARCH"),
)

# Without pickup-delivery pairs, the second search prices each route half a mean arc above
# its arcs: drawn to plans with fewer routes, which its plain twin rarely reaches once it has
# found one route more (RC103 sat at +5.05 % with 12 routes, the best known has 11), while
# the recombination prices its routes at their true cost. Short routes (Solomon C1, R1, RC1;
# the eight hardest, R104, R109, R110, R112, RC101, RC102, RC103, RC107, 10 s, two runs
# each): mean gap +1.88 / +2.05 % against +2.17 / +2.63 %; RC103 +2.39 / +2.67 % against
# +2.18 / +5.05 %, RC107 +1.02 / +1.20 % against +3.11 / +3.68 %. Long routes (R2 and RC2,
# 19 instances, 10 s, two runs each on a machine where both ended the same way each time):
# mean +0.51 / +0.51 % against +0.66 / +0.61 %, worst +2.89 / +2.93 % against +3.24 % twice
# (R208: 3 routes against 4; R211 +0.46 against +0.69 / +1.51, RC208 +0.93 against +1.63,
# RC203 +0.78 against +1.34; R209 +0.38 against +0.11 is the one loss). Problems with pairs
# (the service's own trucks) keep PORTFOLIO: the bias was not measured on them.
FEWER_ROUTES_PORTFOLIO: tuple[SearchConfig, ...] = (
    PORTFOLIO[0],
    replace(PORTFOLIO[1], name="pci+ils+fewer-routes", route_bias=0.5),
    *PORTFOLIO[2:],
)

# From LARGE_PROBLEM_STOPS stops on. A search of a minute barely moves a 1,000-stop plan, so
# the first solution decides, and no one construction wins everywhere (Gehring-Homberger, gap
# of the first solution to the best known): local cheapest insertion is far ahead on RC1_10_1
# (+23 % against +44 % for parallel cheapest insertion, +106 % for path cheapest arc) and
# R2_10_1 (+62 % / +72 %), far behind on C2_10_1 (+95 % / +26 %). So one worker starts from
# each. On RC1_10_1 at 60 s, lci+gls reached +15 % where pca/pci+gls reached +26 %.
# Both run ruin and recreate: on OR-Tools 9.15, GH1000 '*_10_1' at 60 s, one run each, mean
# gap +14.77 % against +15.52 % for the guided search (C1 0.00 / +0.47, R1 +23.9 / +26.3,
# R2 +31.0 / +24.9, RC2 +14.7 / +22.4), and the guided search overran its minute by up to
# 17 s (a move on 1,000 stops finishing past the limit) where ruin and recreate kept to 58 s.
LARGE_PROBLEM_STOPS = 400
LARGE_PORTFOLIO: tuple[SearchConfig, ...] = (
    SearchConfig("lci+ils", "LOCAL_CHEAPEST_INSERTION", ITERATED_LOCAL_SEARCH),
    SearchConfig("pci+ils", "PARALLEL_CHEAPEST_INSERTION", ITERATED_LOCAL_SEARCH),
)


def portfolio_for(problem: VrpProblem) -> tuple[SearchConfig, ...]:
    """The searches for `problem`."""
    if len(problem.stops) >= LARGE_PROBLEM_STOPS:
        return LARGE_PORTFOLIO
    if problem.pickup_deliveries:
        return PORTFOLIO
    return FEWER_ROUTES_PORTFOLIO


def solve(
    problem: VrpProblem,
    time_limit_s: float,
    workers: int = 2,
    configs: Sequence[SearchConfig] | None = None,
    executor: Executor | None = None,
    rounds: int | None = None,
) -> VrpSolution:
    """The best plan found within about `time_limit_s` of wall time (module docstring).

    `rounds` overrides the number of rounds: without parts, each later round
    restarts the searches (the first configuration from the best plan, the
    others from their own).
    """
    started = time.perf_counter()
    try:
        problem.validate()
    except InvalidProblem as exc:
        return VrpSolution(status=SolveStatus.INVALID, notes=(str(exc),))
    chosen = list((configs or portfolio_for(problem))[: max(1, workers)])
    if len(chosen) == 1 or executor is not None:
        best = _Rounds(executor, problem, time_limit_s, chosen, started).run(rounds)
    else:
        # spawn, not fork: a forked child of a process running gRPC threads aborts.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(chosen), mp_context=context) as pool:
            best = _Rounds(pool, problem, time_limit_s, chosen, started).run(rounds)
    return replace(best, seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class _Plan:
    routes: Routes
    objective: int


@dataclass(frozen=True)
class _Task:
    """One worker's job in a round: a search with `config`, or (`config` None) an
    improvement by parts drawn with `seed`; from `start`, or from a first solution."""

    config: SearchConfig | None
    start: Routes | None
    seed: int = 0


@dataclass(frozen=True)
class _Outcome:
    solution: VrpSolution | None  # a search's, read by the routing model
    plan: _Plan | None  # the plan the job ended with, if any
    pool: RoutePool | None  # the routes it met, if asked


def _work(task: _Task, problem: VrpProblem, arcs: Arcs, seconds: float, collect: bool) -> _Outcome:
    """In a worker process: one task of a round."""
    if task.config is None:
        assert task.start is not None
        routes, pool = improve_by_parts(problem, arcs, task.start, seconds, task.seed)
        return _Outcome(None, _Plan(routes, RouteCosts(problem, arcs).objective(routes)), pool)
    solution, found = search(problem, seconds, task.config, task.start, arcs, collect)
    plan = _Plan(routes_by_vehicle(problem, solution), solution.objective)
    return _Outcome(solution, plan if solution.routes else None, found)


class _Rounds:
    def __init__(
        self,
        executor: Executor | None,
        problem: VrpProblem,
        limit: float,
        configs: list[SearchConfig],
        started: float,
    ) -> None:
        self.executor = executor
        self.problem = problem
        self.limit = limit
        self.configs = configs
        self.deadline = started + limit
        self.arcs = Arcs.of(problem, Nodes.of(problem))
        recombines = not problem.pickup_deliveries and limit >= MIN_RECOMBINE_S
        self.costs = RouteCosts(problem, self.arcs) if recombines else None
        self.by_parts = recombines and _by_parts(problem, self.arcs)
        self.pool = RoutePool()
        self.best: VrpSolution | None = None  # the best plan a search returned
        self.plan: _Plan | None = None  # the best plan known (a recombined one may beat it)

    def run(self, rounds: int | None) -> VrpSolution:
        count = rounds or (ROUNDS if self.by_parts else 1)
        tasks = [_Task(c, None) for c in self.configs]
        for k in range(count):
            seconds = self._seconds(k, count)
            if seconds <= 0.0 and self.best is not None:
                break
            outcomes = self._run_all(tasks, max(seconds, 0.05))
            self._absorb(outcomes)
            tasks = self._next_tasks(outcomes, k)
        assert self.best is not None
        if self.plan is not None and self.plan.objective < self.best.objective:
            name = self.best.configuration + "+sp"
            self.best = evaluate(self.problem, self.arcs, self.plan.routes, name) or self.best
        return self.best

    def _seconds(self, k: int, count: int) -> float:
        """This round's share of what is left, once the recombinations' time is kept."""
        reserve = 0.0
        if self.costs is not None:
            reserve = _recombine_seconds(self.limit) * (count - k)
            reserve += EVALUATE_S_PER_STOP * len(self.problem.stops)
        left = self.deadline - time.perf_counter() - reserve
        share = FIRST_SHARE if k == 0 and count > 1 and self.by_parts else 1.0 / (count - k)
        return left * share

    def _run_all(self, tasks: list[_Task], seconds: float) -> list[_Outcome]:
        collect = self.costs is not None
        args = (self.problem, self.arcs, seconds, collect)
        if self.executor is None:
            return [_work(t, *args) for t in tasks]
        return [f.result() for f in [self.executor.submit(_work, t, *args) for t in tasks]]

    def _absorb(self, outcomes: list[_Outcome]) -> None:
        """Keep the best solution and the best plan; recombine the routes met so far."""
        solutions = [o.solution for o in outcomes if o.solution is not None]
        solutions += [self.best] if self.best is not None else []
        if solutions:
            self.best = min(solutions, key=lambda s: _rank(self.problem, s))
        plans = [o.plan for o in outcomes if o.plan is not None]
        plans += [self.plan] if self.plan is not None else []
        self.plan = min(plans, key=lambda p: p.objective) if plans else None
        if self.costs is None or self.plan is None:
            return
        for o in outcomes:
            if o.pool is not None:
                self.pool.merge(o.pool)
        budget = min(_recombine_seconds(self.limit), self.deadline - time.perf_counter())
        self.plan = _recombined(self.problem, self.costs, self.pool, self.plan, budget) or self.plan

    def _next_tasks(self, outcomes: list[_Outcome], k: int) -> list[_Task]:
        """With parts, every worker improves the best plan by parts, each with its own
        draws. Without, the first configuration restarts from the best plan, the others
        from their own (two guided searches from one plan would retrace each other)."""
        incumbent = self.plan.routes if self.plan else None
        if self.by_parts and incumbent is not None:
            return [_Task(None, incumbent, (k + 1) * 100 + w) for w in range(len(self.configs))]
        tasks = [_Task(self.configs[0], incumbent)]
        for config, outcome in zip(self.configs[1:], outcomes[1:], strict=True):
            tasks.append(_Task(config, outcome.plan.routes if outcome.plan else incumbent))
        return tasks


def _by_parts(problem: VrpProblem, arcs: Arcs) -> bool:
    """Whether to improve the plan a few routes at a time: when there are enough stops and
    a route can hold only a few of them (by load or by time), so that a few routes make a
    small part of the plan. Not from LARGE_PROBLEM_STOPS on: there the first search needs
    the whole budget (Gehring-Homberger R1_10_1 at 60 s: +16.9 % with parts, +10.2 %
    without; RC1_10_1 +13.1 / +12.4; C1_10_1 0.0 either way, by the final recombination)."""
    return (
        PARTS_MIN_STOPS <= len(problem.stops) < LARGE_PROBLEM_STOPS
        and _route_stops_bound(problem, arcs) <= PARTS_MAX_ROUTE_STOPS
    )


def _route_stops_bound(problem: VrpProblem, arcs: Arcs) -> float:
    """About how many stops one route can hold: its capacity over the mean demand, and its
    shift over the mean service plus travel to the nearest other stop. The Solomon
    families: C1 11, R1 13.7, RC1 11.6; C2 36, R2 65.7, RC2 58."""
    bound = math.inf
    for d in range(problem.dimensions):
        demands = [s.demand[d] for s in problem.stops if s.demand[d] > 0]
        if demands:
            capacity = max(v.capacities[d] for v in problem.vehicles)
            bound = min(bound, capacity * len(demands) / sum(demands))
    count = len(problem.stops)
    if count > 1:
        times = arcs.time[:count, :count].astype(np.float64)
        np.fill_diagonal(times, np.inf)
        step = float(times.min(axis=1).mean()) / TIME_SCALE
        shift = max(v.shift.latest - v.shift.earliest for v in problem.vehicles)
        if step > 0:
            bound = min(bound, shift / step)
    return bound


def _recombine_seconds(limit: float) -> float:
    return min(RECOMBINE_MAX_S, RECOMBINE_SHARE * limit)


def _recombined(
    problem: VrpProblem, costs: RouteCosts, pool: RoutePool, plan: _Plan, budget: float
) -> _Plan | None:
    """The pool's best plan when it beats `plan`, else None."""
    if budget <= 0.0:
        return None
    hint = [costs.pooled(v, stops) for v, stops in enumerate(plan.routes) if stops]
    for r in hint:
        pool.add(r.vehicle_class, r.stops, r.cost)
    found = recombine(pool, costs.classes, costs.penalties, costs, budget, hint)
    if found is None or found.objective >= plan.objective:
        return None
    return _Plan(_assign_vehicles(problem, costs.class_of, found.routes), found.objective)


def _assign_vehicles(
    problem: VrpProblem, class_of: list[int], routes: Sequence[PooledRoute]
) -> Routes:
    free: dict[int, list[int]] = {}
    for v, c in enumerate(class_of):
        free.setdefault(c, []).append(v)
    by_vehicle: list[tuple[int, ...]] = [() for _ in problem.vehicles]
    for r in routes:
        by_vehicle[free[r.vehicle_class].pop(0)] = r.stops
    return tuple(by_vehicle)


def _rank(problem: VrpProblem, s: VrpSolution) -> tuple[int, int, int]:
    """Found a plan before none; then fewer mandatory stops dropped; then the lower objective."""
    found = s.status is SolveStatus.FEASIBLE or bool(s.routes)
    return (0 if found else 1, len(s.dropped_mandatory(problem)), s.objective)
