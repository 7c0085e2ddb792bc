"""The scan path's own pool of driver connections, handed out without a ping.

SQLAlchemy's pool checks every connection it hands out with a round trip
(pool_pre_ping) and does its own bookkeeping around it: about 280 us of CPU a
checkout here, a fifth of a lone scan. Scans take their connections from this
small pool instead. A connection that broke is closed, and the idle ones
with it (as SQLAlchemy's pool does on a disconnect); the scans that met it
are recorded again on a fresh connection (record_scans retries once), which
is safe because a scan is applied once per scan_id.

The connections are in autocommit mode and psycopg prepares nothing on them:
the scan statements (ScanStore, pooled) open the transaction with BEGIN in the
round trip of its first statement, a batch commits in that of its write, and
each statement is prepared by name on first use. (psycopg's own prepared
statements would not do: it drops every prepared statement of a connection,
ours too, at each rollback.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.errors import Unavailable

CONNECT_TIMEOUT_S = 3
WAIT_TIMEOUT_S = 5.0


class ScanConnections:
    """At most `size` connections to the engine's database; emptied with the engine's pool."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._slots = asyncio.BoundedSemaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        event.listen(engine.sync_engine, "engine_disposed", lambda _: self.close())

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with asyncio.timeout(WAIT_TIMEOUT_S):
                await self._slots.acquire()
        except TimeoutError:
            raise Unavailable("every database connection is busy; try again shortly") from None
        try:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            finally:
                self._put_back(conn)
        finally:
            self._slots.release()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            return await psycopg.AsyncConnection.connect(
                self._dsn,
                connect_timeout=CONNECT_TIMEOUT_S,
                autocommit=True,
                prepare_threshold=None,
            )
        except psycopg.OperationalError as error:
            raise Unavailable("the database is unreachable; try again shortly") from error

    def _put_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        usable = not (conn.broken or conn.closed) and (
            conn.info.transaction_status == TransactionStatus.IDLE
        )
        if usable:
            self._idle.append(conn)
            return
        if not conn.closed:
            conn.pgconn.finish()
        if conn.broken:  # the server went away: the idle ones are likely dead too
            self.close()

    def close(self) -> None:
        """Close the idle connections (as disposing the engine empties its pool)."""
        while self._idle:
            self._idle.pop().pgconn.finish()
