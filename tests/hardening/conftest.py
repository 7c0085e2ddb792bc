"""All three services on their own seeded database, for the hardening tests.

Fuzzed requests create depots, kits, scans and plans; a database of their
own keeps that out of every other test's way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from services.common.settings import ServerSettings
from services.gateway import server as gateway_server
from services.gateway.settings import GatewaySettings
from services.routing import server as routing_server
from tests.conftest import TODAY, seeded_database, start_inventory
from tests.gateway.world import FAST, seed_network
from tests.hardening.calls import Caller
from tests.support import auth
from tests.support.database import PgServer


@dataclass(repr=False)
class World:
    url: str
    caller: Caller


@pytest.fixture(scope="session")
def fuzz_url(pg: PgServer) -> str:
    return seeded_database(pg, "muster_fuzz")


@pytest.fixture(scope="session")
async def world(fuzz_url: str) -> AsyncIterator[World]:
    url = fuzz_url
    await seed_network(url)
    inventory = await start_inventory(url)
    routing = await routing_server.start(
        ServerSettings(service="routing", database_url=url, auth_public_keys=auth.PUBLIC_KEYS),
        inventory_address=inventory.address,
        solver_processes=1,
    )
    gateway = await gateway_server.start(
        GatewaySettings(
            inventory_address=inventory.address,
            routing_address=routing.address,
            auth_public_keys=auth.PUBLIC_KEYS,
            token=auth.gateway_token(),
        ),
        today=lambda: TODAY,
        timings=FAST,
    )
    caller = Caller(
        {
            "inventory": inventory.address,
            "routing": routing.address,
            "gateway": gateway.address,
        }
    )
    for _ in range(300):  # the gateway serves once it holds its first snapshot
        if all([await caller.serving(name) for name in caller.addresses]):
            break
        await asyncio.sleep(0.1)
    yield World(url, caller)
    await caller.close()
    await gateway.stop(0)
    await routing.stop(0)
    await inventory.stop(0)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.hardening.test_fuzz_rpcs import SENT

    if SENT:
        each = ", ".join(f"{service} {n}" for service, n in sorted(SENT.items()))
        terminalreporter.write_line(f"hardening: {sum(SENT.values())} fuzzed requests ({each})")
