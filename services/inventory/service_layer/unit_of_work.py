"""The inventory's unit of work: its repositories and the scan store on one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
)

from services.common.unit_of_work import SqlUnitOfWork
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
        """The scan hot path's Core statements, on this unit of work's connection."""
        return ScanStore(await self.session.connection(), self._cache)

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction: what happens inside is undone alone if it raises."""
        return self.session.begin_nested()


class UnitOfWorkFactory:
    """Makes units of work over one engine; passed down instead of a global."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._cache = ReferenceCache()

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self._cache)
