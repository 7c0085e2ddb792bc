"""Delivery-time estimates for readiness, on the seeded network."""

from datetime import datetime
from zoneinfo import ZoneInfo

from services.routing.domain.assignment import ReadyKit
from services.routing.domain.network import Mode, Place
from services.routing.seed.load import parse, read_network
from services.routing.service_layer.estimates import EstimateRequest, estimate

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PLACES = {
    "D-CORPS": Place("D-CORPS", 43.88, 125.3228, "changchun"),
    "D-SUB-YANBIAN": Place("D-SUB-YANBIAN", 42.8882, 129.5024, "yanbian"),
    "baicheng": Place("baicheng", 45.6175, 122.833, "baicheng"),
}


def _kit(depot: str, n: int) -> ReadyKit:
    return ReadyKit(f"{depot}/WATER-FLOOD/{n}", "WATER-FLOOD", depot, 800, 85)


def test_the_estimate_is_when_the_last_needed_kit_could_arrive() -> None:
    seed = parse(read_network())
    kits = [_kit("D-CORPS", 1), _kit("D-SUB-YANBIAN", 1)]
    one, two, three = estimate(
        [EstimateRequest("WATER-FLOOD", "baicheng", n) for n in (1, 2, 3)],
        kits,
        PLACES,
        NOW,
        seed.network(),
        seed.roads,
    )
    assert one.arrive is not None and two.arrive is not None
    assert one.arrive < two.arrive  # the second kit comes from farther away
    assert one.fastest_modes[0] is Mode.OWN_TRUCK
    assert three.arrive is None and three.ready_kits == 2  # only two are ready


def test_winter_estimates_are_later() -> None:
    seed = parse(read_network())
    request = [EstimateRequest("WATER-FLOOD", "baicheng", 1)]
    kits = [_kit("D-CORPS", 1)]
    [summer] = estimate(request, kits, PLACES, NOW, seed.network(), seed.roads)
    [winter] = estimate(request, kits, PLACES, NOW, seed.network(), seed.roads, winter=True)
    assert summer.arrive is not None and winter.arrive is not None
    assert summer.arrive < winter.arrive
