"""A seeded database for the deploy tests alone: they scan and plan, leaving the others be."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import seeded_database
from tests.gateway.world import seed_network
from tests.support.database import PgServer


@pytest.fixture(scope="session")
def deploy_url(pg: PgServer) -> str:
    url = seeded_database(pg, "muster_deploy")
    asyncio.run(seed_network(url))
    return url
