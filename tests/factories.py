"""Small builders of valid requests; each call gets unique codes so tests never collide."""

from __future__ import annotations

import uuid

from muster.inventory.v1 import inventory_service_pb2 as pb


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def depot(**overrides: object) -> pb.Depot:
    fields: dict[str, object] = {
        "code": unique("D"),
        "name": "Test depot",
        "tier": pb.TIER_CITY,
        "city": "jilin",
        "location": pb.GeoPoint(latitude=43.8465, longitude=126.5608),
        "floor_area_m2": 1200.0,
    }
    fields.update(overrides)
    return pb.Depot(**fields)


def item_type(mode: int = pb.TRACKING_MODE_SERIAL, **overrides: object) -> pb.ItemType:
    fields: dict[str, object] = {
        "code": unique("IT"),
        "name": "Test item",
        "tracking_mode": mode,
        "unit": "ea",
        "weight_kg": 2.5,
        "volume_m3": 0.01,
    }
    fields.update(overrides)
    return pb.ItemType(**fields)


def date(iso: str) -> object:
    from google.type import date_pb2

    y, m, d = (int(x) for x in iso.split("-"))
    return date_pb2.Date(year=y, month=m, day=d)


def request_id() -> str:
    return str(uuid.uuid4())
