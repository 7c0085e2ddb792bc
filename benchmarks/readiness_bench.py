"""Readiness benchmark: GetReadiness beside a plain gRPC echo, and a full recompute at 10x scale.

    .venv/bin/python -m benchmarks.readiness_bench            # about a minute
    .venv/bin/python -m benchmarks.readiness_bench --quick    # a smoke run

1. Serving. The gateway's real gRPC server (the factory every service uses:
   interceptor, health, reflection) with the real servicer and report cache,
   in its own process, its memory filled from the Jilin seed's reference
   with generated kits (inventory and routing are not needed: GetReadiness
   never calls them). Beside it, in its own process, benchmarks/echo_server.py
   (grpc.aio alone, no interceptor). The same closed-loop client sends
   `--calls` calls with `--concurrency` in flight to each, cycling over
   every category x scope, in `--rounds` alternating rounds (echo, then
   GetReadiness, and again), so that other work on the machine weighs on
   both rows alike. Beside the rates: the CPU each server process and the
   client used per call (from /proc), steadier than rates on a busy machine.
2. Recomputing. The pure engine on ten times the seed: every depot copied ten
   times within its city (200 depots, 215 scopes), `--kits` kits with every
   template line filled (serial lines as units, the rest as lots), every
   report computed from nothing; then single-kit changes, each recomputing
   only the reports it touches.
"""

# ruff: noqa: E402

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from muster.gateway.v1 import gateway_service_pb2 as pb
from muster.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table

from benchmarks.echo_server import METHOD as ECHO_METHOD
from services.common import auth
from services.common.auth import Role, TokenIssuer, public_pem
from services.common.channels import aio_channel
from services.common.server import event_loop
from services.gateway.domain.config import ReadinessConfig
from services.gateway.domain.model import (
    Category,
    Depot,
    Estimate,
    Kit,
    Line,
    Lot,
    Reference,
    Standard,
    Template,
    Unit,
)
from services.gateway.domain.readiness import ReadinessBook

SEED = ROOT / "services" / "inventory" / "seed" / "jilin.json"
TODAY = date(2026, 11, 29)
TARGET_SHARE, TARGET_P99_MS, TARGET_RECOMPUTE_S = 0.80, 15.0, 2.0


# ---------------------------------------------------------------- facts
def reference(copies: int) -> tuple[Reference, frozenset[str]]:
    """The seed's reference with every depot copied, and the serial-tracked item types."""
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    depots: dict[str, Depot] = {}
    for d in seed["depots"]:
        for n in range(copies):
            code = d["code"] if n == 0 else f"{d['code']}-{n}"
            parent = d["parent_code"] or ""
            depots[code] = Depot(
                code, d["name"], d["tier"], d["city"], d["latitude"], d["longitude"], parent
            )
    templates = {
        (t["code"], 1): Template(
            t["code"],
            1,
            Category(t["category"]),
            tuple(Line(ln["item_type_code"], ln["quantity"], ln["pacing"]) for ln in t["lines"]),
        )
        for t in seed["kit_templates"]
    }
    serial = frozenset(i["code"] for i in seed["item_types"] if i["tracking_mode"] == "SERIAL")
    inspected = frozenset(i["code"] for i in seed["item_types"] if i["inspection_interval_days"])
    standards = tuple(
        Standard(s["template_code"], s["quantity"], s.get("tier") or "", s.get("depot_code") or "")
        for s in seed["reserve_standards"]
    )
    return Reference(depots, templates, inspected, standards, "jilin"), serial


def kits(ref: Reference, serial: frozenset[str], count: int, rng: random.Random) -> list[Kit]:
    templates = list(ref.templates.values())
    depots = sorted(ref.depots)
    made = []
    for n in range(count):
        t = templates[n % len(templates)]
        label = f"K{n:05d}"
        units: list[Unit] = []
        lots: list[Lot] = []
        for line in t.lines:
            if line.item_type_code in serial:
                for i in range(line.quantity):
                    bad = rng.random() < 0.01
                    units.append(
                        Unit(
                            line.item_type_code,
                            f"{label}-{line.item_type_code}-{i}",
                            "QUARANTINED" if bad else "SERVICEABLE",
                            TODAY + timedelta(days=rng.randint(30, 2000)),
                            TODAY + timedelta(days=rng.randint(-3, 300)),
                        )
                    )
            else:
                lots.append(
                    Lot(
                        line.item_type_code,
                        line.quantity,
                        f"L{n}",
                        expires_on=TODAY + timedelta(days=rng.randint(5, 1500)),
                    )
                )
        made.append(
            Kit(label, t.code, 1, depots[n % len(depots)], "READY", tuple(units), tuple(lots))
        )
    return made


def estimates(book: ReadinessBook) -> list[Estimate]:
    return [
        Estimate(code, city, needed, 1.0 + (hash((code, city)) % 40) / 10, 5)
        for c in book.categories
        for code in book.template_codes(c)
        for city in book.cities()
        for needed in book.kits_needed()
    ]


def filled_book(copies: int, count: int, seed: int = 7) -> tuple[ReadinessBook, list[Kit], float]:
    ref, serial = reference(copies)
    made = kits(ref, serial, count, random.Random(seed))
    started = time.perf_counter()
    book = ReadinessBook(ref, ReadinessConfig(), TODAY)
    book.load(made)
    book.set_estimates(estimates(book))
    book.recompute_all(datetime.now(UTC))
    return book, made, time.perf_counter() - started


# ---------------------------------------------------------------- serving
async def serve() -> None:
    """A gateway server whose memory holds the seed's scale; prints its port."""
    from services.common.logging import configure_logging
    from services.common.server import serve_until_signalled, start_server
    from services.gateway.api.reports import ReportCache
    from services.gateway.api.servicer import ReadinessServicer
    from services.gateway.server import SERVICE_NAME
    from services.gateway.service_layer.keeper import ReadinessKeeper

    # As in production, JSON lines to stderr at INFO (a successful read, such as
    # GetReadiness, is logged at debug only); MUSTER_BENCH_LOG_LEVEL=DEBUG measures
    # what a line per call would cost.
    configure_logging(os.environ.get("MUSTER_BENCH_LOG_LEVEL", "INFO"), json=True)
    book, _, _ = filled_book(1, 110)
    keeper = ReadinessKeeper(None, None, ReadinessConfig(), lambda: TODAY)  # type: ignore[arg-type]
    keeper.book = book
    servicer = ReadinessServicer(ReportCache(keeper))

    async def ready() -> bool:
        return True

    # As in production, every call's bearer token is verified and its role checked.
    checker = auth.authenticator(
        os.environ["MUSTER_AUTH_PUBLIC_KEYS"],
        servicer,
        pb.DESCRIPTOR.services_by_name["ReadinessService"],
    )
    running = await start_server(
        host="127.0.0.1",
        port=0,
        service_names=[SERVICE_NAME],
        register=lambda s: pb_grpc.add_ReadinessServiceServicer_to_server(servicer, s),
        health_check=ready,
        auth=checker,
    )
    print(running.port, flush=True)
    await serve_until_signalled(running, grace_s=0.5)


KEY = Ed25519PrivateKey.generate()


def start_process(*argv: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, *argv],
        env={**os.environ, "MUSTER_AUTH_PUBLIC_KEYS": public_pem(KEY.public_key())},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the server's log lines, as in production
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    if not port.isdigit():
        process.kill()
        raise SystemExit(f"{argv}: did not start")
    return process, f"127.0.0.1:{port}"


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    name: str
    calls: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    def us_per_call(self, cpu_s: float) -> float:
        return cpu_s / self.calls * 1e6

    @property
    def per_s(self) -> float:
        return self.calls / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def closed_loop(
    name: str,
    call: Callable[[int], Awaitable[Any]],
    calls: int,
    concurrency: int,
    warmup: int,
    server_pid: int,
) -> Row:
    for i in range(warmup):
        await call(i)
    latencies: list[float] = []
    counter = iter(range(calls))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - started) * 1000)

    server_cpu, client_cpu = process_cpu_s(server_pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return Row(
        name,
        calls,
        seconds,
        latencies,
        server_cpu_s=process_cpu_s(server_pid) - server_cpu,
        client_cpu_s=time.process_time() - client_cpu,
    )


def combined(rows: Sequence[Row]) -> Row:
    return Row(
        rows[0].name,
        sum(r.calls for r in rows),
        sum(r.seconds for r in rows),
        [ms for r in rows for ms in r.latencies_ms],
        server_cpu_s=sum(r.server_cpu_s for r in rows),
        client_cpu_s=sum(r.client_cpu_s for r in rows),
    )


async def measure_serving(
    calls: int, concurrency: int, warmup: int, rounds: int
) -> tuple[Row, Row]:
    gateway, gateway_address = start_process("-m", "benchmarks.readiness_bench", "serve")
    token = TokenIssuer(KEY).issue("bench", [Role.COMMAND])
    echo, echo_address = start_process("-m", "benchmarks.echo_server")
    try:
        async with (
            aio_channel(gateway_address, lambda: token) as g,
            grpc.aio.insecure_channel(echo_address) as e,
        ):
            stub = pb_grpc.ReadinessServiceStub(g)
            listed = await stub.ListReadiness(pb.ListReadinessRequest(), timeout=10)
            requests = [
                pb.GetReadinessRequest(category=r.category, scope=r.scope) for r in listed.reports
            ]
            payloads = [r.SerializeToString() for r in requests]
            echo_call = e.unary_unary(ECHO_METHOD)

            async def get(i: int) -> Any:
                return await stub.GetReadiness(requests[i % len(requests)], timeout=5)

            async def echo_one(i: int) -> Any:
                return await echo_call(payloads[i % len(payloads)], timeout=5)

            # In alternating rounds, so that whatever else the machine does in the
            # meantime weighs on both rows alike.
            echo_rows: list[Row] = []
            get_rows: list[Row] = []
            share = calls // rounds
            for _ in range(rounds):
                echo_rows.append(
                    await closed_loop("grpc echo", echo_one, share, concurrency, warmup, echo.pid)
                )
                get_rows.append(
                    await closed_loop("GetReadiness", get, share, concurrency, warmup, gateway.pid)
                )
            echo_row, get_row = combined(echo_rows), combined(get_rows)
            return echo_row, get_row
    finally:
        for process in (gateway, echo):
            process.terminate()
            process.wait(10)


# ---------------------------------------------------------------- recompute
def measure_recompute(copies: int, count: int, changes: int) -> dict[str, Any]:
    book, made, full_s = filled_book(copies, count)
    units = sum(len(k.units) for k in made)
    lots = sum(len(k.lots) for k in made)
    rng = random.Random(11)
    per_change: list[float] = []
    for _ in range(changes):
        kit = rng.choice(made)
        unit = kit.units[0]
        flipped = replace(
            unit, condition="QUARANTINED" if unit.condition == "SERVICEABLE" else "SERVICEABLE"
        )
        changed = replace(kit, units=(flipped, *kit.units[1:]))
        started = time.perf_counter()
        touched = book.put_kit(changed)
        book.recompute(touched, datetime.now(UTC))
        per_change.append((time.perf_counter() - started) * 1000)
    return {
        "depots": len(book.reference.depots),
        "scopes": len(book.index.scopes),
        "reports": len(book.reports),
        "kits": len(made),
        "units": units,
        "lots": lots,
        "full_recompute_s": full_s,
        "change_p50_ms": statistics.median(per_change),
        "change_p99_ms": sorted(per_change)[int(0.99 * len(per_change))],
    }


# ---------------------------------------------------------------- report
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", nargs="?", choices=("run", "serve"), default="run")
    p.add_argument("--calls", type=int, default=20000, help="calls measured per row")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--warmup", type=int, default=500, help="calls before each round")
    p.add_argument("--rounds", type=int, default=5, help="alternating echo / GetReadiness rounds")
    p.add_argument("--copies", type=int, default=10, help="copies of each seed depot")
    p.add_argument("--kits", type=int, default=2200, help="kits at the 10x scale")
    p.add_argument("--changes", type=int, default=300, help="single-kit changes timed")
    p.add_argument("--quick", action="store_true", help="2000 calls, 100 warm-up, 50 changes")
    p.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "readiness.json"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.calls, args.warmup, args.changes = 2000, 100, 50
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.mode == "serve":
        from services.common.logging import configure_logging

        # Log lines to stderr before anything logs: the port is the first line of stdout.
        configure_logging(os.environ.get("MUSTER_BENCH_LOG_LEVEL", "INFO"), json=True)
        event_loop()(serve())  # as the services run: on uvloop
        return 0
    console = Console()
    with console.status("GetReadiness and echo, closed loop"):
        echo, get = asyncio.run(
            measure_serving(args.calls, args.concurrency, args.warmup, args.rounds)
        )
    table = Table(title=f"Serving, concurrency {args.concurrency}", title_justify="left")
    columns = (
        "row",
        "calls",
        "calls/s",
        "p50 ms",
        "p99 ms",
        "share of echo",
        "server CPU us/call",
        "client CPU us/call",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for row in (echo, get):
        of_echo = f"{row.per_s / echo.per_s:.0%}"
        table.add_row(
            row.name,
            str(row.calls),
            f"{row.per_s:,.0f}",
            f"{row.pct(0.5):.2f}",
            f"{row.pct(0.99):.2f}",
            of_echo,
            f"{row.us_per_call(row.server_cpu_s):.0f}",
            f"{row.us_per_call(row.client_cpu_s):.0f}",
        )
    console.print(table)
    with console.status("full recompute at 10x"):
        recompute = measure_recompute(args.copies, args.kits, args.changes)
    console.print(
        f"Recompute at 10x: {recompute['depots']} depots, {recompute['scopes']} scopes, "
        f"{recompute['reports']} reports, {recompute['kits']} kits, {recompute['units']:,} units, "
        f"{recompute['lots']:,} lots: full [bold]{recompute['full_recompute_s']:.2f} s[/]; "
        f"one kit's change p50 {recompute['change_p50_ms']:.2f} ms, "
        f"p99 {recompute['change_p99_ms']:.2f} ms"
    )
    share = get.per_s / echo.per_s
    verdicts: dict[str, bool] = {
        f"GetReadiness >= {TARGET_SHARE:.0%} of echo": share >= TARGET_SHARE,
        f"GetReadiness p99 <= {TARGET_P99_MS:g} ms": get.pct(0.99) <= TARGET_P99_MS,
        f"full recompute <= {TARGET_RECOMPUTE_S:g} s": recompute["full_recompute_s"]
        <= TARGET_RECOMPUTE_S,
    }
    for name, ok in verdicts.items():
        console.print(f"{'[green]met[/]' if ok else '[red]missed[/]'}  {name}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "concurrency": args.concurrency,
                "rows": [
                    {
                        "name": r.name,
                        "calls": r.calls,
                        "per_s": r.per_s,
                        "p50_ms": r.pct(0.5),
                        "p99_ms": r.pct(0.99),
                        "server_cpu_us_per_call": r.us_per_call(r.server_cpu_s),
                        "client_cpu_us_per_call": r.us_per_call(r.client_cpu_s),
                    }
                    for r in (echo, get)
                ],
                "recompute": recompute,
                "targets_met": verdicts,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
