"""The routing service's unit of work: the network and plan repositories on one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.common.unit_of_work import SqlUnitOfWork
from services.routing.adapters.audit_repository import AuditRepository
from services.routing.adapters.network_repository import NetworkRepository
from services.routing.adapters.plan_repository import PlanRepository


class UnitOfWork(SqlUnitOfWork):
    network: NetworkRepository
    plans: PlanRepository
    audit: AuditRepository

    def _open(self) -> None:
        self.network = NetworkRepository(self.session)
        self.plans = PlanRepository(self.session)
        self.audit = AuditRepository(self.session)


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)
