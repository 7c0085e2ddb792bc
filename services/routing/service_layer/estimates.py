"""Delivery-time estimates for readiness: how soon a category's standard could arrive.

For each template and destination, the time by which `needed` ready kits
could all arrive, each by its own fastest itinerary from the depot holding
it (capacities ignored: an estimate for a readiness measure, not a plan).
Itineraries are built once per (depot, destination, piece class).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.routing.domain.assignment import ReadyKit
from services.routing.domain.itineraries import ItineraryBuilder, Shipment
from services.routing.domain.network import Mode, Network, Place
from services.routing.domain.travel import TravelTimes


@dataclass(frozen=True)
class EstimateRequest:
    template_code: str
    destination: str
    needed: int


@dataclass(frozen=True)
class Estimate:
    template_code: str
    destination: str
    needed: int
    # When the last of the `needed` kits could arrive; None when too few are ready.
    arrive: datetime | None
    ready_kits: int
    fastest_modes: tuple[Mode, ...] = ()


def estimate(
    requests: Sequence[EstimateRequest],
    kits: Iterable[ReadyKit],
    places: dict[str, Place],
    now: datetime,
    network: Network,
    travel: TravelTimes,
    *,
    winter: bool = False,
) -> list[Estimate]:
    builder = ItineraryBuilder(network, travel)
    by_template: dict[str, list[ReadyKit]] = {}
    for kit in kits:
        by_template.setdefault(kit.template_code, []).append(kit)
    fastest: dict[tuple[str, str, float, float], tuple[datetime, tuple[Mode, ...]] | None] = {}
    answers = []
    for request in requests:
        candidates = by_template.get(request.template_code, [])
        arrivals: list[tuple[datetime, tuple[Mode, ...]]] = []
        for kit in candidates:
            key = (kit.depot_code, request.destination, kit.weight_kg, kit.heaviest_piece_kg)
            if key not in fastest:
                found = builder.build(
                    places[kit.depot_code],
                    places[request.destination],
                    now,
                    Shipment(kit.weight_kg, kit.heaviest_piece_kg),
                    winter=winter,
                )
                fastest[key] = (found[0].arrive, found[0].modes) if found else None
            best = fastest[key]
            if best is not None:
                arrivals.append(best)
        arrivals.sort(key=lambda a: a[0])
        if request.needed == 0:
            answers.append(
                Estimate(request.template_code, request.destination, 0, now, len(candidates))
            )
        elif len(arrivals) >= request.needed:
            last = arrivals[request.needed - 1]
            answers.append(
                Estimate(
                    request.template_code,
                    request.destination,
                    request.needed,
                    last[0],
                    len(candidates),
                    last[1],
                )
            )
        else:
            answers.append(
                Estimate(
                    request.template_code,
                    request.destination,
                    request.needed,
                    None,
                    len(candidates),
                )
            )
    return answers
