"""Builds and runs the gateway: the gRPC ReadinessService and the HTTP side on one event loop."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from aiohttp import web
from muster.gateway.v1 import gateway_service_pb2 as pb
from muster.gateway.v1 import gateway_service_pb2_grpc as pb_grpc

from services.common import auth, metrics
from services.common.clock import Today, province_today
from services.common.logging import configure_logging
from services.common.server import (
    RunningServer,
    event_loop,
    serve_until_signalled,
    server_tls,
    start_server,
)
from services.gateway.adapters.config_file import read_config
from services.gateway.adapters.inventory_source import InventorySource
from services.gateway.adapters.routing_source import RoutingSource
from services.gateway.api.http import build_app
from services.gateway.api.reports import ReportCache
from services.gateway.api.servicer import ReadinessServicer
from services.gateway.service_layer.keeper import KeeperTimings, ReadinessKeeper
from services.gateway.settings import GatewaySettings

SERVICE = pb.DESCRIPTOR.services_by_name["ReadinessService"]
SERVICE_NAME = SERVICE.full_name


@dataclass
class RunningGateway:
    grpc: RunningServer
    http_port: int
    keeper: ReadinessKeeper

    @property
    def address(self) -> str:
        return self.grpc.address

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def stop(self, grace_s: float = 5.0) -> None:
        await self.grpc.stop(grace_s)


def _http_tls(settings: GatewaySettings) -> ssl.SSLContext | None:
    """HTTPS for the JSON endpoints and the dashboard when the gateway has a certificate."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


async def _start_http(
    app: web.Application, host: str, port: int, tls: ssl.SSLContext | None
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, bound


async def start(
    settings: GatewaySettings, today: Today = province_today, timings: KeeperTimings | None = None
) -> RunningGateway:
    checks = auth.verifier(settings.auth_public_keys, settings.auth_leeway_s)
    inventory = InventorySource(settings.inventory_address, settings.token, settings.client_tls())
    routing = RoutingSource(settings.routing_address, settings.token, settings.client_tls())
    keeper = ReadinessKeeper(
        inventory,
        routing,
        read_config(settings.readiness_config),
        today,
        timings or KeeperTimings(estimates_interval_s=settings.estimates_interval_s),
    )
    await keeper.start()
    reports = ReportCache(keeper)
    servicer = ReadinessServicer(reports)
    checker = auth.Authenticator(
        checks, auth.policy_for(servicer, SERVICE_NAME, [m.name for m in SERVICE.methods])
    )

    async def loaded() -> bool:
        return keeper.ready

    running = await start_server(
        host=settings.host,
        port=settings.port,
        service_names=[SERVICE_NAME],
        register=lambda server: pb_grpc.add_ReadinessServiceServicer_to_server(servicer, server),
        health_check=loaded,
        health_interval_s=settings.health_interval_s,
        metrics_port=settings.metrics_port,
        auth=checker,
        tls=server_tls(settings.server()),
    )
    runner, http_port = await _start_http(
        build_app(reports, checks), settings.http_host, settings.http_port, _http_tls(settings)
    )
    forget_levels = metrics.track_readiness(
        lambda: [(r.category, r.scope.kind, r.scope.code, r.level) for r in keeper.reports()],
        lambda: keeper.stale_since is not None,
    )
    running.on_stop[:0] = [forget_levels, keeper.stop, runner.cleanup]
    running.on_stop += [inventory.close, routing.close]
    return RunningGateway(running, http_port, keeper)


async def _main() -> None:
    settings = GatewaySettings.from_env()
    running = await start(settings)
    await serve_until_signalled(running.grpc, settings.shutdown_grace_s)


def main() -> None:
    configure_logging()
    event_loop()(_main())
