"""Builds and runs the inventory gRPC server, in one process or one per core.

`python -m services.inventory` starts MUSTER_INVENTORY_WORKERS server
processes (default: one per CPU) on one port (SO_REUSEPORT; the kernel spreads
connections over them). A scan is Python-bound, so one process uses one
core at most. Each worker is a whole server (health, reflection, its own
connection pool); the parent only starts them, passes SIGTERM / SIGINT on,
and stops them all if one dies. With one worker the parent is the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace

import structlog
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.common import auth, metrics
from services.common.clock import Today, province_today
from services.common.database import async_engine, database_answers, wait_for_database
from services.common.logging import configure_logging
from services.common.server import (
    RunningServer,
    event_loop,
    serve_until_signalled,
    server_tls,
    start_server,
)
from services.common.settings import Env, ServerSettings, SettingsError
from services.inventory.api.servicer import InventoryServicer
from services.inventory.service_layer.unit_of_work import UnitOfWorkFactory

DEFAULT_PORT = 50051
SERVICE = pb.DESCRIPTOR.services_by_name["InventoryService"]
SERVICE_NAME = SERVICE.full_name
# Set in a worker (its number, from 1): serve, do not start workers.
WORKER_ENV = "MUSTER_INVENTORY_WORKER"

log = structlog.get_logger("muster.server")


async def start(
    settings: ServerSettings, today: Today = province_today, *, shared_port: bool = False
) -> RunningServer:
    engine = async_engine(settings.database_url, settings.db_pool_size)
    servicer = InventoryServicer(UnitOfWorkFactory(engine), today)
    checker = auth.authenticator(
        settings.auth_public_keys, servicer, SERVICE, settings.auth_leeway_s
    )
    running = await start_server(
        host=settings.host,
        port=settings.port,
        service_names=[SERVICE_NAME],
        register=lambda server: pb_grpc.add_InventoryServiceServicer_to_server(servicer, server),
        health_check=lambda: database_answers(engine),
        health_interval_s=settings.health_interval_s,
        reuse_port=shared_port,
        metrics_port=settings.metrics_port,
        auth=checker,
        tls=server_tls(settings),
    )
    running.on_stop += [metrics.track_pool("inventory", engine), engine.dispose]
    return running


def worker_count(environ: Mapping[str, str]) -> int:
    """MUSTER_INVENTORY_WORKERS, else one per CPU this process may run on."""
    default = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    count = Env("inventory", environ).integer("WORKERS", default)
    if count < 1:
        raise SettingsError("MUSTER_INVENTORY_WORKERS must be at least 1")
    return count


async def _serve(settings: ServerSettings, *, shared_port: bool) -> None:
    await asyncio.to_thread(wait_for_database, settings.database_url, settings.database_wait_s)
    running = await start(settings, shared_port=shared_port)
    await serve_until_signalled(running, settings.shutdown_grace_s)


def _die_with_parent() -> None:
    """In a worker, before exec: get SIGTERM (a clean stop) if the parent goes away."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _supervise(count: int) -> int:
    """Run `count` workers until a signal (passed on to each) or until one exits."""
    command = [sys.executable, "-m", "services.inventory"]
    workers = [
        subprocess.Popen(
            command, env={**os.environ, WORKER_ENV: str(n)}, preexec_fn=_die_with_parent
        )
        for n in range(1, count + 1)
    ]
    stopping = False

    def pass_on(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, pass_on)
    log.info("workers_started", workers=count, pids=[w.pid for w in workers])
    status = 0
    while any(w.poll() is None for w in workers):
        with contextlib.suppress(ChildProcessError, InterruptedError):
            pid, code = os.wait()
            failed = os.waitstatus_to_exitcode(code)
            for worker in workers:
                if worker.pid == pid:
                    worker.returncode = failed
            if failed and not stopping:
                log.error("worker_exited", pid=pid, code=failed)
                status = status or 1
                pass_on(signal.SIGTERM, None)
    log.info("workers_stopped", workers=count)
    return status or max((abs(w.returncode or 0) for w in workers), default=0)


def for_worker(settings: ServerSettings, worker: int) -> ServerSettings:
    """Worker n serves its metrics on the metrics port + n - 1: one endpoint per process."""
    if worker < 2 or not settings.metrics_port:
        return settings
    return replace(settings, metrics_port=settings.metrics_port + worker - 1)


def main() -> None:
    configure_logging()
    settings = ServerSettings.from_env("inventory", DEFAULT_PORT)
    worker = int(os.environ.get(WORKER_ENV) or 0)
    count = 1 if worker else worker_count(os.environ)
    if count == 1:
        run = event_loop()
        run(_serve(for_worker(settings, worker), shared_port=bool(worker)))
        return
    if settings.port == 0:
        raise SettingsError("workers share one port: set MUSTER_INVENTORY_PORT (not 0)")
    sys.exit(_supervise(count))
