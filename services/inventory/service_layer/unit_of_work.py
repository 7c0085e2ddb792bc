"""A unit of work: one transaction, its repository, and database errors translated.

Connection failures become `Unavailable`, serialization failures and deadlocks
`Conflict`; anything raised inside rolls the whole transaction back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
)

from services.common.errors import Conflict, Unavailable
from services.inventory.adapters.movement_repository import MovementRepository
from services.inventory.adapters.repository import Repository
from services.inventory.adapters.scan_store import ReferenceCache, ScanStore
from services.inventory.adapters.stock_queries import StockQueries

# SQLSTATE classes: 08 connection exception, 57P0x server shutting down.
_UNAVAILABLE_STATES = ("08", "57P")
_RETRYABLE_STATES = ("40001", "40P01")
# A unique index refused a row that a concurrent transaction inserted first.
_UNIQUE_VIOLATION = "23505"


def translate(error: exc.DBAPIError) -> Exception | None:
    """The domain error for a driver error that is not the caller's fault, if any."""
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    if error.connection_invalidated or sqlstate.startswith(_UNAVAILABLE_STATES):
        return Unavailable("the database is unreachable; try again shortly")
    if isinstance(error, exc.OperationalError) and not sqlstate:
        return Unavailable("the database is unreachable; try again shortly")
    if sqlstate in _RETRYABLE_STATES or sqlstate == _UNIQUE_VIOLATION:
        return Conflict("the change lost a race with another one; retry it")
    return None


class UnitOfWork:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cache: ReferenceCache | None = None
    ) -> None:
        self._sessions = sessions
        self._cache = cache or ReferenceCache()
        self.session: AsyncSession
        self.repo: Repository
        self.movements: MovementRepository
        self.queries: StockQueries

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.repo = Repository(self.session)
        self.movements = MovementRepository(self.session)
        self.queries = StockQueries(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        except exc.DBAPIError:
            pass
        finally:
            await self.session.close()
        if isinstance(error, exc.DBAPIError):
            translated = translate(error)
            if translated is not None:
                raise translated from error

    async def scan_store(self) -> ScanStore:
        """The scan hot path's Core statements, on this unit of work's connection."""
        return ScanStore(await self.session.connection(), self._cache)

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction: what happens inside is undone alone if it raises."""
        return self.session.begin_nested()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()


class UnitOfWorkFactory:
    """Makes units of work over one engine; passed down instead of a global."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._cache = ReferenceCache()

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self._cache)
