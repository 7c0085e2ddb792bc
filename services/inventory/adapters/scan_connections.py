"""The scan path's own pool of driver connections, handed out without a ping.

SQLAlchemy's pool checks every connection it hands out with a round trip
(pool_pre_ping) and does its own bookkeeping around it: about 280 us of CPU a
checkout here, a fifth of a lone scan. Scans take their connections from this
small pool instead. A connection that broke is closed, and the idle ones
with it (as SQLAlchemy's pool does on a disconnect); the scans that met it
are recorded again on a fresh connection (record_scans retries once), which
is safe because a scan is applied once per scan_id.

Its connections also wait for PostgreSQL's replies more cheaply than psycopg
does (ScanConnection below).
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.abc import PQGen
from psycopg.pq import TransactionStatus
from psycopg.waiting import Ready, Wait
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.errors import Unavailable

CONNECT_TIMEOUT_S = 3
WAIT_TIMEOUT_S = 5.0
PSYCOPG_WAIT_INTERVAL_S = 0.1  # psycopg's own default
R = TypeVar("R")


class ScanConnection(psycopg.AsyncConnection[Any]):
    """A driver connection whose socket stays watched by the event loop while it is leased.

    psycopg waits for each reply by registering the socket with the loop,
    arming a timer, and undoing both when the reply came: on uvloop a libuv
    poll handle made and closed, two epoll_ctl calls and a getpid() per round
    trip, about a tenth of a lone scan's server CPU at five to eight round
    trips a scan. Here the first wait of a lease registers the socket and a
    wait is one future; the pool unregisters it when the connection comes
    back (`unwatch`). The loop's readiness is level-triggered, so nothing is
    missed without the timer. A wait to write (pipeline mode's, or a large
    message's) polls the socket, which nearly always takes it at once, as
    psycopg does; when it does not, and for a wait with a deadline, the rest
    of the wait is psycopg's own. A wait that fails or is cancelled
    unregisters the socket and leaves the connection to the pool, which closes
    one whose query was cut short.
    """

    _loop: asyncio.AbstractEventLoop | None = None
    _watched_fd = -1
    _waiter: asyncio.Future[int] | None = None

    async def wait(
        self,
        gen: PQGen[R],
        interval: float = PSYCOPG_WAIT_INTERVAL_S,
        timeout: float | None = None,  # noqa: ASYNC109 - psycopg's signature
    ) -> R:
        if timeout is not None:
            return await super().wait(gen, interval, timeout)
        try:
            state = next(gen)
            while True:
                if state == Wait.R:
                    ready = await self._readable()
                elif not (ready := _ready_now(self.pgconn.socket, state)):
                    break  # the socket's send buffer is full: psycopg's own wait
                state = gen.send(ready)
        except StopIteration as done:
            result: R = done.value
            return result
        except BaseException:
            self.unwatch()
            raise
        self.unwatch()
        return await super().wait(_resumed(state, gen), interval)

    def _readable(self) -> asyncio.Future[int]:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._watched_fd = self.pgconn.socket
            self._loop.add_reader(self._watched_fd, self._on_readable)
        self._waiter = self._loop.create_future()
        return self._waiter

    def _on_readable(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None:  # nobody waits (e.g. the server closed the connection): stop watching
            self.unwatch()
        elif not waiter.done():
            waiter.set_result(Ready.R)

    def unwatch(self) -> None:
        """Stop watching the socket (before the connection idles, or is closed)."""
        if self._loop is not None:
            self._loop.remove_reader(self._watched_fd)
            self._loop, self._watched_fd, self._waiter = None, -1, None


def _ready_now(fd: int, state: Wait) -> int:
    """What the socket is ready for right now (it nearly always takes a write at once)."""
    poll = select.poll()
    poll.register(fd, (select.POLLIN if state & Wait.R else 0) | select.POLLOUT)
    ready = 0
    for _, events in poll.poll(0):
        ready |= Ready.R if events & select.POLLIN else 0
        ready |= Ready.W if events & select.POLLOUT else 0
    return ready


def _resumed(state: Wait, gen: PQGen[R]) -> PQGen[R]:
    """A query generator that already yielded `state`, as a fresh one yielding it first."""
    while True:
        ready = yield state
        try:
            state = gen.send(ready)
        except StopIteration as done:
            result: R = done.value
            return result


class ScanConnections:
    """At most `size` connections to the engine's database; emptied with the engine's pool."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._slots = asyncio.BoundedSemaphore(size)
        self._idle: list[ScanConnection] = []
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

    async def _connect(self) -> ScanConnection:
        try:
            return await ScanConnection.connect(self._dsn, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as error:
            raise Unavailable("the database is unreachable; try again shortly") from error

    def _put_back(self, conn: ScanConnection) -> None:
        conn.unwatch()
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
