"""The own trucks' routes inside a plan: small cases whose answers are known."""

from datetime import datetime, timedelta

from services.common.clock import PROVINCE_TZ
from services.routing.domain.assignment import (
    AssignmentResult,
    Chosen,
    Demand,
    Option,
    ReadyKit,
    Slot,
    UnmetReason,
)
from services.routing.domain.itineraries import LOADING_MINUTES, Itinerary, Leg
from services.routing.domain.network import Hub, HubKind, Mode, Network, Place, Vehicle
from services.routing.domain.travel import GreatCircleRoads
from services.routing.domain.vrp import SolveStatus
from services.routing.service_layer.planning import PlanInput, route_trucks, with_trucks

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=PROVINCE_TZ)
A = Place("A", 43.88, 125.32, "changchun")
B = Place("B", 43.90, 125.60, "changchun")
C = Place("C", 45.14, 124.82, "songyuan")
AIRPORT = Place("CGQ", 43.9962, 125.685, "changchun")
PLACES = {p.code: p for p in (A, B, C)}
ROADS = GreatCircleRoads()


def _minutes(a: Place, b: Place) -> int:
    return ROADS.road_minutes(a, b, winter=False)


def _option(label: str, depot: Place, weight: float, deadline_h: float, index: int) -> Option:
    demand = Demand("flood", "C", "WATER", 4, NOW + timedelta(hours=deadline_h))
    leave = NOW + timedelta(minutes=LOADING_MINUTES)
    leg = Leg(Mode.OWN_TRUCK, depot.code, "C", leave, leave + timedelta(minutes=_minutes(depot, C)))
    return Option(
        Slot(demand, index),
        ReadyKit(label, "WATER", depot.code, weight, 50.0, 2.0),
        Itinerary(depot.code, "C", (leg,), 100.0),
    )


def _route(options: list[Option], fleet: tuple[Vehicle, ...]):
    network = Network(hubs={}, fleet=fleet)
    result = AssignmentResult(tuple(Chosen(o) for o in options), (), "OPTIMAL")
    request = PlanInput((), PLACES, (), NOW)
    trucks = route_trucks(result, request, network, ROADS, time_limit_s=2)
    return trucks, with_trucks(result, trucks)


def test_two_kits_going_the_same_way_share_one_truck() -> None:
    kits = [_option("K1", A, 500, 12, 0), _option("K2", A, 500, 12, 1)]
    trucks, result = _route(kits, (Vehicle("A/T", "A", 1500, 20, count=2),))
    assert trucks.status is SolveStatus.FEASIBLE and trucks.unserved == ()
    [route] = trucks.routes
    assert [s.place for s in route.stops] == ["A", "C"]
    assert sorted(route.stops[0].load) == ["K1", "K2"] and sorted(route.stops[1].unload) == [
        "K1",
        "K2",
    ]
    # Loading both takes two loading times; then the drive.
    for chosen in result.chosen:
        leg = chosen.option.itinerary.legs[0]
        assert leg.depart == route.stops[0].depart
        assert leg.arrive == leg.depart + timedelta(minutes=_minutes(A, C))
    assert route.stops[0].depart == NOW + timedelta(minutes=2 * LOADING_MINUTES)


def _tight() -> float:
    """A deadline an hour after a direct drive: no time for a second trip."""
    return (LOADING_MINUTES + _minutes(A, C) + 60) / 60


def test_a_load_too_heavy_for_one_truck_goes_on_two_when_there_is_no_time_for_two_trips() -> None:
    kits = [_option("K1", A, 1000, _tight(), 0), _option("K2", A, 1000, _tight(), 1)]
    trucks, _ = _route(kits, (Vehicle("A/T", "A", 1500, 20, count=2),))
    assert sorted(r.vehicle_id for r in trucks.routes) == ["A/T#1", "A/T#2"]
    assert sorted(r.stops[0].load for r in trucks.routes) == [("K1",), ("K2",)]


def test_volume_counts_as_well_as_weight() -> None:
    kits = [_option("K1", A, 100, _tight(), 0), _option("K2", A, 100, _tight(), 1)]
    # 2 m3 each, 3 m3 a truck: light enough, too bulky to share.
    trucks, _ = _route(kits, (Vehicle("A/T", "A", 1500, 3, count=2),))
    assert len(trucks.routes) == 2


def test_with_time_to_spare_one_truck_makes_two_trips_rather_than_call_out_another() -> None:
    # On time first, then cost: a second truck costs more than the same km driven twice.
    kits = [_option("K1", A, 1000, 12, 0), _option("K2", A, 1000, 12, 1)]
    trucks, result = _route(kits, (Vehicle("A/T", "A", 1500, 20, count=2),))
    [route] = trucks.routes
    assert [s.place for s in route.stops] == ["A", "C", "A", "C"]
    assert all(c.option.on_time for c in result.chosen)


def test_a_truck_collects_from_a_depot_without_trucks() -> None:
    kits = [_option("K1", B, 500, 12, 0)]
    trucks, result = _route(kits, (Vehicle("A/T", "A", 1500, 20),))
    [route] = trucks.routes
    assert route.depot_code == "A" and [s.place for s in route.stops] == ["B", "C"]
    # It sets off at once: kits in an emergency go as soon as they can.
    assert route.leave == NOW
    assert route.stops[0].arrive == NOW + timedelta(minutes=_minutes(A, B))
    [chosen] = result.chosen
    leg = chosen.option.itinerary.legs[0]
    assert leg.depart == route.stops[0].depart and leg.arrive == route.stops[1].arrive


def test_a_kit_no_truck_can_carry_in_time_is_unmet_for_want_of_capacity() -> None:
    # One truck, room for one kit; the deadline leaves no time for a second trip.
    kits = [_option("K1", A, 1000, _tight(), 0), _option("K2", A, 1000, _tight(), 1)]
    trucks, result = _route(kits, (Vehicle("A/T", "A", 1500, 20),))
    assert len(trucks.unserved) == 1 and trucks.status is SolveStatus.INFEASIBLE
    assert len(result.chosen) == 1
    [unmet] = result.unmet
    assert unmet.reason is UnmetReason.NO_CAPACITY and unmet.slot.key in trucks.unserved


def test_a_kit_bound_for_a_flight_reaches_the_airport_before_its_cut_off() -> None:
    demand = Demand("flood", "C", "WATER", 1, NOW + timedelta(hours=12))
    leave = NOW + timedelta(minutes=LOADING_MINUTES)
    feeder = Leg(Mode.OWN_TRUCK, "A", "CGQ", leave, leave + timedelta(minutes=_minutes(A, AIRPORT)))
    flight_departs = NOW + timedelta(hours=3)
    flight = Leg(
        Mode.AIR, "CGQ", "NBS", flight_departs, flight_departs + timedelta(hours=1), "CA", "CA1"
    )
    option = Option(
        Slot(demand, 0),
        ReadyKit("K1", "WATER", "A", 300, 50, 1),
        Itinerary("A", "C", (feeder, flight), 500.0),
    )
    hub = Hub(AIRPORT, HubKind.AIRPORT, handling_minutes=30)
    network = Network(hubs={"CGQ": hub}, fleet=(Vehicle("A/T", "A", 1500, 20),))
    result = AssignmentResult((Chosen(option),), (), "OPTIMAL")
    trucks = route_trucks(result, PlanInput((), PLACES, (), NOW), network, ROADS, 2)
    [route] = trucks.routes
    assert [s.place for s in route.stops] == ["A", "CGQ"]
    assert route.stops[-1].arrive <= flight_departs - timedelta(minutes=30)
    # The flight leg is untouched; only the truck leg takes the route's times.
    [chosen] = with_trucks(result, trucks).chosen
    assert chosen.option.itinerary.legs[1] == flight
    assert chosen.option.itinerary.legs[0].arrive == route.stops[-1].arrive
