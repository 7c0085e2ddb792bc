"""A unit of work for the routing schema; database errors translated as in inventory."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.inventory.service_layer.unit_of_work import translate
from services.routing.adapters.network_repository import NetworkRepository


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.session: AsyncSession
        self.network: NetworkRepository

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.network = NetworkRepository(self.session)
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

    async def commit(self) -> None:
        await self.session.commit()


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)
