"""The scan pool's connections wait for replies with their socket watched only while leased."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from services.common.database import async_engine
from services.inventory.adapters.scan_connections import ScanConnections


@pytest.fixture
async def connections(database_url: str) -> AsyncIterator[ScanConnections]:
    engine = async_engine(database_url)
    yield ScanConnections(engine, 1)
    await engine.dispose()


async def _one(connections: ScanConnections, sql: str, *params: object) -> object:
    async with connections.connection() as conn:
        cur = await conn.execute(sql, params or None)
        row = await cur.fetchone()
        await conn.commit()
        assert row is not None
        return row[0]


async def test_replies_arrive_and_an_idle_connection_leaves_nothing_watched(
    connections: ScanConnections,
) -> None:
    async with connections.connection() as conn:
        for n in range(5):  # one transaction, several round trips on the watched socket
            cur = await conn.execute("SELECT %s::int * 2", (n,))
            assert await cur.fetchone() == (2 * n,)
        await conn.commit()
        socket = conn.pgconn.socket
    assert not asyncio.get_running_loop().remove_reader(socket)  # nothing left registered
    assert await _one(connections, "SELECT 'again'") == "again"  # the same connection, reused


async def test_a_message_too_big_to_send_at_once_goes_through_psycopg_s_own_wait(
    connections: ScanConnections,
) -> None:
    big = "x" * 20_000_000  # more than a socket buffer: the driver waits to write
    assert await _one(connections, "SELECT length(%s)", big) == len(big)
    assert await _one(connections, "SELECT 1") == 1


async def test_a_query_cut_short_by_a_cancelled_call_is_not_handed_out_again(
    connections: ScanConnections,
) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.2):
            async with connections.connection() as conn:
                await conn.execute("SELECT pg_sleep(5)")
    async with asyncio.timeout(2):  # not stuck behind the sleep: a fresh connection
        assert await _one(connections, "SELECT 'fresh'") == "fresh"
