"""Builds and runs the routing gRPC server."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.common import auth, metrics
from services.common.channels import ClientTls, client_tls
from services.common.database import async_engine, database_answers, wait_for_database
from services.common.logging import configure_logging
from services.common.server import (
    RunningServer,
    event_loop,
    serve_until_signalled,
    server_tls,
    start_server,
)
from services.common.settings import Env, ServerSettings
from services.routing.adapters.inventory_client import InventoryClient
from services.routing.api.servicer import RoutingServicer
from services.routing.seed.load import parse, read_network
from services.routing.service_layer.unit_of_work import UnitOfWorkFactory

DEFAULT_PORT = 50052
SERVICE = pb.DESCRIPTOR.services_by_name["RoutingService"]
SERVICE_NAME = SERVICE.full_name


def _warm() -> None:
    """Import the solvers in a worker process, so the first plan does not wait for it."""
    import services.routing.service_layer.planning  # noqa: F401


async def start(
    settings: ServerSettings,
    inventory_address: str,
    solver_processes: int = 2,
    *,
    warm: bool = False,
    inventory_tls: ClientTls | None = None,
) -> RunningServer:
    engine = async_engine(settings.database_url, settings.db_pool_size)
    reference = parse(read_network())
    # Routing calls inventory only while serving a request, with that request's token.
    inventory = InventoryClient(inventory_address, auth.on_behalf(), inventory_tls)
    # spawn, not fork: a forked child of a process running gRPC threads aborts.
    solver = ProcessPoolExecutor(
        max_workers=solver_processes, mp_context=multiprocessing.get_context("spawn")
    )
    if warm:
        for _ in range(solver_processes):
            solver.submit(_warm)
    servicer = RoutingServicer(
        UnitOfWorkFactory(engine), inventory, reference.cities, reference.roads, solver
    )
    checker = auth.authenticator(
        settings.auth_public_keys, servicer, SERVICE, settings.auth_leeway_s
    )
    running = await start_server(
        host=settings.host,
        port=settings.port,
        service_names=[SERVICE_NAME],
        register=lambda server: pb_grpc.add_RoutingServiceServicer_to_server(servicer, server),
        health_check=lambda: database_answers(engine),
        health_interval_s=settings.health_interval_s,
        metrics_port=settings.metrics_port,
        auth=checker,
        tls=server_tls(settings),
    )
    running.on_stop += [metrics.track_pool("routing", engine), engine.dispose]
    running.on_stop.append(inventory.close)

    async def stop_solver() -> None:
        solver.shutdown(wait=False, cancel_futures=True)

    running.on_stop.append(stop_solver)
    return running


async def _main() -> None:
    env = Env("routing", os.environ)
    inventory = env.get("INVENTORY_ADDRESS", "127.0.0.1:50051")
    processes = int(env.get("SOLVER_PROCESSES", "2") or "2")
    settings = ServerSettings.from_env("routing", DEFAULT_PORT)
    await asyncio.to_thread(wait_for_database, settings.database_url, settings.database_wait_s)
    running = await start(
        settings, inventory or "", processes, warm=True, inventory_tls=client_tls(env)
    )
    await serve_until_signalled(running, settings.shutdown_grace_s)


def main() -> None:
    configure_logging()
    event_loop()(_main())
