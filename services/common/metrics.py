"""Prometheus metrics: what the services count, and the HTTP endpoint that serves them.

RPC metrics take the names of grpc-ecosystem's go-grpc-prometheus
(`grpc_server_handled_total`, `grpc_server_handling_seconds`), so the usual
gRPC dashboards and alert rules fit; Muster's own are `muster_*`. Metrics live
in the process's default registry (one service per process in production);
the endpoint is a small HTTP server on its own thread, so it still answers
when the event loop is stuck, which is when an operator needs it most.
deploy/README.md says what each metric means.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

log = structlog.get_logger("muster.metrics")

RPC_HANDLED = "grpc_server_handled_total"
RPC_SECONDS = "grpc_server_handling_seconds"
RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_RPC_BOUNDS = [*(floatToGoString(b) for b in RPC_BUCKETS), "+Inf"]  # the buckets' "le" labels


class _RpcSeries:
    """One (service, method, code)'s count, sum and bucket counts (the last: +Inf)."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(RPC_BUCKETS) + 1)
        self.total = 0.0


class RpcStats(Collector):
    """The RPC counter and histogram, kept as plain numbers and read at scrape time.

    prometheus_client's Counter and Histogram take a lock and walk the buckets
    in Python on every observation, which measured as a fifth of the wrapper
    around a cached read; here a call costs a bisect and two additions on the
    event loop's thread, and a scrape (another thread) reads the numbers. The
    count is the sum of the buckets, so a scrape always sees them agree.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], _RpcSeries] = {}

    def recorder(self, full_method: str) -> Callable[[str, float], None]:
        service, _, method = full_method.lstrip("/").rpartition("/")
        by_code: dict[str, _RpcSeries] = {}
        series = self._series

        def record(code: str, seconds: float) -> None:
            found = by_code.get(code)
            if found is None:
                found = by_code[code] = series.setdefault((service, method, code), _RpcSeries())
            found.buckets[bisect_left(RPC_BUCKETS, seconds)] += 1
            found.total += seconds

        return record

    def collect(self) -> Iterator[Metric]:
        labels = ["grpc_service", "grpc_method", "grpc_code"]
        handled = CounterMetricFamily(
            RPC_HANDLED.removesuffix("_total"),
            "RPCs completed on the server, by status code",
            labels=labels,
        )
        seconds = HistogramMetricFamily(
            RPC_SECONDS,
            "Time from an RPC's arrival to its status (a stream: its whole life)",
            labels=labels,
        )
        for key, found in list(self._series.items()):
            cumulative = list(accumulate(found.buckets))
            handled.add_metric(list(key), cumulative[-1])
            buckets = list(zip(_RPC_BOUNDS, cumulative, strict=True))
            seconds.add_metric(list(key), buckets, found.total)
        yield handled
        yield seconds


RPC_STATS = RpcStats()
REGISTRY.register(RPC_STATS)
SCANS = Counter(
    "muster_scans_total",
    "Scans answered, by action and result (ACCEPTED, or the reason refused)",
    ("action", "result"),
)
PLAN_SECONDS = Histogram(
    "muster_plan_solve_seconds",
    "Time to solve a delivery plan (itineraries, assignment, trucks), by solver status",
    ("status",),
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
)


def rpc_recorder(full_method: str) -> Callable[[str, float], None]:
    """Counts and times one method's finished RPCs (`/pkg.Service/Method`), by status code."""
    return RPC_STATS.recorder(full_method)


# Each (action, result) series, looked up once: `labels()` takes a lock and builds its
# key on every call, which measured 3 % of the server's time in a batch of 100 scans.
_scan_series: dict[tuple[str, str], Any] = {}


def scans_answered(outcomes: Iterable[tuple[str, str]]) -> None:
    """Count scans as (action, result) pairs."""
    for pair, count in collections.Counter(outcomes).items():
        series = _scan_series.get(pair)
        if series is None:
            series = _scan_series[pair] = SCANS.labels(*pair)
        series.inc(count)


def plan_solved(status: str, seconds: float) -> None:
    PLAN_SECONDS.labels(status).observe(seconds)


# ------------------------------------------------------------------ read at scrape time

# (category, scope kind, scope code, level 1-4), and whether the copy is stale.
ReadinessLevels = Callable[[], Iterable[tuple[str, str, str, int]]]
Staleness = Callable[[], bool]


class _LiveState(Collector):
    """Gauges read when Prometheus scrapes: connection pools and readiness levels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[int, tuple[str, QueuePool]] = {}
        self._readiness: tuple[ReadinessLevels, Staleness] | None = None

    def track_pool(self, service: str, pool: QueuePool) -> Callable[[], None]:
        with self._lock:
            self._pools[id(pool)] = (service, pool)
        return lambda: self._forget_pool(id(pool))

    def _forget_pool(self, key: int) -> None:
        with self._lock:
            self._pools.pop(key, None)

    def track_readiness(self, levels: ReadinessLevels, stale: Staleness) -> Callable[[], None]:
        source = (levels, stale)
        with self._lock:
            self._readiness = source

        def forget() -> None:
            with self._lock:
                if self._readiness is source:
                    self._readiness = None

        return forget

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            pools = list(self._pools.values())
            readiness = self._readiness
        yield from _pool_metrics(pools)
        if readiness is not None:
            yield from _readiness_metrics(*readiness)


def _pool_metrics(pools: list[tuple[str, QueuePool]]) -> Iterator[Metric]:
    size = GaugeMetricFamily(
        "muster_db_pool_size", "Connections the pool keeps (its pool_size)", labels=["service"]
    )
    out = GaugeMetricFamily(
        "muster_db_pool_checked_out",
        "Connections in use by a transaction right now",
        labels=["service"],
    )
    overflow = GaugeMetricFamily(
        "muster_db_pool_overflow",
        "Connections opened beyond pool_size (up to max_overflow)",
        labels=["service"],
    )
    totals: dict[str, list[int]] = {}
    for service, pool in pools:
        total = totals.setdefault(service, [0, 0, 0])
        total[0] += pool.size()
        total[1] += pool.checkedout()
        total[2] += max(0, pool.overflow())
    for service, (kept, used, extra) in sorted(totals.items()):
        size.add_metric([service], kept)
        out.add_metric([service], used)
        overflow.add_metric([service], extra)
    return iter((size, out, overflow))


def _readiness_metrics(levels: ReadinessLevels, stale: Staleness) -> Iterator[Metric]:
    level = GaugeMetricFamily(
        "muster_readiness_level",
        "Readiness level per disaster category and scope: 1 fully ready .. 4 not ready",
        labels=["category", "scope_kind", "scope"],
    )
    for category, kind, code, value in levels():
        level.add_metric([category, kind, code], value)
    stale_gauge = GaugeMetricFamily(
        "muster_readiness_stale",
        "1 while inventory cannot be reached and the reports are the last known, else 0",
    )
    stale_gauge.add_metric([], 1 if stale() else 0)
    return iter((level, stale_gauge))


LIVE = _LiveState()
REGISTRY.register(LIVE)


def _as_hook(forget: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def hook() -> None:
        forget()

    return hook


def track_pool(service: str, engine: AsyncEngine) -> Callable[[], Awaitable[None]]:
    """Report the engine's pool as `service`'s; the answer (a stop hook) stops reporting it."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return _as_hook(lambda: None)
    return _as_hook(LIVE.track_pool(service, pool))


def track_readiness(levels: ReadinessLevels, stale: Staleness) -> Callable[[], Awaitable[None]]:
    """Report readiness from the gateway's in-memory book; the answer (a stop hook) stops it."""
    return _as_hook(LIVE.track_readiness(levels, stale))


# ------------------------------------------------------------------ the endpoint


@dataclass
class MetricsEndpoint:
    """`GET /metrics` in the Prometheus text format, served from its own thread."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.shutdown)
        self.server.server_close()


def serve(host: str, port: int) -> MetricsEndpoint:
    """Start the endpoint on `host:port` (0 picks a free port)."""
    server, thread = start_http_server(port, addr=host)
    endpoint = MetricsEndpoint(server, thread)
    log.info("metrics_started", address=f"{host}:{endpoint.port}")
    return endpoint
