"""Stored plans: keeping them, reading them back, and committing one into inventory transfers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from services.common import calls
from services.common.errors import NotFound, PreconditionFailed, Unavailable
from services.common.paging import Page, PageOf
from services.routing.domain.assignment import Demand, ReadyKit
from services.routing.domain.network import Place
from services.routing.domain.plans import (
    PlannedKit,
    PlanState,
    StoredPlan,
    TransferSpec,
    receiving_depot,
    transfers_for,
)
from services.routing.service_layer.planning import Plan
from services.routing.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

MAX_NAMED = 10


class TransferPort(Protocol):
    """What committing needs from inventory."""

    async def ready_kits(self) -> list[ReadyKit]: ...

    async def open_transfer(self, spec: TransferSpec, reason: str) -> str:
        """Open (or replay, by the spec's request id) a transfer; its SSCC."""
        ...


def receiving_depots(
    demands: Sequence[Demand],
    places: Mapping[str, Place],
    depots: Mapping[str, Place],
    named: Mapping[str, str],
) -> dict[str, str]:
    """Per demand: the depot the request names, else the one nearest its destination."""
    return {
        d.demand_id: named.get(d.demand_id) or receiving_depot(places[d.destination], depots)
        for d in demands
    }


def to_store(
    found: Plan,
    plan_id: uuid.UUID,
    created: datetime,
    demands: Sequence[Demand],
    receiving: Mapping[str, str],
    document: Mapping[str, Any],
    created_by: str,
) -> StoredPlan:
    """What is kept of a plan just made: every kit that goes (on time or late), and where to."""
    result = found.result
    going = [c.option for c in result.chosen] + [u.late for u in result.unmet if u.late]
    return StoredPlan(
        plan_id=plan_id,
        created_at=created,
        status=result.status,
        state=PlanState.DRAFT,
        kits=tuple(
            PlannedKit(
                o.kit.label,
                o.kit.depot_code,
                receiving.get(o.slot.demand.demand_id, ""),
                o.slot.demand.demand_id,
                o.slot.index + 1,
            )
            for o in going
        ),
        document=document,
        destinations=tuple(sorted({d.destination for d in demands})),
        kits_on_time=len(result.chosen),
        kits_unmet=len(result.unmet),
        created_by=created_by,
    )


async def save_plan(plan: StoredPlan, uow: UnitOfWork) -> None:
    await uow.plans.add(plan)
    uow.audit.record("PlanDelivery", [str(plan.plan_id)])
    await uow.commit()


async def get_plan(plan_id: uuid.UUID, uow: UnitOfWork) -> StoredPlan:
    found = await uow.plans.get(plan_id)
    if found is None:
        raise NotFound("plan", str(plan_id))
    return found


async def list_plans(page: Page, uow: UnitOfWork) -> PageOf[StoredPlan]:
    return await uow.plans.page(page)


async def commit_plan(
    plan_id: uuid.UUID,
    inventory: TransferPort,
    uow_factory: UnitOfWorkFactory,
    now: Callable[[], datetime],
) -> StoredPlan:
    """Open the plan's transfers, each exactly once however often this runs.

    The plan's row is locked for the whole commit, so two commits of one plan
    take turns; the second finds it committed. Before anything is written,
    every kit still to move must be READY at its source, or nothing is
    opened. A transfer inventory refuses midway (a kit issued in the
    meantime) leaves the plan PARTIALLY_COMMITTED with the transfers opened
    so far recorded; committing again replays those and tries the rest.
    """
    async with uow_factory() as uow:
        plan = await uow.plans.get(plan_id, for_update=True)
        if plan is None:
            raise NotFound("plan", str(plan_id))
        if plan.state is PlanState.COMMITTED:
            return plan
        opened = await uow.plans.opened(plan_id)
        todo = [s for s in transfers_for(plan_id, plan.kits) if s.request_id not in opened]
        await _still_ready(todo, inventory)
        some_open = bool(opened)
        ssccs: list[str] = []
        who = calls.now_serving().actor
        try:
            for spec in todo:
                sscc = await inventory.open_transfer(spec, reason=f"delivery plan {plan_id}")
                await uow.plans.record_transfer(plan_id, spec, sscc, now())
                ssccs.append(sscc)
                some_open = True
        except (PreconditionFailed, Unavailable):
            if some_open:
                await uow.plans.set_state(plan_id, PlanState.PARTIALLY_COMMITTED, None, who)
                uow.audit.record("CommitPlan", [str(plan_id), *ssccs])
                await uow.commit()
            raise
        await uow.plans.set_state(plan_id, PlanState.COMMITTED, now(), who)
        uow.audit.record("CommitPlan", [str(plan_id), *ssccs])
        await uow.commit()
        committed = await uow.plans.get(plan_id)
    assert committed is not None
    return committed


async def _still_ready(todo: list[TransferSpec], inventory: TransferPort) -> None:
    if not todo:
        return
    ready = {k.label: k.depot_code for k in await inventory.ready_kits()}
    gone = [
        f"{label} (planned from {spec.from_depot})"
        for spec in todo
        for label in spec.kit_labels
        if ready.get(label) != spec.from_depot
    ]
    if gone:
        named = ", ".join(gone[:MAX_NAMED]) + (
            f" and {len(gone) - MAX_NAMED} more" if len(gone) > MAX_NAMED else ""
        )
        raise PreconditionFailed(
            "KITS_NO_LONGER_READY",
            f"{len(gone)} planned kit(s) are no longer READY at their source: {named}; "
            "nothing was committed — make a new plan",
            {"kits": ",".join(label.split(" ")[0] for label in gone[:MAX_NAMED])},
        )
