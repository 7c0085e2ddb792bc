"""The inventory's units of work: repositories on an ORM session, and the scan path's own.

Most commands run in a `UnitOfWork`: an ORM session and its repositories.
Scans run in a `ScanUnit`: one pooled connection whose driver transaction the
scan store uses directly, with no Session, identity map or flush in between
(the scan path's CPU went mostly there).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
)

from services.common.unit_of_work import SqlUnitOfWork, translate_driver
from services.inventory.adapters.movement_repository import MovementRepository
from services.inventory.adapters.repository import Repository
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


class ScanUnit:
    """One transaction on one pooled connection, for recording scans.

    Errors are translated as in every unit of work (a lost connection is
    `Unavailable`, a deadlock `Conflict`), and a connection that broke is
    dropped from the pool rather than handed to the next caller.
    """

    def __init__(self, engine: AsyncEngine, cache: ReferenceCache) -> None:
        self._engine = engine
        self._cache = cache
        self._conn: AsyncConnection
        self._driver: psycopg.AsyncConnection[Any]
        self.store: ScanStore

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        try:
            raw = await self._conn.get_raw_connection()
        except BaseException:
            await self._conn.close()
            raise
        assert raw.driver_connection is not None
        self._driver = raw.driver_connection
        self.store = ScanStore(self._driver, self._cache)
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
            if self._driver.broken or self._driver.closed:
                await self._conn.invalidate()
            await self._conn.close()
        if isinstance(error, psycopg.Error):
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

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self._cache)

    def scans(self) -> ScanUnit:
        return ScanUnit(self.engine, self._cache)
