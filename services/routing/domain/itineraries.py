"""Candidate itineraries from a depot to a destination, by road, air and rail.

For one kit leaving a depot at a given time, the builder lists every way it
could travel: the depot's own truck direct; a partner's on-call truck; a truck
to an airport in time for a flight's acceptance cut-off, the flight, and a
truck on; the same over rail hubs. Scheduled services are searched over the
next days (a flight at 23:30 arriving 00:40 arrives the next day), and a
service whose piece limit the kit's heaviest piece exceeds is not offered.
Capacities of flights and trains are shared between kits; the assignment
model enforces them, keyed by `Leg.capacity_key`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.routing.domain.network import (
    Hub,
    HubKind,
    Mode,
    Network,
    PartnerTruckBase,
    Place,
    ScheduledService,
)
from services.routing.domain.travel import TravelTimes

LOADING_MINUTES = 30  # ASSUMPTION: loading a module onto a truck at a depot


@dataclass(frozen=True)
class Leg:
    mode: Mode
    origin: str
    destination: str
    depart: datetime
    arrive: datetime
    partner_code: str = ""
    service_code: str = ""
    # Flights and trains: the departure whose payload kits share.
    capacity_key: str = ""
    payload_kg: float = 0.0


@dataclass(frozen=True)
class Itinerary:
    source: str
    destination: str
    legs: tuple[Leg, ...]
    cost: float

    @property
    def depart(self) -> datetime:
        return self.legs[0].depart

    @property
    def arrive(self) -> datetime:
        return self.legs[-1].arrive

    @property
    def modes(self) -> tuple[Mode, ...]:
        return tuple(leg.mode for leg in self.legs)

    @property
    def scheduled_legs(self) -> tuple[Leg, ...]:
        return tuple(leg for leg in self.legs if leg.capacity_key)


@dataclass(frozen=True)
class Shipment:
    """One kit to move: its weight, and its heaviest single piece (for piece limits)."""

    weight_kg: float
    heaviest_piece_kg: float


@dataclass(frozen=True)
class ItineraryBuilder:
    network: Network
    travel: TravelTimes
    # Hubs farther than this from the depot or the destination are not used.
    max_access_km: float = 250.0
    horizon_days: int = 3

    def build(
        self,
        source: Place,
        destination: Place,
        ready_at: datetime,
        shipment: Shipment,
        *,
        winter: bool = False,
        modes: Iterable[Mode] = tuple(Mode),
    ) -> list[Itinerary]:
        allowed = set(modes)
        found: list[Itinerary] = []
        if Mode.OWN_TRUCK in allowed:
            found.append(self._own_truck(source, destination, ready_at, winter))
        if Mode.PARTNER_TRUCK in allowed:
            partner = self._partner_truck(source, destination, ready_at, shipment, winter)
            if partner is not None:
                found.append(partner)
        for mode, kind in ((Mode.AIR, HubKind.AIRPORT), (Mode.RAIL, HubKind.RAIL_HUB)):
            if mode in allowed:
                found += self._scheduled(
                    mode, kind, source, destination, ready_at, shipment, winter
                )
        return sorted(found, key=lambda it: (it.arrive, it.cost))

    # ---------------------------------------------------------------- road
    def _truck_leg(
        self, mode: Mode, a: Place, b: Place, depart: datetime, winter: bool, partner: str = ""
    ) -> Leg:
        minutes = self.travel.road_minutes(a, b, winter=winter)
        return Leg(mode, a.code, b.code, depart, depart + timedelta(minutes=minutes), partner)

    def _own_truck(
        self, source: Place, destination: Place, ready_at: datetime, winter: bool
    ) -> Itinerary:
        leg = self._truck_leg(
            Mode.OWN_TRUCK,
            source,
            destination,
            ready_at + timedelta(minutes=LOADING_MINUTES),
            winter,
        )
        cost = self.travel.road_km(source, destination) * self.network.costs.truck_per_km
        return Itinerary(source.code, destination.code, (leg,), round(cost, 2))

    def _partner_truck(
        self,
        source: Place,
        destination: Place,
        ready_at: datetime,
        shipment: Shipment,
        winter: bool,
    ) -> Itinerary | None:
        bases = [b for b in self.network.partner_trucks if b.payload_kg >= shipment.weight_kg]
        if not bases:
            return None

        def at_depot(base: PartnerTruckBase) -> datetime:
            drive = self.travel.road_minutes(base.place, source, winter=winter)
            return ready_at + timedelta(minutes=base.response_minutes + drive)

        base = min(bases, key=at_depot)
        depart = at_depot(base) + timedelta(minutes=LOADING_MINUTES)
        leg = self._truck_leg(
            Mode.PARTNER_TRUCK, source, destination, depart, winter, base.partner_code
        )
        costs = self.network.costs
        cost = costs.partner_call_out + self.travel.road_km(source, destination) * (
            costs.partner_truck_per_km
        )
        return Itinerary(source.code, destination.code, (leg,), round(cost, 2))

    # ---------------------------------------------------------------- air and rail
    def _near(self, place: Place, kind: HubKind) -> list[Hub]:
        return [
            hub
            for hub in self.network.hubs_of(kind)
            if self.travel.road_km(place, hub.place) <= self.max_access_km
        ]

    def _scheduled(
        self,
        mode: Mode,
        kind: HubKind,
        source: Place,
        destination: Place,
        ready_at: datetime,
        shipment: Shipment,
        winter: bool,
    ) -> list[Itinerary]:
        found = []
        arrival_hubs = {h.place.code: h for h in self._near(destination, kind)}
        for origin in self._near(source, kind):
            feeder = self._truck_leg(
                Mode.OWN_TRUCK,
                source,
                origin.place,
                ready_at + timedelta(minutes=LOADING_MINUTES),
                winter,
            )
            handed_over = feeder.arrive + timedelta(minutes=origin.handling_minutes)
            for service in self.network.services_from(origin.place.code, mode):
                target = arrival_hubs.get(service.destination)
                if target is None or not self._fits(service, shipment):
                    continue
                itinerary = self._via(
                    service,
                    source,
                    origin,
                    target,
                    feeder,
                    handed_over,
                    destination,
                    shipment,
                    winter,
                )
                if itinerary is not None:
                    found.append(itinerary)
        return found

    @staticmethod
    def _fits(service: ScheduledService, shipment: Shipment) -> bool:
        return (
            shipment.heaviest_piece_kg <= service.max_piece_kg
            and shipment.weight_kg <= service.payload_kg
        )

    def _via(
        self,
        service: ScheduledService,
        source: Place,
        origin: Hub,
        target: Hub,
        feeder: Leg,
        handed_over: datetime,
        destination: Place,
        shipment: Shipment,
        winter: bool,
    ) -> Itinerary | None:
        """The first departure whose cut-off the feeder truck makes, and the truck on."""
        earliest = handed_over + timedelta(minutes=service.cutoff_minutes)
        departures = service.departures_from(earliest, self.horizon_days)
        if not departures:
            return None
        depart = departures[0]
        arrive = service.arrival_for(depart)
        scheduled = Leg(
            service.mode,
            origin.place.code,
            target.place.code,
            depart,
            arrive,
            service.partner_code,
            service.service_code,
            capacity_key=f"{service.service_code}@{depart:%Y-%m-%dT%H:%M}",
            payload_kg=service.payload_kg,
        )
        onward = self._truck_leg(
            Mode.PARTNER_TRUCK,
            target.place,
            destination,
            arrive + timedelta(minutes=target.handling_minutes),
            winter,
            service.partner_code,
        )
        costs = self.network.costs
        per_kg = costs.air_per_kg if service.mode is Mode.AIR else costs.rail_per_kg
        cost = (
            per_kg * math.ceil(shipment.weight_kg)
            + self.travel.road_km(source, origin.place) * costs.truck_per_km
            + self.travel.road_km(target.place, destination) * costs.partner_truck_per_km
        )
        return Itinerary(source.code, destination.code, (feeder, scheduled, onward), round(cost, 2))
