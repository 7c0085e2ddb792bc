"""Planning on the seeded Jilin network: itineraries for every ready kit, then the assignment."""

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.routing.domain.assignment import Demand, ReadyKit, UnmetReason
from services.routing.domain.network import Mode, Place
from services.routing.seed.load import parse, read_network
from services.routing.service_layer.planning import PlanInput, plan

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=TZ)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seeded():
    seed = parse(read_network())
    depots = json.loads((ROOT / "services/inventory/seed/jilin.json").read_text())["depots"]
    places = {d["code"]: Place(d["code"], d["latitude"], d["longitude"], d["city"]) for d in depots}
    places["songyuan"] = Place("songyuan", 45.129, 124.8277, "songyuan")
    places["baicheng"] = Place("baicheng", 45.6175, 122.833, "baicheng")
    return seed, places


def _kits(depot: str, count: int) -> tuple[ReadyKit, ...]:
    return tuple(
        ReadyKit(f"{depot}/WATER-FLOOD/{i}", "WATER-FLOOD", depot, 600, 85)
        for i in range(1, count + 1)
    )


def test_a_flood_in_two_cities_is_planned_from_ready_kits_and_the_rest_explained(seeded):
    seed, places = seeded
    kits = _kits("D-CORPS", 3) + _kits("D-SUB-YANBIAN", 2)
    demands = (
        Demand("songyuan", "songyuan", "WATER-FLOOD", 4, NOW + timedelta(hours=12)),
        Demand("baicheng", "baicheng", "WATER-FLOOD", 2, NOW + timedelta(hours=8)),
    )
    request = PlanInput(demands, places, kits, NOW, winter=True, time_limit_s=3)
    found = plan(request, seed.network(), seed.roads)
    assert found.result.status == "OPTIMAL"
    ready = {k.label for k in kits}
    chosen = [c.option for c in found.result.chosen]
    assert chosen and all(o.kit.label in ready for o in chosen)
    assert len({o.kit.label for o in chosen}) == len(chosen)  # each kit once
    assert all(o.itinerary.arrive <= o.slot.demand.deadline for o in chosen)
    assert all(o.itinerary.source == o.kit.depot_code for o in chosen)
    served = len(chosen) + len(found.result.unmet)
    assert served == 6  # every slot is either served on time or explained
    assert all(u.reason in UnmetReason for u in found.result.unmet)


def test_an_impossible_deadline_is_too_far_never_dropped(seeded):
    seed, places = seeded
    demand = Demand("baicheng", "baicheng", "WATER-FLOOD", 1, NOW + timedelta(minutes=30))
    request = PlanInput((demand,), places, _kits("D-CORPS", 1), NOW, time_limit_s=2)
    found = plan(request, seed.network(), seed.roads)
    [unmet] = found.result.unmet
    assert unmet.reason is UnmetReason.TOO_FAR
    assert unmet.late is not None  # it still goes, late, and says when it arrives


def test_rail_is_used_when_only_rail_is_allowed_and_its_piece_limit_fits(seeded):
    seed, places = seeded
    demand = Demand("songyuan", "songyuan", "WATER-FLOOD", 1, NOW + timedelta(hours=12))
    small = (ReadyKit("D-CORPS/SMALL/1", "WATER-FLOOD", "D-CORPS", 25, 25),)
    only_rail = PlanInput(
        (demand,), places, small, NOW, modes=frozenset({Mode.RAIL}), time_limit_s=2
    )
    found = plan(only_rail, seed.network(), seed.roads)
    [chosen] = found.result.chosen
    legs = chosen.option.itinerary.legs
    assert [leg.mode for leg in legs] == [Mode.OWN_TRUCK, Mode.RAIL, Mode.PARTNER_TRUCK]
    assert legs[1].service_code == "MXR401"  # the 08:40 HSR express; cut-off 90 min is met
    heavy = (ReadyKit("D-CORPS/HEAVY/1", "WATER-FLOOD", "D-CORPS", 600, 85),)
    found = plan(
        PlanInput((demand,), places, heavy, NOW, modes=frozenset({Mode.RAIL}), time_limit_s=2),
        seed.network(),
        seed.roads,
    )
    # 85 kg pieces exceed the express 30 kg limit; the overnight freight misses the deadline.
    assert found.result.chosen == ()
    assert found.result.unmet[0].reason is UnmetReason.TOO_FAR
