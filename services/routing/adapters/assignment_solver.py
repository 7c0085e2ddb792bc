"""The assignment model on OR-Tools CP-SAT, solved lexicographically.

One boolean per option; at most one option per slot, each kit once, payload
caps per flight/train departure and per depot's own trucks. Three solves in
turn, each keeping the previous optimum as a constraint (and the previous
answer as a hint): 1. most kits on time, a higher priority outweighing every
lower one; 2. most kits served late, then least lateness; 3. least cost.
Weighted sums in one solve would overflow CP-SAT's 64-bit coefficients.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ortools.sat.python import cp_model

from services.routing.domain.assignment import (
    AssignmentResult,
    Chosen,
    Limits,
    Option,
    Slot,
    Unmet,
    UnmetReason,
    explain,
    uses_own_truck_from,
)

MAX_PRIORITY = 5
# One more on-time kit of priority p outweighs any number (< 1000) of lower-priority ones.
PRIORITY_STEP = 1_000
LATE_KIT = 1_000_000  # serving a kit late beats not serving it, at any lateness under ~2 years


def _on_time_weight(option: Option) -> int:
    if not option.on_time:
        return 0
    p = min(max(option.slot.demand.priority, 1), MAX_PRIORITY)
    return PRIORITY_STEP ** (MAX_PRIORITY - p)


def _late_weight(option: Option) -> int:
    return 0 if option.on_time else LATE_KIT - option.lateness_minutes


def _kg(option: Option) -> int:
    return math.ceil(option.kit.weight_kg)


class _Model:
    def __init__(self, options: Sequence[Option], limits: Limits) -> None:
        self.options = options
        self.model = cp_model.CpModel()
        self.pick = [self.model.new_bool_var(f"o{i}") for i in range(len(options))]
        groups: dict[str, list[int]] = defaultdict(list)
        for i, option in enumerate(options):
            groups[f"slot:{option.slot.key}"].append(i)
            groups[f"kit:{option.kit.label}"].append(i)
        for group in groups.values():
            self.model.add_at_most_one(self.pick[i] for i in group)
        self._caps(limits)

    def _caps(self, limits: Limits) -> None:
        by_departure: dict[str, list[int]] = defaultdict(list)
        by_depot: dict[str, list[int]] = defaultdict(list)
        for i, option in enumerate(self.options):
            for leg in option.itinerary.scheduled_legs:
                by_departure[leg.capacity_key].append(i)
            depot = uses_own_truck_from(option)
            if depot is not None:
                by_depot[depot].append(i)
        for caps, groups in (
            (limits.scheduled_payload_kg, by_departure),
            (limits.own_truck_payload_kg, by_depot),
        ):
            for key, group in groups.items():
                if key in caps:
                    load = sum(_kg(self.options[i]) * self.pick[i] for i in group)
                    self.model.add(load <= math.floor(caps[key]))

    def score(self, weight: Callable[[Option], int]) -> Any:
        return cp_model.LinearExpr.weighted_sum(self.pick, [weight(o) for o in self.options])


def solve(
    slots: Sequence[Slot],
    options: Sequence[Option],
    limits: Limits,
    *,
    time_limit_s: float,
    workers: int = 2,
) -> AssignmentResult:
    started = time.monotonic()
    m = _Model(options, limits)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    stages: list[tuple[Callable[[Option], int], bool, float]] = [
        (_on_time_weight, True, 0.5),
        (_late_weight, True, 0.25),
        (lambda o: math.ceil(o.itinerary.cost), False, 0.25),
    ]
    status: Any = cp_model.UNKNOWN
    best: list[int] | None = None
    for weight, maximise, share in stages:
        goal = m.score(weight)
        if maximise:
            m.model.maximize(goal)
        else:
            m.model.minimize(goal)
        solver.parameters.max_time_in_seconds = max(0.05, time_limit_s * share)
        stage_status = solver.solve(m.model)
        if stage_status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break  # keep the previous stage's answer
        status = stage_status if status in (cp_model.UNKNOWN, cp_model.OPTIMAL) else status
        best = [solver.value(v) for v in m.pick]
        reached = int(solver.objective_value)
        m.model.add(goal >= reached if maximise else goal <= reached)
        m.model.clear_hints()
        for var, value in zip(m.pick, best, strict=True):
            m.model.add_hint(var, value)
    chosen = {o.slot: o for o, v in zip(options, best or [], strict=False) if v}
    used = {o.kit.label for o in chosen.values()}
    unmet = tuple(
        found
        for slot in slots
        if (found := explain(slot, options, chosen.get(slot), used)) is not None
    )
    if best is None:  # nothing was chosen: no capacity was given to anyone
        unmet = tuple(_out_of_time(u) for u in unmet)
    return AssignmentResult(
        chosen=tuple(Chosen(o) for o in chosen.values() if o.on_time),
        unmet=unmet,
        status=solver.status_name(status) if best is not None else "NO_SOLUTION",
        objective=float(sum(math.ceil(o.itinerary.cost) for o in chosen.values())),
        wall_seconds=round(time.monotonic() - started, 3),
    )


def _out_of_time(unmet: Unmet) -> Unmet:
    """With no plan found, a slot that had an on-time way lacked time, not capacity."""
    if unmet.reason is UnmetReason.NO_CAPACITY:
        return replace(unmet, reason=UnmetReason.OUT_OF_TIME)
    return unmet
