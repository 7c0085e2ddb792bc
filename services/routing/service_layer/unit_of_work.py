"""The routing service's unit of work: the network repository on one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.common.unit_of_work import SqlUnitOfWork
from services.routing.adapters.network_repository import NetworkRepository


class UnitOfWork(SqlUnitOfWork):
    network: NetworkRepository

    def _open(self) -> None:
        self.network = NetworkRepository(self.session)


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)
