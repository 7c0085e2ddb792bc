"""Fixtures: a real PostgreSQL with the migrations applied, real gRPC servers on real ports."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import date

import pytest
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.common.database import async_engine
from services.common.logging import configure_logging
from services.common.schemas import upgrade_all
from services.common.server import RunningServer
from services.common.settings import ServerSettings
from services.inventory import server as inventory_server
from services.inventory.seed import load as seed
from services.inventory.service_layer.unit_of_work import UnitOfWorkFactory
from tests.support import auth
from tests.support.database import PgServer, start_test_server

# Fixed so that seeded dates and assessments do not depend on when tests run.
TODAY = date(2026, 11, 29)

_server: PgServer | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _server
    configure_logging("WARNING", json=True)
    os.environ.update(auth.environment())
    _server = start_test_server()


def pytest_report_header(config: pytest.Config) -> str:
    assert _server is not None
    return f"test database: {_server.kind}"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server is not None:
        _server.close()


@pytest.fixture(scope="session")
def pg() -> PgServer:
    assert _server is not None
    return _server


@pytest.fixture(scope="session")
def database_url(pg: PgServer) -> str:
    """A database with the migrations applied, shared by the tests of a session."""
    url = pg.new_database()
    upgrade_all(url)
    return url


@pytest.fixture(scope="session")
def seeded_url(pg: PgServer) -> str:
    """A separate migrated database holding the Jilin seed."""
    return seeded_database(pg, "muster_seeded")


def seeded_database(pg: PgServer, prefix: str) -> str:
    """A new migrated database holding the Jilin seed, for tests that change it."""
    url = pg.new_database(prefix)
    upgrade_all(url)

    async def load() -> None:
        engine = async_engine(url)
        await seed.load(UnitOfWorkFactory(engine), TODAY)
        await engine.dispose()

    asyncio.run(load())
    return url


async def start_inventory(url: str, **overrides: object) -> RunningServer:
    fields: dict[str, object] = {"port": 0, "auth_public_keys": auth.PUBLIC_KEYS, **overrides}
    settings = ServerSettings(service="inventory", database_url=url, **fields)  # type: ignore[arg-type]
    return await inventory_server.start(settings, today=lambda: TODAY)


@pytest.fixture(scope="session")
async def inventory(database_url: str) -> AsyncIterator[RunningServer]:
    running = await start_inventory(database_url)
    yield running
    await running.stop(0)


@pytest.fixture(scope="session")
async def stub(inventory: RunningServer) -> AsyncIterator[pb_grpc.InventoryServiceStub]:
    async with auth.channel(inventory.address) as channel:
        yield pb_grpc.InventoryServiceStub(channel)


@pytest.fixture(scope="session")
async def seeded_stub(seeded_url: str) -> AsyncIterator[pb_grpc.InventoryServiceStub]:
    running = await start_inventory(seeded_url)
    async with auth.channel(running.address) as channel:
        yield pb_grpc.InventoryServiceStub(channel)
    await running.stop(0)


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = async_engine(database_url)
    yield UnitOfWorkFactory(engine)
    await engine.dispose()
