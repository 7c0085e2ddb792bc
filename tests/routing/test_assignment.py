"""The assignment model on small cases with known answers."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.routing.adapters.assignment_solver import solve
from services.routing.domain.assignment import (
    Demand,
    Limits,
    Option,
    ReadyKit,
    UnmetReason,
    slots_of,
)
from services.routing.domain.itineraries import Itinerary, Leg
from services.routing.domain.network import Mode

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=TZ)


def _truck(source: str, to: str, hours: float, cost: float = 100) -> Itinerary:
    leg = Leg(Mode.OWN_TRUCK, source, to, T0, T0 + timedelta(hours=hours))
    return Itinerary(source, to, (leg,), cost)


def _flight(source: str, to: str, hours: float, key: str, payload: float) -> Itinerary:
    legs = (
        Leg(Mode.OWN_TRUCK, source, "CGQ", T0, T0 + timedelta(hours=1)),
        Leg(
            Mode.AIR,
            "CGQ",
            "YSQ",
            T0 + timedelta(hours=3),
            T0 + timedelta(hours=hours - 1),
            "AIR",
            "MX1",
            capacity_key=key,
            payload_kg=payload,
        ),
        Leg(
            Mode.PARTNER_TRUCK,
            "YSQ",
            to,
            T0 + timedelta(hours=hours - 1),
            T0 + timedelta(hours=hours),
        ),
    )
    return Itinerary(source, to, legs, 2000)


def _kit(label: str, depot: str = "D1", weight: float = 400) -> ReadyKit:
    return ReadyKit(label, "WATER", depot, weight, 50)


def test_the_on_time_way_is_chosen_over_the_cheaper_late_one() -> None:
    demand = Demand("songyuan", "songyuan", "WATER", 1, T0 + timedelta(hours=6))
    slots = slots_of([demand])
    kit = _kit("K1")
    options = [
        Option(slots[0], kit, _truck("D1", "songyuan", 8, cost=100)),
        Option(slots[0], kit, _flight("D1", "songyuan", 5, "MX1@x", 1500)),
    ]
    result = solve(slots, options, Limits(), time_limit_s=2)
    [chosen] = result.chosen
    assert chosen.option.itinerary.modes[1] is Mode.AIR and result.unmet == ()


def test_higher_priority_gets_the_only_kit() -> None:
    urgent = Demand("baicheng", "baicheng", "WATER", 1, T0 + timedelta(hours=8), priority=1)
    later = Demand("siping", "siping", "WATER", 1, T0 + timedelta(hours=8), priority=2)
    slots = slots_of([later, urgent])
    kit = _kit("K1")
    options = [Option(s, kit, _truck("D1", s.demand.destination, 3)) for s in slots]
    result = solve(slots, options, Limits(), time_limit_s=2)
    assert [c.option.slot.demand.demand_id for c in result.chosen] == ["baicheng"]
    [unmet] = result.unmet
    assert (unmet.slot.demand.demand_id, unmet.reason) == ("siping", UnmetReason.NO_READY_KIT)


def test_flight_payload_is_shared_and_the_overflow_is_no_capacity() -> None:
    demand = Demand("songyuan", "songyuan", "WATER", 3, T0 + timedelta(hours=6))
    slots = slots_of([demand])
    kits = [_kit(f"K{i}") for i in range(3)]
    options = [
        Option(slot, kit, _flight("D1", "songyuan", 5, "MX1@x", 1000))
        for slot in slots
        for kit in kits
    ]
    limits = Limits(scheduled_payload_kg={"MX1@x": 1000})  # two 400 kg kits fit, not three
    result = solve(slots, options, limits, time_limit_s=2)
    assert len(result.chosen) == 2
    [unmet] = result.unmet
    assert unmet.reason is UnmetReason.NO_CAPACITY
    assert len({c.option.kit.label for c in result.chosen}) == 2


def test_a_deadline_no_way_can_meet_is_too_far_and_the_kit_still_goes_late() -> None:
    demand = Demand("changbaishan", "changbaishan", "WATER", 1, T0 + timedelta(hours=2))
    slots = slots_of([demand])
    options = [Option(slots[0], _kit("K1"), _truck("D1", "changbaishan", 7))]
    result = solve(slots, options, Limits(), time_limit_s=2)
    assert result.chosen == ()
    [unmet] = result.unmet
    assert unmet.reason is UnmetReason.TOO_FAR
    assert unmet.late is not None and unmet.late.lateness_minutes == 300


def test_no_ready_kit_of_the_template_is_reported_not_dropped() -> None:
    demand = Demand("yanji", "yanji", "MOUNTAIN", 2, T0 + timedelta(hours=10))
    result = solve(slots_of([demand]), [], Limits(), time_limit_s=1)
    assert [u.reason for u in result.unmet] == [UnmetReason.NO_READY_KIT] * 2


def test_own_truck_payload_per_depot_is_respected() -> None:
    demand = Demand("jilin", "jilin", "WATER", 2, T0 + timedelta(hours=5))
    slots = slots_of([demand])
    kits = [_kit("K1", weight=600), _kit("K2", weight=600)]
    options = [Option(s, k, _truck("D1", "jilin", 2)) for s in slots for k in kits]
    limits = Limits(own_truck_payload_kg={"D1": 1000})
    result = solve(slots, options, limits, time_limit_s=2)
    assert len(result.chosen) == 1
    assert result.unmet[0].reason is UnmetReason.NO_CAPACITY


def test_among_on_time_ways_the_cheapest_wins() -> None:
    demand = Demand("jilin", "jilin", "WATER", 1, T0 + timedelta(hours=5))
    slots = slots_of([demand])
    options = [
        Option(slots[0], _kit("K1", depot="D1"), _truck("D1", "jilin", 2, cost=900)),
        Option(slots[0], _kit("K2", depot="D2"), _truck("D2", "jilin", 3, cost=300)),
    ]
    result = solve(slots, options, Limits(), time_limit_s=2)
    assert [c.option.kit.label for c in result.chosen] == ["K2"]
