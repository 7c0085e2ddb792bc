"""Which ready kit serves which demand, by which itinerary: the problem and its answer.

A demand asks for `count` kits of a template at a destination by a deadline,
with a priority (1 first). Each kit needed is a slot. An option is one ready
kit with one itinerary from its depot to the slot's destination. The solver
picks at most one option per slot and uses each kit at most once, within the
payload of every flight and train departure and of each depot's own trucks,
lexicographically: kits on time by priority first, then least lateness, then
least cost. Every slot not served on time is reported with its reason.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.routing.domain.itineraries import Itinerary
from services.routing.domain.network import Mode


@dataclass(frozen=True)
class Demand:
    demand_id: str
    destination: str
    template_code: str
    count: int
    deadline: datetime
    priority: int = 1


@dataclass(frozen=True)
class ReadyKit:
    label: str
    template_code: str
    depot_code: str
    weight_kg: float
    heaviest_piece_kg: float
    volume_m3: float = 0.0


@dataclass(frozen=True)
class Slot:
    demand: Demand
    index: int  # 0 .. count-1

    @property
    def key(self) -> str:
        return f"{self.demand.demand_id}#{self.index + 1}"


@dataclass(frozen=True)
class Option:
    slot: Slot
    kit: ReadyKit
    itinerary: Itinerary

    @property
    def on_time(self) -> bool:
        return self.itinerary.arrive <= self.slot.demand.deadline

    @property
    def lateness_minutes(self) -> int:
        late = (self.itinerary.arrive - self.slot.demand.deadline).total_seconds() / 60
        return max(0, int(late))


class UnmetReason(enum.StrEnum):
    NO_READY_KIT = "NO_READY_KIT"  # no ready kit of the template anywhere (or all taken first)
    NO_CAPACITY = "NO_CAPACITY"  # an on-time way existed, but its capacity went to others
    TOO_FAR = "TOO_FAR"  # no way arrives by the deadline
    OUT_OF_TIME = "OUT_OF_TIME"  # an on-time way existed, but the solver found no plan in time


@dataclass(frozen=True)
class Chosen:
    option: Option


@dataclass(frozen=True)
class Unmet:
    slot: Slot
    reason: UnmetReason
    # When a kit still goes, late: the option chosen.
    late: Option | None = None


@dataclass(frozen=True)
class Limits:
    """Payload caps the choice must respect."""

    # capacity_key of a flight or train departure -> payload kg
    scheduled_payload_kg: dict[str, float] = field(default_factory=dict)
    # depot code -> total payload kg of its own trucks
    own_truck_payload_kg: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AssignmentResult:
    chosen: tuple[Chosen, ...]
    unmet: tuple[Unmet, ...]
    status: str  # OPTIMAL, FEASIBLE, or the solver's word for a timeout without a plan
    objective: float = 0.0
    wall_seconds: float = 0.0


def slots_of(demands: Sequence[Demand]) -> list[Slot]:
    return [Slot(d, i) for d in sorted(demands, key=lambda d: d.priority) for i in range(d.count)]


def uses_own_truck_from(option: Option) -> str | None:
    first = option.itinerary.legs[0]
    return option.kit.depot_code if first.mode is Mode.OWN_TRUCK else None


def explain(
    slot: Slot, options: Sequence[Option], chosen: Option | None, kits_used: set[str]
) -> Unmet | None:
    """Why a slot is not served on time (None when it is).

    No on-time way at all is TOO_FAR; on-time ways whose kits all went to
    other demands (or none ready) is NO_READY_KIT; on-time ways with a free
    kit but no room on the truck, flight or train is NO_CAPACITY.
    """
    if chosen is not None and chosen.on_time:
        return None
    on_time = [o for o in options if o.slot == slot and o.on_time]
    if not any(o.slot == slot for o in options):
        return Unmet(slot, UnmetReason.NO_READY_KIT, chosen)
    if not on_time:
        return Unmet(slot, UnmetReason.TOO_FAR, chosen)
    mine = chosen.kit.label if chosen is not None else None
    if all(o.kit.label in kits_used and o.kit.label != mine for o in on_time):
        return Unmet(slot, UnmetReason.NO_READY_KIT, chosen)
    return Unmet(slot, UnmetReason.NO_CAPACITY, chosen)
