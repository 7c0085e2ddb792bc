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
import functools
import re
import weakref
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
# How the pool's connections are opened (see run_pooled).
POOLED: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}


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
                self._dsn, connect_timeout=CONNECT_TIMEOUT_S, **POOLED
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


# The statements each pooled connection has prepared (run_pooled), by name.
_PREPARED: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], set[str]] = (
    weakref.WeakKeyDictionary()
)
_NAMES: dict[str, str] = {}


async def run_pooled(
    cursor: psycopg.AsyncCursor[Any],
    sql: str,
    params: dict[str, Any],
    *,
    commit: bool = False,
) -> psycopg.AsyncCursor[Any]:
    """`sql` run on a client cursor (AsyncClientCursor: it binds values itself) of a
    pooled connection, the cursor left on its result; with
    `commit`, the transaction committed after it. One round trip whatever else it does.

    One simple query, the values bound here, that runs `sql` as a statement the
    connection prepared on first use (planned as psycopg's prepared ones are),
    after a BEGIN when no transaction is open yet, and before the COMMIT. Sent
    by psycopg instead, a BEGIN is a round trip of its own, and a pipeline that
    sends it with the statement costs the client twice the CPU (some 300 us
    more a transaction, a third of a lone scan's).
    """
    conn = cursor.connection
    name, text, names = _prepared_form(sql)
    prepared = _PREPARED.setdefault(conn, set())
    if name not in prepared:
        try:
            await cursor.execute(f"PREPARE {name} AS {text}")  # it outlives a rollback
        except BaseException:
            # Cancelled or failed on the way, the statement may or may not exist now:
            # a connection whose statements are not known is not used again.
            conn.pgconn.finish()
            raise
        prepared.add(name)
    begin = conn.pgconn.transaction_status == TransactionStatus.IDLE
    query = f"EXECUTE {name}({', '.join(['%s'] * len(names))})" if names else f"EXECUTE {name}"
    query = f"{'BEGIN; ' if begin else ''}{query}{'; COMMIT' if commit else ''}"
    try:
        await cursor.execute(query, [params[n] for n in names])
    except psycopg.errors.InvalidSqlStatementName:
        _PREPARED.pop(conn, None)  # deallocated behind our back: prepared again next time
        raise
    if begin:
        cursor.nextset()  # from BEGIN's result to the statement's
    return cursor


@functools.cache
def _prepared_form(sql: str) -> tuple[str, str, tuple[str, ...]]:
    """A statement's name, its text with $1, $2... for its %(name)s parameters, and
    their names in that order (a name used twice is one parameter)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    text = re.sub(r"%\((\w+)\)s", number, sql)
    name = _NAMES.setdefault(sql, f"muster_scan_{len(_NAMES) + 1}")
    return name, text, tuple(names)
