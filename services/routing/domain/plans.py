"""Stored plans and what committing one means: the transfers it opens in inventory.

A plan is kept as made (its rendering, opaque here) with the kits it sends and
where each is taken in. Committing groups the kits by (source depot,
receiving depot) into one transfer each, in a fixed order, each with an
idempotency key derived from the plan, so a commit repeated or resumed after
a failure opens every transfer exactly once.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.routing.domain.network import Place
from services.routing.domain.travel import great_circle_km


class PlanState(enum.StrEnum):
    DRAFT = "DRAFT"
    PARTIALLY_COMMITTED = "PARTIALLY_COMMITTED"
    COMMITTED = "COMMITTED"


@dataclass(frozen=True)
class PlannedKit:
    kit_label: str
    source_depot: str
    receiving_depot: str
    demand_id: str
    slot: int


@dataclass(frozen=True)
class TransferSpec:
    from_depot: str
    to_depot: str
    kit_labels: tuple[str, ...]
    request_id: str  # the key inventory knows this transfer by


@dataclass(frozen=True)
class OpenedTransfer:
    from_depot: str
    to_depot: str
    kit_labels: tuple[str, ...]
    sscc: str


@dataclass(frozen=True)
class StoredPlan:
    plan_id: uuid.UUID
    created_at: datetime
    status: str
    state: PlanState
    kits: tuple[PlannedKit, ...]
    # The API's rendering of the plan, kept as made; read back by GetPlan.
    document: Mapping[str, Any]
    transfers: tuple[OpenedTransfer, ...] = ()
    committed_at: datetime | None = None
    destinations: tuple[str, ...] = ()
    kits_on_time: int = 0
    kits_unmet: int = 0
    created_by: str = ""
    committed_by: str = ""


def receiving_depot(destination: Place, depots: Mapping[str, Place]) -> str:
    """The depot in the destination's city nearest to it, else the nearest depot."""
    if destination.code in depots:
        return destination.code
    same_city = [d for d in depots.values() if destination.city and d.city == destination.city]
    candidates = same_city or list(depots.values())
    if not candidates:
        return ""
    return min(candidates, key=lambda d: (great_circle_km(destination, d), d.code)).code


def transfers_for(plan_id: uuid.UUID, kits: Iterable[PlannedKit]) -> list[TransferSpec]:
    """One transfer per (source, receiving depot), kits already there left out."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for kit in kits:
        if kit.receiving_depot and kit.receiving_depot != kit.source_depot:
            groups[(kit.source_depot, kit.receiving_depot)].append(kit.kit_label)
    return [
        TransferSpec(
            source,
            target,
            tuple(sorted(labels)),
            str(uuid.uuid5(plan_id, f"transfer:{source}>{target}")),
        )
        for (source, target), labels in sorted(groups.items())
    ]
