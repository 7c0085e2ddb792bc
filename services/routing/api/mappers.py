"""Routing protobuf <-> domain values, with validation that names the request's fields."""

from __future__ import annotations

from datetime import time

from muster.routing.v1 import routing_service_pb2 as pb

from services.common import convert as c
from services.common.errors import Violations
from services.routing.adapters.network_repository import HubRecord
from services.routing.domain.network import Mode, PartnerTruckBase, ScheduledService, Vehicle

MODE = (pb.Mode, "MODE_")
HUB_KIND = (pb.HubKind, "HUB_KIND_")


def _time_of_day(v: Violations, path: str, t: pb.TimeOfDay) -> time:
    if not (0 <= t.hours < 24 and 0 <= t.minutes < 60):
        v.add(path, f"{t.hours:02d}:{t.minutes:02d} is not a time of day")
        return time(0, 0)
    return time(t.hours, t.minutes)


def _tod(t: time) -> pb.TimeOfDay:
    return pb.TimeOfDay(hours=t.hour, minutes=t.minute)


def hub(record: HubRecord) -> pb.Hub:
    h = record.hub
    return pb.Hub(
        code=h.place.code,
        kind=c.enum_to_proto(HUB_KIND[0], h.kind, HUB_KIND[1]),
        name=record.name,
        city=h.place.city,
        location=pb.GeoPoint(latitude=h.place.latitude, longitude=h.place.longitude),
        handling_minutes=h.handling_minutes,
    )


def service(s: ScheduledService, basis: str = "") -> pb.PartnerService:
    return pb.PartnerService(
        service_code=s.service_code,
        partner_code=s.partner_code,
        mode=c.enum_to_proto(MODE[0], s.mode, MODE[1]),
        origin_hub=s.origin,
        destination_hub=s.destination,
        days=sorted(s.days),
        departure=_tod(s.departure),
        arrival=_tod(s.arrival),
        arrival_day_offset=s.arrival_day_offset,
        cutoff_minutes=s.cutoff_minutes,
        payload_kg=s.payload_kg,
        max_piece_kg=s.max_piece_kg,
        basis=basis,
    )


def to_service(r: pb.UpsertPartnerServiceRequest) -> tuple[ScheduledService, str]:
    v = Violations()
    c.request_id(v, r.request_id)
    s = r.service
    mode = c.enum_to_domain(v, "service.mode", MODE[0], s.mode, Mode, MODE[1])
    days = sorted(set(s.days))
    if not days or any(d < 1 or d > 7 for d in days):
        v.add("service.days", "ISO weekdays 1 (Monday) to 7, at least one")
    found = ScheduledService(
        service_code=c.code(v, "service.service_code", s.service_code, limit=32),
        partner_code=c.code(v, "service.partner_code", s.partner_code, limit=32),
        mode=mode or Mode.AIR,
        origin=c.code(v, "service.origin_hub", s.origin_hub, limit=32),
        destination=c.code(v, "service.destination_hub", s.destination_hub, limit=32),
        days=frozenset(days),
        departure=_time_of_day(v, "service.departure", s.departure),
        arrival=_time_of_day(v, "service.arrival", s.arrival),
        arrival_day_offset=s.arrival_day_offset,
        cutoff_minutes=c.whole(v, "service.cutoff_minutes", s.cutoff_minutes, minimum=0),
        payload_kg=c.number(v, "service.payload_kg", s.payload_kg, minimum=1, maximum=200_000),
        max_piece_kg=c.number(v, "service.max_piece_kg", s.max_piece_kg, minimum=1, maximum=50_000),
    )
    if not 0 <= s.arrival_day_offset <= 3:
        v.add("service.arrival_day_offset", "0 to 3 days")
    elif s.arrival_day_offset == 0 and found.arrival <= found.departure:
        v.add("service.arrival", "arrives before it leaves; set arrival_day_offset")
    basis = c.text(v, "service.basis", s.basis, required=False, limit=2000)
    v.raise_if_any()
    return found, basis


def partner_truck(base: PartnerTruckBase, name: str) -> pb.PartnerTruckBase:
    return pb.PartnerTruckBase(
        partner_code=base.partner_code,
        base=name,
        location=pb.GeoPoint(latitude=base.place.latitude, longitude=base.place.longitude),
        response_minutes=base.response_minutes,
        payload_kg=base.payload_kg,
        volume_m3=base.volume_m3,
        speed_kmh=base.speed_kmh,
        count=base.count,
    )


def vehicle(x: Vehicle) -> pb.Vehicle:
    return pb.Vehicle(
        vehicle_id=x.vehicle_id,
        depot_code=x.depot_code,
        payload_kg=x.payload_kg,
        volume_m3=x.volume_m3,
        speed_kmh=x.speed_kmh,
        count=x.count,
    )


def to_vehicle(r: pb.UpsertVehicleRequest) -> Vehicle:
    v = Violations()
    c.request_id(v, r.request_id)
    x = r.vehicle
    found = Vehicle(
        vehicle_id=c.code(v, "vehicle.vehicle_id", x.vehicle_id),
        depot_code=c.code(v, "vehicle.depot_code", x.depot_code),
        payload_kg=c.number(v, "vehicle.payload_kg", x.payload_kg, minimum=1, maximum=60_000),
        volume_m3=c.number(v, "vehicle.volume_m3", x.volume_m3, minimum=0.1, maximum=200),
        speed_kmh=c.number(v, "vehicle.speed_kmh", x.speed_kmh or 70, minimum=10, maximum=130),
        count=c.whole(v, "vehicle.count", x.count, minimum=1),
    )
    v.raise_if_any()
    return found


def mode_filter(r: pb.ListPartnerServicesRequest) -> tuple[Mode | None, str | None]:
    v = Violations()
    mode = c.enum_to_domain(v, "mode", MODE[0], r.mode, Mode, MODE[1], required=False)
    origin = c.code(v, "origin_hub", r.origin_hub, required=False, limit=32) or None
    v.raise_if_any()
    return mode, origin
