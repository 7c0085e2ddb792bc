"""Health follows the database for real; reflection lists the service."""

import asyncio
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.inventory.server import SERVICE_NAME
from tests.conftest import start_inventory
from tests.support import auth
from tests.support.proxy import DatabaseProxy

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _status(health: health_pb2_grpc.HealthStub, service: str = "") -> int:
    answer = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return answer.status


async def _wait_for(health: health_pb2_grpc.HealthStub, wanted: int, within_s: float = 10) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await _status(health) == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"health never became {health_pb2.HealthCheckResponse.ServingStatus.Name(wanted)}"
    )


async def test_health_is_not_serving_while_the_database_is_unreachable(database_url: str) -> None:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    running = await start_inventory(proxy.url, health_interval_s=0.2)
    try:
        async with auth.channel(running.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            stub = pb_grpc.InventoryServiceStub(channel)
            assert await _status(health) == SERVING
            assert await _status(health, SERVICE_NAME) == SERVING

            await proxy.cut()
            await _wait_for(health, NOT_SERVING)
            assert await _status(health, SERVICE_NAME) == NOT_SERVING
            try:
                await stub.ListDepots(pb.ListDepotsRequest(), timeout=15)
                raise AssertionError("a read succeeded with the database unreachable")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()

            await proxy.restore()
            await _wait_for(health, SERVING)
            await stub.ListDepots(pb.ListDepotsRequest(), timeout=5)
    finally:
        await running.stop(0)
        await proxy.cut()


async def test_reflection_lists_the_inventory_service(inventory) -> None:
    async with auth.channel(inventory.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def requests():
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        services = set()
        async for answer in stub.ServerReflectionInfo(requests()):
            services |= {s.name for s in answer.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= services
