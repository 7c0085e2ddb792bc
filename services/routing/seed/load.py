"""Load the Jilin transport network (seed/network.json); loading again changes nothing new."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.routing.adapters.network_repository import parse_time
from services.routing.domain.network import (
    Hub,
    HubKind,
    Mode,
    PartnerTruckBase,
    Place,
    ScheduledService,
    Vehicle,
)
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


async def load(uow_factory: UnitOfWorkFactory, path: Path = NETWORK) -> dict[str, int]:
    data = read_network(path)
    async with uow_factory() as uow:
        for h in data["hubs"]:
            place = Place(h["code"], h["latitude"], h["longitude"], h["city"])
            hub = Hub(place, HubKind(h["kind"]), h["handling_minutes"])
            await uow.network.put_hub(hub, h["name"], h["basis"])
        for record in data["flights"]:
            await uow.network.put_service(_service(record, Mode.AIR), record["basis"])
        for record in data["trains"]:
            await uow.network.put_service(_service(record, Mode.RAIL), record["basis"])
        for t in data["partner_trucks"]:
            place = Place(
                f"{t['partner_code']}@{t['base_hub_or_city']}",
                t["latitude"],
                t["longitude"],
                t["base_hub_or_city"],
            )
            base = PartnerTruckBase(
                t["partner_code"],
                place,
                t["response_minutes"],
                float(t["payload_kg"]),
                float(t["volume_m3"]),
                float(t["speed_kmh"]),
                t["count"],
            )
            await uow.network.put_partner_truck(base, t["base_hub_or_city"])
        for v in data["fleet"]:
            vehicle = Vehicle(
                v["vehicle_id"],
                v["depot_code"],
                float(v["payload_kg"]),
                float(v["volume_m3"]),
                float(v["speed_kmh"]),
                v["count"],
            )
            await uow.network.put_vehicle(vehicle)
        await uow.commit()
    return {
        "hubs": len(data["hubs"]),
        "scheduled services": len(data["flights"]) + len(data["trains"]),
        "partner truck bases": len(data["partner_trucks"]),
        "vehicle types": len(data["fleet"]),
    }
