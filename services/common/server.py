"""The gRPC server factory every service uses.

grpc.aio, bound to a given port (0 picks a free one, for tests), with the
observability wrapper around every handler, server reflection, and the standard health service
driven by a real check (the database answering), re-run every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import metrics
from services.common.auth import Authenticator
from services.common.interceptors import ObservedRegistry
from services.common.settings import ServerSettings, SettingsError

log = structlog.get_logger("muster.server")

HealthCheck = Callable[[], Awaitable[bool]]
# A health service name that is SERVING while the process runs, whatever the database
# says: what a liveness probe asks (restarting a process does not bring a database back).
LIVENESS = "liveness"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass
class HealthMonitor:
    """Sets SERVING / NOT_SERVING for the server and each service from a real check."""

    servicer: health.aio.HealthServicer
    services: Sequence[str]
    check: HealthCheck
    interval_s: float
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _serving: bool | None = field(default=None, init=False)

    async def refresh(self) -> bool:
        serving = await self.check()
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.services):
            await self.servicer.set(name, status)
        if serving != self._serving:
            (log.info if serving else log.warning)(
                "health_changed", status=health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            )
            self._serving = serving
        return serving

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.refresh()

    async def start(self) -> None:
        await self.servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="health-monitor")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.servicer.enter_graceful_shutdown()


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: HealthMonitor
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    metrics_endpoint: metrics.MetricsEndpoint | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self, grace_s: float = 5.0) -> None:
        await self.health.stop()
        await self.server.stop(grace_s)
        for hook in self.on_stop:
            await hook()
        if self.metrics_endpoint is not None:
            await self.metrics_endpoint.stop()


async def start_server(
    *,
    host: str,
    port: int,
    service_names: Sequence[str],
    register: Callable[[grpc.aio.Server], None],
    health_check: HealthCheck,
    auth: Authenticator,
    health_interval_s: float = 2.0,
    reuse_port: bool = False,
    metrics_port: int | None = None,
    tls: grpc.ServerCredentials | None = None,
) -> RunningServer:
    """Build, bind and start a server; the health state is known before it returns.

    `reuse_port` lets several processes bind the same port (SO_REUSEPORT).
    `metrics_port` serves Prometheus metrics on the same host (None: off; 0: a free port).
    """
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    if reuse_port:
        options.append(("grpc.so_reuseport", 1))
    server = grpc.aio.server(options=options)
    # Handlers are wrapped as they are registered (interceptors.py says why).
    observed = cast(grpc.aio.Server, ObservedRegistry(server, auth))
    register(observed)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, observed)
    reflection.enable_server_reflection(
        [
            *service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,  # its streams are open to all, and it tells an aio server by its type
    )
    address = f"{host}:{port}"
    bound = server.add_secure_port(address, tls) if tls else server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"cannot bind {host}:{port}")
    monitor = HealthMonitor(health_servicer, service_names, health_check, health_interval_s)
    await server.start()
    await monitor.start()
    log.info("server_started", address=f"{host}:{bound}", services=list(service_names))
    endpoint = None if metrics_port is None else metrics.serve(host, metrics_port)
    return RunningServer(server, bound, monitor, metrics_endpoint=endpoint)


def settle_heap() -> None:
    """Keep what start-up made out of the garbage collector's way, once serving.

    A full collection walks every object the process holds: modules, classes,
    descriptors and caches, some 110,000 objects in an inventory worker,
    which stalled it for 50 to 100 ms on a busy machine, every few seconds
    under load: the slowest calls of the scan benchmark, each. Frozen
    (gc.freeze), they are never walked again: a collection walks what was
    made since. (Spacing young collections out, 10,000 allocations instead of
    700, made each of them stall a worker 7-30 ms: they stay as they are.)
    """
    gc.collect()
    gc.freeze()


async def serve_until_signalled(running: RunningServer, grace_s: float = 5.0) -> None:
    """Settle the heap, run until SIGINT or SIGTERM, then go NOT_SERVING, drain in-flight
    calls and stop."""
    settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("server_stopping", grace_s=grace_s)
    await running.stop(grace_s)
    log.info("server_stopped")


def server_tls(settings: ServerSettings) -> grpc.ServerCredentials | None:
    """TLS when a certificate is configured; mutual TLS when a client CA is too."""
    if settings.tls_cert is None and settings.tls_key is None:
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise SettingsError("TLS needs both MUSTER_TLS_CERT and MUSTER_TLS_KEY")
    client_ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def event_loop() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop's run when uvloop is installed, else asyncio's.

    uvloop is libuv's event loop in C; grpc.aio runs on it. A scan's round
    trips to PostgreSQL and gRPC's own callbacks are mostly event-loop work:
    on uvloop the benchmark's RecordScan took 15-35 % less server CPU a scan.
    Every service runs on it.
    """
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        log.info("event_loop", loop="asyncio")
        return asyncio.run
    log.info("event_loop", loop="uvloop")
    run: Callable[[Coroutine[Any, Any, None]], None] = uvloop.run
    return run
