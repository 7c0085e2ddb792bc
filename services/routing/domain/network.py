"""The transport network: places, hubs, scheduled partner services, trucks. No I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta


class Mode(enum.StrEnum):
    OWN_TRUCK = "OWN_TRUCK"
    PARTNER_TRUCK = "PARTNER_TRUCK"
    AIR = "AIR"
    RAIL = "RAIL"


class HubKind(enum.StrEnum):
    AIRPORT = "AIRPORT"
    RAIL_HUB = "RAIL_HUB"
    DISTRIBUTION_CENTER = "DISTRIBUTION_CENTER"


@dataclass(frozen=True)
class Place:
    code: str
    latitude: float
    longitude: float
    city: str = ""


@dataclass(frozen=True)
class Hub:
    place: Place
    kind: HubKind
    # Hand-over or pick-up at the hub, added on each side of a scheduled leg.
    handling_minutes: int = 30


@dataclass(frozen=True)
class ScheduledService:
    """A flight or train that runs on given weekdays at fixed local times."""

    service_code: str
    partner_code: str
    mode: Mode
    origin: str  # hub code
    destination: str  # hub code
    days: frozenset[int]  # ISO weekdays, 1 = Monday
    departure: time
    arrival: time
    arrival_day_offset: int = 0
    cutoff_minutes: int = 120
    payload_kg: float = 1000.0
    max_piece_kg: float = 80.0

    def departures_from(self, earliest: datetime, horizon_days: int = 3) -> list[datetime]:
        """This service's departures on or after `earliest`, within the horizon."""
        found = []
        for offset in range(horizon_days + 1):
            day: date = earliest.date() + timedelta(days=offset)
            if day.isoweekday() in self.days:
                at = datetime.combine(day, self.departure, tzinfo=earliest.tzinfo)
                if at >= earliest:
                    found.append(at)
        return found

    def arrival_for(self, departure: datetime) -> datetime:
        day = departure.date() + timedelta(days=self.arrival_day_offset)
        return datetime.combine(day, self.arrival, tzinfo=departure.tzinfo)


@dataclass(frozen=True)
class PartnerTruckBase:
    partner_code: str
    place: Place
    response_minutes: int
    payload_kg: float
    volume_m3: float
    speed_kmh: float
    count: int = 1


@dataclass(frozen=True)
class Vehicle:
    vehicle_id: str
    depot_code: str
    payload_kg: float
    volume_m3: float
    speed_kmh: float = 70.0
    count: int = 1


@dataclass(frozen=True)
class Costs:
    """ASSUMPTION: planning costs in yuan, to rank otherwise equal itineraries."""

    truck_per_km: float = 8.0
    partner_truck_per_km: float = 12.0
    air_per_kg: float = 6.0
    rail_per_kg: float = 2.0
    partner_call_out: float = 500.0


@dataclass(frozen=True)
class Network:
    hubs: dict[str, Hub]
    services: tuple[ScheduledService, ...] = ()
    partner_trucks: tuple[PartnerTruckBase, ...] = ()
    fleet: tuple[Vehicle, ...] = ()
    costs: Costs = field(default_factory=Costs)

    def hubs_of(self, kind: HubKind) -> list[Hub]:
        return [h for h in self.hubs.values() if h.kind is kind]

    def services_from(self, hub_code: str, mode: Mode) -> list[ScheduledService]:
        return [s for s in self.services if s.origin == hub_code and s.mode is mode]
