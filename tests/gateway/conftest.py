"""A database of its own for the gateway's tests: they scan, so they leave the shared seed alone."""

from __future__ import annotations

import asyncio

import pytest

from services.common.database import async_engine
from services.common.schemas import upgrade_all
from services.inventory.seed import load as seed
from services.inventory.service_layer.unit_of_work import UnitOfWorkFactory
from tests.conftest import TODAY
from tests.gateway.world import seed_network
from tests.support.database import PgServer


@pytest.fixture(scope="session")
def gateway_url(pg: PgServer) -> str:
    url = pg.new_database("muster_gateway")
    upgrade_all(url)

    async def load() -> None:
        engine = async_engine(url)
        await seed.load(UnitOfWorkFactory(engine), TODAY)
        await engine.dispose()
        await seed_network(url)

    asyncio.run(load())
    return url
