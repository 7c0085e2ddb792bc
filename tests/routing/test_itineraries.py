"""Candidate itineraries: road, air and rail, with cut-offs and schedules across midnight."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.routing.domain.itineraries import ItineraryBuilder, Shipment
from services.routing.domain.network import (
    Hub,
    HubKind,
    Mode,
    Network,
    PartnerTruckBase,
    Place,
    ScheduledService,
)
from services.routing.domain.travel import GreatCircleRoads, great_circle_km

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=TZ)  # a Monday
EVERY_DAY = frozenset(range(1, 8))

# Changchun depot and airport; Yanji destination and airport (scenario coordinates).
DEPOT = Place("D-CORPS", 43.88, 125.3228, "changchun")
CGQ = Place("CGQ", 43.9962, 125.685, "changchun")
YNJ = Place("YNJ", 42.8828, 129.451, "yanbian")
YANJI = Place("yanji", 42.8882, 129.5024, "yanbian")
KIT = Shipment(weight_kg=400, heaviest_piece_kg=60)


def _flight(code: str, dep: time, arr: time, offset: int = 0, **kw: object) -> ScheduledService:
    fields: dict[str, object] = {
        "service_code": code,
        "partner_code": "AIR",
        "mode": Mode.AIR,
        "origin": "CGQ",
        "destination": "YNJ",
        "days": EVERY_DAY,
        "departure": dep,
        "arrival": arr,
        "arrival_day_offset": offset,
        "cutoff_minutes": 120,
        "payload_kg": 1500,
        "max_piece_kg": 80,
    }
    fields.update(kw)
    return ScheduledService(**fields)  # type: ignore[arg-type]


def _network(*services: ScheduledService, partner_trucks=()) -> Network:
    hubs = {
        "CGQ": Hub(CGQ, HubKind.AIRPORT, handling_minutes=45),
        "YNJ": Hub(YNJ, HubKind.AIRPORT, handling_minutes=45),
    }
    return Network(hubs=hubs, services=services, partner_trucks=tuple(partner_trucks))


def _builder(network: Network, **roads: object) -> ItineraryBuilder:
    return ItineraryBuilder(network, GreatCircleRoads(**roads))  # type: ignore[arg-type]


def test_own_truck_time_is_distance_times_road_factor_over_speed() -> None:
    builder = _builder(_network())
    [truck] = builder.build(DEPOT, YANJI, MONDAY, KIT, modes=[Mode.OWN_TRUCK])
    km = great_circle_km(DEPOT, YANJI) * 1.2
    expected = timedelta(minutes=30 + int(-(-km / 70 * 60 // 1)))
    assert truck.arrive - MONDAY == expected
    assert truck.modes == (Mode.OWN_TRUCK,)


def test_winter_and_mountain_roads_are_slower() -> None:
    plain = _builder(_network())
    mountain = _builder(_network(), mountain_cities=frozenset({"yanbian"}))
    summer = plain.build(DEPOT, YANJI, MONDAY, KIT, modes=[Mode.OWN_TRUCK])[0]
    winter = plain.build(DEPOT, YANJI, MONDAY, KIT, modes=[Mode.OWN_TRUCK], winter=True)[0]
    hills = mountain.build(DEPOT, YANJI, MONDAY, KIT, modes=[Mode.OWN_TRUCK])[0]
    assert summer.arrive < winter.arrive and summer.arrive < hills.arrive


def test_a_flight_whose_cut_off_is_missed_is_not_offered_the_next_one_is() -> None:
    # Truck to CGQ: 30 min loading + ~27 min drive + 45 min handling -> ~09:42;
    # with the 2 h cut-off, the 10:30 flight is missed and the 14:00 one taken.
    network = _network(
        _flight("MX101", time(10, 30), time(11, 40)), _flight("MX103", time(14, 0), time(15, 10))
    )
    air, tomorrow = _builder(network).build(DEPOT, YANJI, MONDAY, KIT, modes=[Mode.AIR])
    assert [leg.mode for leg in air.legs] == [Mode.OWN_TRUCK, Mode.AIR, Mode.PARTNER_TRUCK]
    assert tomorrow.legs[1].service_code == "MX101"
    assert tomorrow.legs[1].depart == (MONDAY + timedelta(days=1)).replace(hour=10, minute=30)
    flown = air.legs[1]
    assert (flown.service_code, flown.depart.time()) == ("MX103", time(14, 0))
    assert flown.capacity_key == "MX103@2026-11-30T14:00"
    assert air.arrive > flown.arrive  # the truck from YNJ into town


def test_a_flight_departing_before_midnight_arrives_the_next_day() -> None:
    late = _flight("MX199", time(23, 30), time(0, 40), offset=1)
    ready = MONDAY.replace(hour=19)
    [air] = _builder(_network(late)).build(DEPOT, YANJI, ready, KIT, modes=[Mode.AIR])
    flown = air.legs[1]
    assert flown.depart == ready.replace(hour=23, minute=30)
    assert flown.arrive == (ready + timedelta(days=1)).replace(hour=0, minute=40)


def test_when_today_is_missed_the_search_moves_to_the_next_day_the_service_runs() -> None:
    tuesdays = _flight("MX777", time(9, 0), time(10, 10), days=frozenset({2}))
    [air] = _builder(_network(tuesdays)).build(DEPOT, YANJI, MONDAY, KIT, modes=[Mode.AIR])
    assert air.legs[1].depart == (MONDAY + timedelta(days=1)).replace(hour=9, minute=0)


@pytest.mark.parametrize(
    ("shipment", "offered"),
    [
        (Shipment(400, 60), True),
        (Shipment(400, 95), False),  # one piece heavier than the 80 kg belly limit
        (Shipment(1600, 60), False),  # more than the flight's payload
    ],
)
def test_piece_and_payload_limits(shipment: Shipment, offered: bool) -> None:
    network = _network(_flight("MX103", time(14, 0), time(15, 10)))
    found = _builder(network).build(DEPOT, YANJI, MONDAY, shipment, modes=[Mode.AIR])
    assert bool(found) is offered


def test_partner_truck_starts_after_its_response_time_from_the_nearest_base() -> None:
    near = PartnerTruckBase(
        "SF", CGQ, response_minutes=60, payload_kg=3000, volume_m3=20, speed_kmh=70
    )
    far = PartnerTruckBase(
        "JD", YANJI, response_minutes=30, payload_kg=3000, volume_m3=20, speed_kmh=70
    )
    network = _network(partner_trucks=[far, near])
    [truck] = _builder(network).build(DEPOT, YANJI, MONDAY, KIT, modes=[Mode.PARTNER_TRUCK])
    assert truck.legs[0].partner_code == "SF"
    assert truck.depart > MONDAY + timedelta(minutes=60)


def test_itineraries_come_fastest_first() -> None:
    network = _network(_flight("MX103", time(14, 0), time(15, 10)))
    found = _builder(network).build(DEPOT, YANJI, MONDAY, KIT)
    arrivals = [it.arrive for it in found]
    assert arrivals == sorted(arrivals) and len(found) == 2
