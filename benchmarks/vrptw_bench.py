"""VRPTW quality benchmark: Muster's solver against PyVRP and VROOM, gap to best-known.

    .venv/bin/python -m benchmarks.vrptw_bench                  # 56 Solomon, 10 s each
    .venv/bin/python -m benchmarks.vrptw_bench --quick          # 12 Solomon (2 per family)
    .venv/bin/python -m benchmarks.vrptw_bench --instances 'R1*' --solvers muster
    .venv/bin/python -m benchmarks.vrptw_bench --gh1000 --instances 'C1_10_1'   # 60 s
    .venv/bin/python -m benchmarks.vrptw_bench --gh1000 --instances '*_10_1'    # 1st of each family

Objective: total distance (fleet of 25), the convention of the Solomon rows of
bks.csv (shared/benchmarks/vrptw/README.md); the gap is
(distance - bks) / bks, with every solver's routes re-checked and re-measured
here in double precision (GH1000: arcs truncated to one decimal, DIMACS).

Budget per instance: Muster runs its two-process portfolio (both cores) for
`--seconds` of wall time; PyVRP and VROOM then run side by side, one core
each, for the same `--seconds`. The two worker processes are started (and
the solvers imported) before the first instance, so no solver pays for that.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import vrptw_instances as vi
from services.routing.adapters import vrp_solver

RESULTS = Path(__file__).resolve().parent / "results" / "vrptw-last.json"
RESULTS_GH1000 = RESULTS.with_name("vrptw-gh1000-last.json")
SCALE = 1000  # PyVRP and VROOM take integers: distance x1000 rounded, time x1000 rounded up
QUICK = ["C101", "C201", "R101", "R201", "RC101", "RC201"]
QUICK += ["C105", "C205", "R109", "R209", "RC105", "RC205"]
TARGET_MEAN, TARGET_WORST = 1.0, 3.0
# bks.csv rows that no plan can reach, with the published optimum that shows it. Gaps are
# still taken to bks.csv (the targets are judged on it); the summary names these beside.
# R109: the optimum with arcs truncated to one decimal is 1146.9 (Solomon R1 optima, as
# tabulated in the literature, and in the very file bks.csv cites: vroom-scripts'
# benchmarks/VRPTW/BKS.json at 001c15f, key "R109.100", 1146.9 with 13 vehicles, "CR+KLM");
# truncated arcs are never longer than double-precision ones, so no plan measures
# bks.csv's 1101.37, and none is within 3 % of it (1134.41). PyVRP ends at 1151.84 at 10 s
# and 30 s.
SUSPECT_BKS = {"R109": 1146.9}


@dataclass
class Outcome:
    instance: str
    solver: str
    routes: list[list[int]]  # customer numbers (1..n) per used vehicle
    seconds: float
    distance: float = math.nan
    vehicles: int = 0
    feasible: bool = False
    problem: str = ""
    gap_pct: float = math.nan
    detail: str = ""


# ----- the three solvers, each returning routes as customer numbers -----


def run_muster(inst: vi.Instance, seconds: float, pool: Executor, rounds: int | None) -> Outcome:
    problem = inst.to_problem()
    solution = vrp_solver.solve(problem, seconds, workers=2, executor=pool, rounds=rounds)
    routes = [[problem.stops[v.stop].location for v in r.visits] for r in solution.routes]
    detail = f"{solution.status.value} via {solution.configuration}"
    if solution.dropped:
        detail += f", dropped {len(solution.dropped)}"
    return Outcome(inst.name, "muster", routes, solution.seconds, detail=detail)


def _matrices(inst: vi.Instance) -> tuple[list[list[int]], list[list[int]]]:
    exact = inst.distance_matrix()
    pts = inst.customers
    n = len(pts)
    real = [
        [
            exact[a][b] if exact else math.hypot(pts[a].x - pts[b].x, pts[a].y - pts[b].y)
            for b in range(n)
        ]
        for a in range(n)
    ]
    dist = [[round(d * SCALE) for d in row] for row in real]
    dur = [[math.ceil(d * SCALE - 1e-6) for d in row] for row in real]
    return dist, dur


def run_pyvrp(inst: vi.Instance, seconds: float) -> Outcome:
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    started = time.perf_counter()
    dist, dur = _matrices(inst)
    m = Model()
    locs = [m.add_location(c.x, c.y) for c in inst.customers]
    d0 = inst.customers[0]
    depot = m.add_depot(locs[0])
    m.add_vehicle_type(
        inst.vehicles,
        capacity=inst.capacity,
        start_depot=depot,
        end_depot=depot,
        tw_early=math.ceil(d0.ready * SCALE),
        tw_late=math.floor(d0.due * SCALE),
    )
    for c, loc in zip(inst.customers[1:], locs[1:], strict=True):
        m.add_client(
            loc,
            delivery=c.demand,
            service_duration=math.ceil(c.service * SCALE),
            tw_early=math.ceil(c.ready * SCALE),
            tw_late=math.floor(c.due * SCALE),
        )
    for a, la in enumerate(locs):
        for b, lb in enumerate(locs):
            m.add_edge(la, lb, distance=dist[a][b], duration=dur[a][b])
    res = m.solve(stop=MaxRuntime(seconds - (time.perf_counter() - started)), display=False)
    routes = [[a.idx + 1 for a in r if a.is_client()] for r in res.best.routes()]  # client k: k+1
    elapsed = time.perf_counter() - started
    return Outcome(inst.name, "pyvrp", routes, elapsed, detail=f"feasible={res.is_feasible()}")


def run_vroom(inst: vi.Instance, seconds: float) -> Outcome:
    import vroom

    started = time.perf_counter()
    _, dur = _matrices(inst)
    d0 = inst.customers[0]
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=dur)
    shift = vroom.TimeWindow(math.ceil(d0.ready * SCALE), math.floor(d0.due * SCALE))
    for k in range(inst.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(k + 1, start=0, end=0, capacity=[inst.capacity], time_window=shift)
        )
    for i, c in enumerate(inst.customers[1:], start=1):
        window = vroom.TimeWindow(math.ceil(c.ready * SCALE), math.floor(c.due * SCALE))
        problem.add_job(
            vroom.Job(
                i,
                location=i,
                default_service=math.ceil(c.service * SCALE),
                delivery=[c.demand],
                time_windows=[window],
            )
        )
    left = seconds - (time.perf_counter() - started)
    sol = problem.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=left))
    df = sol.routes
    jobs = df[df["type"] == "job"]
    routes = [list(g["id"].astype(int)) for _, g in jobs.groupby("vehicle_id", sort=True)]
    return Outcome(inst.name, "vroom", routes, time.perf_counter() - started)


# ----- one checker for every solver, in real arithmetic -----


def check(inst: vi.Instance, out: Outcome, bks: vi.Bks | None) -> Outcome:
    exact = inst.distance_matrix()
    pts = inst.customers

    def d(a: int, b: int) -> float:
        return exact[a][b] if exact else math.hypot(pts[a].x - pts[b].x, pts[a].y - pts[b].y)

    problems: list[str] = []
    total = 0.0
    seen: list[int] = []
    for r in out.routes:
        clock, here, load = pts[0].ready, 0, 0
        for c in r:
            clock = max(clock + d(here, c), pts[c].ready)
            if clock > pts[c].due + 1e-6:
                problems.append(f"late at {c}")
            clock += pts[c].service
            load += pts[c].demand
            total += d(here, c)
            here = c
        total += d(here, 0)
        if clock + d(here, 0) > pts[0].due + 1e-6:
            problems.append("late at depot")
        if load > inst.capacity:
            problems.append("over capacity")
        seen += r
    missing = set(range(1, len(pts))) - set(seen)
    if missing or len(seen) != len(set(seen)):
        problems.append(f"{len(missing)} unserved, {len(seen) - len(set(seen))} repeated")
    if len(out.routes) > inst.vehicles:
        problems.append("too many vehicles")
    out.distance, out.vehicles = total, len(out.routes)
    out.feasible, out.problem = not problems, "; ".join(problems[:3])
    if bks is not None:
        out.gap_pct = (total - bks.distance) / bks.distance * 100
    return out


# ----- running and reporting -----


def run(paths: list[Path], solvers: list[str], seconds: float, rounds: int | None) -> list[Outcome]:
    bks = vi.load_bks()
    console = Console()
    outcomes: list[Outcome] = []
    with ProcessPoolExecutor(
        max_workers=2, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        _warm_up(pool)
        for path in paths:
            inst = vi.load(path)
            rows = _solve_instance(inst, solvers, seconds, pool, rounds)
            rows = [check(inst, o, bks.get(inst.name.upper())) for o in rows]
            outcomes += rows
            console.print(_instance_table(inst, rows, bks.get(inst.name.upper())))
    return outcomes


def _warm_up(pool: Executor) -> None:
    """Start both workers and import the solvers before any clock runs."""
    for f in [pool.submit(_import_solvers) for _ in range(2)]:
        f.result()


def _import_solvers() -> None:
    import pyvrp  # noqa: F401
    import vroom  # noqa: F401

    time.sleep(0.5)  # long enough that the second task goes to the second worker


def _solve_instance(
    inst: vi.Instance, solvers: list[str], seconds: float, pool: Executor, rounds: int | None
) -> list[Outcome]:
    rows = []
    if "muster" in solvers:
        rows.append(run_muster(inst, seconds, pool, rounds))
    others: list[Future[Outcome]] = []
    if "pyvrp" in solvers:
        others.append(pool.submit(run_pyvrp, inst, seconds))
    if "vroom" in solvers:
        others.append(pool.submit(run_vroom, inst, seconds))
    return rows + [f.result() for f in others]


def _instance_table(inst: vi.Instance, rows: list[Outcome], bks: vi.Bks | None) -> Table:
    title = f"{inst.name}  BKS {bks.distance:.2f} / {bks.vehicles} veh" if bks else inst.name
    t = Table(title=title, title_justify="left")
    for col in ("solver", "distance", "gap %", "vehicles", "feasible", "s", "note"):
        t.add_column(col)
    for o in rows:
        t.add_row(
            o.solver,
            f"{o.distance:.2f}",
            f"{o.gap_pct:+.2f}",
            str(o.vehicles),
            "yes" if o.feasible else f"NO {o.problem}",
            f"{o.seconds:.1f}",
            o.detail,
        )
    return t


def summarize(outcomes: list[Outcome], solvers: list[str], count: int) -> dict[str, dict[str, Any]]:
    console = Console()
    t = Table(title=f"Summary ({count} instances)", title_justify="left")
    for col in ("solver", "feasible", "mean gap %", "worst gap %", "> 3 %", "verdict"):
        t.add_column(col)
    summary: dict[str, dict[str, Any]] = {}
    for s in solvers:
        rows = [o for o in outcomes if o.solver == s]
        gaps = [o.gap_pct for o in rows if o.feasible and not math.isnan(o.gap_pct)]
        feasible = sum(o.feasible for o in rows)
        mean = statistics.fmean(gaps) if gaps else math.nan
        worst = max(gaps) if gaps else math.nan
        over = sum(g > TARGET_WORST for g in gaps)
        ok = feasible == len(rows) and mean <= TARGET_MEAN and over == 0
        summary[s] = {"instances": len(rows), "feasible": feasible, "mean_gap_pct": mean}
        summary[s] |= {"worst_gap_pct": worst, "over_3_pct": over, "pass": ok}
        summary[s]["by_family"] = _by_family(rows)
        worst_name = max(rows, key=lambda o: o.gap_pct if o.feasible else -math.inf).instance
        summary[s]["worst_instance"] = worst_name
        verdict = "PASS" if ok else "FAIL"
        t.add_row(s, f"{feasible}/{len(rows)}", f"{mean:+.2f}", f"{worst:+.2f}", str(over), verdict)
    console.print(t)
    for s in solvers:
        families = ", ".join(
            f"{f} {v['mean']:+.2f} / {v['worst']:+.2f}" for f, v in summary[s]["by_family"].items()
        )
        console.print(f"{s} by family, mean / worst gap %: {families}")
    console.print(
        f"targets: all feasible, mean gap <= {TARGET_MEAN} %, none above {TARGET_WORST} %"
    )
    for o in outcomes:
        if o.instance.upper() in SUSPECT_BKS and o.feasible:
            optimum = SUSPECT_BKS[o.instance.upper()]
            console.print(
                f"[yellow]{o.instance}: bks.csv's row is below the published optimum"
                f" {optimum} (one-decimal arcs, a lower bound for double precision);"
                f" {o.solver} {o.distance:.2f} is {100 * (o.distance / optimum - 1):+.2f} %"
                " above that optimum"
            )
    return summary


def _by_family(rows: list[Outcome]) -> dict[str, dict[str, float]]:
    """C1, C2, R1, R2, RC1, RC2: the instance name up to its number (GH: up to the first '_')."""
    families: dict[str, list[float]] = {}
    for o in rows:
        if o.feasible and not math.isnan(o.gap_pct):
            name = o.instance.split("_")[0]
            family = name[: len(name) - 2] if "_" not in o.instance else name
            families.setdefault(family, []).append(o.gap_pct)
    return {f: {"mean": statistics.fmean(g), "worst": max(g)} for f, g in sorted(families.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--instances", default="*", help="glob on the instance name, e.g. 'R1*'")
    ap.add_argument("--seconds", type=float, help="per instance (default 10, 60 with --gh1000)")
    ap.add_argument("--solvers", default="muster,pyvrp,vroom")
    ap.add_argument("--gh1000", action="store_true", help="Gehring-Homberger 1000 customers")
    ap.add_argument("--quick", action="store_true", help="12 Solomon instances, 2 per family")
    ap.add_argument("--rounds", type=int, help="Muster's search rounds (default: the solver's)")
    ap.add_argument(
        "--output", type=Path, help="JSON results (default results/vrptw[-gh1000]-last)"
    )
    args = ap.parse_args()
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    seconds = args.seconds or (60.0 if args.gh1000 else 10.0)
    if args.gh1000:
        paths = vi.gh1000_paths(args.instances)
    else:
        paths = vi.solomon_paths(args.instances)
        if args.quick:
            paths = [p for p in paths if p.stem.upper() in QUICK]
    started = time.perf_counter()
    outcomes = run(paths, solvers, seconds, args.rounds)
    summary = summarize(outcomes, solvers, len(paths))
    output = args.output or (RESULTS_GH1000 if args.gh1000 else RESULTS)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "seconds_per_instance": seconds,
                "muster_rounds": args.rounds,
                "solvers": solvers,
                "wall_seconds": time.perf_counter() - started,
                "summary": summary,
                "instances": [asdict(o) | {"routes": o.routes} for o in outcomes],
            },
            indent=1,
        )
    )
    Console().print(f"results: {output}")


if __name__ == "__main__":
    main()
