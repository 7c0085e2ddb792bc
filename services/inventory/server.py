"""Builds and runs the inventory gRPC server."""

from __future__ import annotations

import asyncio

from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.common.clock import Today, province_today
from services.common.database import async_engine, database_answers
from services.common.logging import configure_logging
from services.common.server import RunningServer, serve_until_signalled, start_server
from services.common.settings import ServerSettings
from services.inventory.api.servicer import InventoryServicer
from services.inventory.service_layer.unit_of_work import UnitOfWorkFactory

DEFAULT_PORT = 50051
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["InventoryService"].full_name


async def start(settings: ServerSettings, today: Today = province_today) -> RunningServer:
    engine = async_engine(settings.database_url, settings.db_pool_size)
    servicer = InventoryServicer(UnitOfWorkFactory(engine), today)
    running = await start_server(
        host=settings.host,
        port=settings.port,
        service_names=[SERVICE_NAME],
        register=lambda server: pb_grpc.add_InventoryServiceServicer_to_server(servicer, server),
        health_check=lambda: database_answers(engine),
        health_interval_s=settings.health_interval_s,
    )
    running.on_stop.append(engine.dispose)
    return running


async def _main() -> None:
    settings = ServerSettings.from_env("inventory", DEFAULT_PORT)
    running = await start(settings)
    await serve_until_signalled(running)


def main() -> None:
    configure_logging()
    asyncio.run(_main())
