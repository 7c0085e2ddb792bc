"""Load the Jilin transport network (seed/network.json); loading again changes nothing new."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.routing.adapters.network_repository import parse_time
from services.routing.domain.network import (
    Hub,
    HubKind,
    Mode,
    Network,
    PartnerTruckBase,
    Place,
    ScheduledService,
    Vehicle,
)
from services.routing.domain.travel import GreatCircleRoads
from services.routing.service_layer.unit_of_work import UnitOfWorkFactory

NETWORK = Path(__file__).with_name("network.json")


def read_network(path: Path = NETWORK) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _service(record: dict[str, Any], mode: Mode) -> ScheduledService:
    return ScheduledService(
        service_code=record["service_code"],
        partner_code=record["partner_code"],
        mode=mode,
        origin=record["origin"],
        destination=record["destination"],
        days=frozenset(record["days"]),
        departure=parse_time(record["departure"]),
        arrival=parse_time(record["arrival"]),
        arrival_day_offset=record.get("arrival_day_offset", 0),
        cutoff_minutes=record["cutoff_minutes"],
        payload_kg=float(record["payload_kg"]),
        max_piece_kg=float(record["max_piece_kg"]),
    )


@dataclass(frozen=True)
class SeedNetwork:
    hubs: list[tuple[Hub, str, str]]  # hub, name, basis
    services: list[tuple[ScheduledService, str]]  # service, basis
    partner_trucks: list[tuple[PartnerTruckBase, str]]  # base, base name
    fleet: list[Vehicle]
    roads: GreatCircleRoads
    # City seats, for destinations named by city.
    cities: dict[str, Place]

    def network(self) -> Network:
        return Network(
            hubs={h.place.code: h for h, _, _ in self.hubs},
            services=tuple(s for s, _ in self.services),
            partner_trucks=tuple(b for b, _ in self.partner_trucks),
            fleet=tuple(self.fleet),
        )


def parse(data: dict[str, Any]) -> SeedNetwork:
    hubs = [
        (
            Hub(
                Place(h["code"], h["latitude"], h["longitude"], h["city"]),
                HubKind(h["kind"]),
                h["handling_minutes"],
            ),
            h["name"],
            h["basis"],
        )
        for h in data["hubs"]
    ]
    services = [(_service(r, Mode.AIR), r["basis"]) for r in data["flights"]]
    services += [(_service(r, Mode.RAIL), r["basis"]) for r in data["trains"]]
    trucks = [
        (
            PartnerTruckBase(
                t["partner_code"],
                Place(
                    f"{t['partner_code']}@{t['base_hub_or_city']}",
                    t["latitude"],
                    t["longitude"],
                    t["base_hub_or_city"],
                ),
                t["response_minutes"],
                float(t["payload_kg"]),
                float(t["volume_m3"]),
                float(t["speed_kmh"]),
                t["count"],
            ),
            t["base_hub_or_city"],
        )
        for t in data["partner_trucks"]
    ]
    fleet = [
        Vehicle(
            v["vehicle_id"],
            v["depot_code"],
            float(v["payload_kg"]),
            float(v["volume_m3"]),
            float(v["speed_kmh"]),
            v["count"],
        )
        for v in data["fleet"]
    ]
    road = data["road"]
    roads = GreatCircleRoads(
        road_factor=road["road_factor"],
        speed_kmh=road["default_speed_kmh"],
        mountain_speed_kmh=road["mountain_speed_kmh"],
        winter_factor=road["winter_time_factor"],
        mountain_cities=frozenset(road["mountain_cities"]),
    )
    cities = {
        c["code"]: Place(c["code"], c["latitude"], c["longitude"], c["code"])
        for c in data.get("cities", [])
    }
    return SeedNetwork(hubs, services, trucks, fleet, roads, cities)


async def load(uow_factory: UnitOfWorkFactory, path: Path = NETWORK) -> dict[str, int]:
    seed = parse(read_network(path))
    async with uow_factory() as uow:
        for hub, name, basis in seed.hubs:
            await uow.network.put_hub(hub, name, basis)
        for service, basis in seed.services:
            await uow.network.put_service(service, basis)
        for base, base_name in seed.partner_trucks:
            await uow.network.put_partner_truck(base, base_name)
        for vehicle in seed.fleet:
            await uow.network.put_vehicle(vehicle)
        await uow.commit()
    return {
        "hubs": len(seed.hubs),
        "scheduled services": len(seed.services),
        "partner truck bases": len(seed.partner_trucks),
        "vehicle types": len(seed.fleet),
    }
