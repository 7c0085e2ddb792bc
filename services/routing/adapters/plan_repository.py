"""Stored plans in and out, as domain values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import FieldViolation, InvalidArgument
from services.common.paging import Page, PageOf
from services.routing.adapters.orm import PlanKitRow, PlanRow, PlanTransferRow
from services.routing.domain.plans import (
    OpenedTransfer,
    PlannedKit,
    PlanState,
    StoredPlan,
    TransferSpec,
)


def _key(row: PlanRow) -> str:
    return f"{row.created_at.isoformat()}|{row.plan_id}"


@dataclass
class PlanRepository:
    session: AsyncSession

    async def add(self, plan: StoredPlan) -> None:
        self.session.add(
            PlanRow(
                plan_id=plan.plan_id,
                created_at=plan.created_at,
                status=plan.status,
                state=plan.state,
                document=dict(plan.document),
                destinations=list(plan.destinations),
                kits_on_time=plan.kits_on_time,
                kits_unmet=plan.kits_unmet,
                committed_at=None,
                created_by=plan.created_by,
            )
        )
        await self.session.flush()  # the plan's row before the rows that refer to it
        self.session.add_all(
            PlanKitRow(
                plan_id=plan.plan_id,
                kit_label=k.kit_label,
                source_depot=k.source_depot,
                receiving_depot=k.receiving_depot,
                demand_id=k.demand_id,
                slot=k.slot,
            )
            for k in plan.kits
        )
        await self.session.flush()

    async def get(self, plan_id: uuid.UUID, *, for_update: bool = False) -> StoredPlan | None:
        query = select(PlanRow).where(PlanRow.plan_id == plan_id)
        if for_update:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        if row is None:
            return None
        kits = await self.session.scalars(
            select(PlanKitRow)
            .where(PlanKitRow.plan_id == plan_id)
            .order_by(PlanKitRow.demand_id, PlanKitRow.slot)
        )
        return self._plan(row, list(kits), await self.opened(plan_id))

    async def opened(self, plan_id: uuid.UUID) -> dict[str, OpenedTransfer]:
        """Transfers opened so far, by their idempotency key."""
        rows = await self.session.scalars(
            select(PlanTransferRow)
            .where(PlanTransferRow.plan_id == plan_id)
            .order_by(PlanTransferRow.from_depot, PlanTransferRow.to_depot)
        )
        return {
            r.request_id: OpenedTransfer(r.from_depot, r.to_depot, tuple(r.kit_labels), r.sscc)
            for r in rows
        }

    async def record_transfer(
        self, plan_id: uuid.UUID, spec: TransferSpec, sscc: str, at: datetime
    ) -> None:
        self.session.add(
            PlanTransferRow(
                plan_id=plan_id,
                request_id=spec.request_id,
                from_depot=spec.from_depot,
                to_depot=spec.to_depot,
                kit_labels=list(spec.kit_labels),
                sscc=sscc,
                created_at=at,
            )
        )
        await self.session.flush()

    async def set_state(
        self,
        plan_id: uuid.UUID,
        state: PlanState,
        committed_at: datetime | None,
        committed_by: str,
    ) -> None:
        row = await self.session.get_one(PlanRow, plan_id)
        row.state = state
        row.committed_at = committed_at
        row.committed_by = committed_by
        await self.session.flush()

    async def page(self, page: Page) -> PageOf[StoredPlan]:
        """Newest first, keyset on (created_at, plan_id)."""
        query = select(PlanRow).order_by(PlanRow.created_at.desc(), PlanRow.plan_id.desc())
        if page.after_key:
            stamp, _, plan_id = page.after_key.partition("|")
            try:
                after = (datetime.fromisoformat(stamp), uuid.UUID(plan_id))
            except ValueError:
                problem = "is not a token this list of plans gave out; start without one"
                raise InvalidArgument([FieldViolation("page_token", problem)]) from None
            query = query.where(tuple_(PlanRow.created_at, PlanRow.plan_id) < after)
        rows = list(await self.session.scalars(query.limit(page.size + 1)))
        more = len(rows) > page.size
        rows = rows[: page.size]
        plans = [self._plan(r, [], {}) for r in rows]
        return PageOf(plans, _key(rows[-1]) if more and rows else None)

    @staticmethod
    def _plan(
        row: PlanRow, kits: list[PlanKitRow], opened: dict[str, OpenedTransfer]
    ) -> StoredPlan:
        return StoredPlan(
            plan_id=row.plan_id,
            created_at=row.created_at,
            status=row.status,
            state=row.state,
            kits=tuple(
                PlannedKit(k.kit_label, k.source_depot, k.receiving_depot, k.demand_id, k.slot)
                for k in kits
            ),
            document=row.document,
            transfers=tuple(opened.values()),
            committed_at=row.committed_at,
            destinations=tuple(row.destinations),
            kits_on_time=row.kits_on_time,
            kits_unmet=row.kits_unmet,
            created_by=row.created_by,
            committed_by=row.committed_by,
        )
