"""The inventory's units of work: repositories on an ORM session, and the scan path's own.

Most commands run in a `UnitOfWork`: an ORM session and its repositories.
Scans run in a `ScanUnit`: one connection of the scan pool (ScanConnections)
whose driver transaction the scan store uses directly, with no Session,
identity map or flush in between (the scan path's CPU went mostly there).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
)
from sqlalchemy.pool import QueuePool

from services.common.errors import Unavailable
from services.common.unit_of_work import SqlUnitOfWork, translate_driver
from services.inventory.adapters.movement_repository import MovementRepository
from services.inventory.adapters.repository import Repository
from services.inventory.adapters.scan_connections import ScanConnections
from services.inventory.adapters.scan_store import ReferenceCache, ScanStore
from services.inventory.adapters.stock_queries import StockQueries


class UnitOfWork(SqlUnitOfWork):
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cache: ReferenceCache | None = None
    ) -> None:
        super().__init__(sessions)
        self._cache = cache or ReferenceCache()
        self.repo: Repository
        self.movements: MovementRepository
        self.queries: StockQueries

    def _open(self) -> None:
        self.repo = Repository(self.session)
        self.movements = MovementRepository(self.session)
        self.queries = StockQueries(self.session)

    async def scan_store(self) -> ScanStore:
        """The scan statements, on this unit of work's connection and transaction."""
        connection = await (await self.session.connection()).get_raw_connection()
        assert connection.driver_connection is not None
        return ScanStore(connection.driver_connection, self._cache)

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction: what happens inside is undone alone if it raises."""
        return self.session.begin_nested()


class ConnectionLost(Unavailable):
    """The connection broke under a unit of work: its outcome is not known."""


class ScanUnit:
    """One transaction on one connection of the scan pool, for recording scans.

    Errors are translated as in every unit of work (a lost connection is
    `Unavailable`, a deadlock `Conflict`); a connection that broke is not
    handed out again.
    """

    def __init__(self, connections: ScanConnections, cache: ReferenceCache) -> None:
        self._connections = connections
        self._cache = cache
        self._lease: AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]
        self._driver: psycopg.AsyncConnection[Any]
        self.store: ScanStore

    async def __aenter__(self) -> Self:
        self._lease = self._connections.connection()
        self._driver = await self._lease.__aenter__()
        self.store = ScanStore(self._driver, self._cache, pooled=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._driver.info.transaction_status != TransactionStatus.IDLE:
                await self._driver.rollback()
        except psycopg.Error:
            pass
        finally:
            await self._lease.__aexit__(None, None, None)
        if isinstance(error, psycopg.Error):
            if self._driver.broken:
                raise ConnectionLost("the database connection was lost") from error
            translated = translate_driver(error, self._driver)
            if translated is not None:
                raise translated from error

    async def commit(self) -> None:
        await self._driver.commit()

    async def rollback(self) -> None:
        await self._driver.rollback()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """What happens inside is undone alone if it raises."""
        try:
            async with self._driver.transaction():
                yield
        except BaseException:
            self.store.forget_rows()
            raise


class UnitOfWorkFactory:
    """Makes units of work over one engine; passed down instead of a global."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._cache = ReferenceCache()
        pool = engine.pool
        size = pool.size() if isinstance(pool, QueuePool) else 5
        self._scan_connections = ScanConnections(engine, size)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self._cache)

    def scans(self) -> ScanUnit:
        return ScanUnit(self._scan_connections, self._cache)
