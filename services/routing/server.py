"""Builds and runs the routing gRPC server."""

from __future__ import annotations

import asyncio
import os

from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.common.database import async_engine, database_answers
from services.common.logging import configure_logging
from services.common.server import RunningServer, serve_until_signalled, start_server
from services.common.settings import Env, ServerSettings
from services.routing.adapters.inventory_client import InventoryClient
from services.routing.api.servicer import RoutingServicer
from services.routing.seed.load import parse, read_network
from services.routing.service_layer.unit_of_work import UnitOfWorkFactory

DEFAULT_PORT = 50052
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RoutingService"].full_name


async def start(settings: ServerSettings, inventory_address: str) -> RunningServer:
    engine = async_engine(settings.database_url, settings.db_pool_size)
    reference = parse(read_network())
    inventory = InventoryClient(inventory_address)
    servicer = RoutingServicer(
        UnitOfWorkFactory(engine), inventory, reference.cities, reference.roads
    )
    running = await start_server(
        host=settings.host,
        port=settings.port,
        service_names=[SERVICE_NAME],
        register=lambda server: pb_grpc.add_RoutingServiceServicer_to_server(servicer, server),
        health_check=lambda: database_answers(engine),
        health_interval_s=settings.health_interval_s,
    )
    running.on_stop.append(engine.dispose)
    running.on_stop.append(inventory.close)
    return running


async def _main() -> None:
    inventory = Env("routing", os.environ).get("INVENTORY_ADDRESS", "127.0.0.1:50051")
    running = await start(ServerSettings.from_env("routing", DEFAULT_PORT), inventory or "")
    await serve_until_signalled(running)


def main() -> None:
    configure_logging()
    asyncio.run(_main())
