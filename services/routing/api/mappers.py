"""Routing protobuf <-> domain values, with validation that names the request's fields."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from google.protobuf import json_format
from muster.routing.v1 import routing_service_pb2 as pb

from services.common import convert as c
from services.common.errors import Violations
from services.routing.adapters.network_repository import HubRecord
from services.routing.domain.assignment import Demand, Option
from services.routing.domain.itineraries import Leg
from services.routing.domain.network import (
    Mode,
    PartnerTruckBase,
    Place,
    ScheduledService,
    Vehicle,
)
from services.routing.domain.plans import PlanState, StoredPlan
from services.routing.domain.truck_routes import TruckRoute
from services.routing.service_layer.estimates import Estimate
from services.routing.service_layer.planning import Plan, PlanInput

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


# ------------------------------------------------------------------ planning

MAX_DEMANDS = 50
MAX_KITS_PER_DEMAND = 100
# Kits a plan asks for, all demands together. The itineraries and assignment are built before
# the solver's time budget applies, in time and memory that grow with kits x slots: 500 kits
# took over 20 s whatever the budget, 5,000 grew a solver process past 9 GB (found by
# tests/hardening). The whole seeded province holds 110 kits.
MAX_KITS_PER_PLAN = 150


def to_plan(
    r: pb.PlanDeliveryRequest,
    cities: dict[str, Place],
    depots: dict[str, Place],
    now: datetime,
    max_budget_s: float,
) -> tuple[PlanInput, dict[str, Place], dict[str, str]]:
    """The planner's input (without stock); destinations resolved to places.

    Also the receiving depots the request names, by demand id.
    """
    v = Violations()
    if not r.demands:
        v.add("demands", "name at least one demand")
    if len(r.demands) > MAX_DEMANDS:
        v.add("demands", f"at most {MAX_DEMANDS} demands")
    start = now
    if r.HasField("start_time"):
        start = (c.timestamp_to_domain(v, "start_time", r.start_time) or now).astimezone(now.tzinfo)
    asked = sum(max(d.count, 0) for d in r.demands)
    if asked > MAX_KITS_PER_PLAN:
        v.add(
            "demands", f"at most {MAX_KITS_PER_PLAN} kits a plan, all demands together; not {asked}"
        )
    places: dict[str, Place] = {}
    receiving: dict[str, str] = {}
    demands = []
    seen: set[str] = set()
    for i, d in enumerate(r.demands):
        path = f"demands[{i}]"
        demand_id = c.code(v, f"{path}.demand_id", d.demand_id, limit=64)
        if demand_id in seen:
            v.add(f"{path}.demand_id", f"{demand_id} twice")
        seen.add(demand_id)
        place = _destination(v, f"{path}.destination", d.destination, cities, demand_id)
        if place is not None:
            places[place.code] = place
        if d.destination.receiving_depot:
            if d.destination.receiving_depot not in depots:
                v.add(
                    f"{path}.destination.receiving_depot",
                    f"no depot {d.destination.receiving_depot!r} in inventory",
                )
            receiving[demand_id] = d.destination.receiving_depot
        count = c.whole(v, f"{path}.count", d.count, minimum=1)
        if count > MAX_KITS_PER_DEMAND:
            v.add(f"{path}.count", f"at most {MAX_KITS_PER_DEMAND} kits a demand")
        if not d.HasField("deadline"):
            v.add(f"{path}.deadline", "is required")
        found = c.timestamp_to_domain(v, f"{path}.deadline", d.deadline)
        deadline = found.astimezone(now.tzinfo) if found else start
        priority = d.priority or 1
        if not 1 <= priority <= 5:
            v.add(f"{path}.priority", "1 (first) to 5")
        demands.append(
            Demand(
                demand_id,
                place.code if place else "",
                c.code(v, f"{path}.template_code", d.template_code),
                count,
                deadline,
                priority,
            )
        )
    modes = frozenset(
        m
        for i, raw in enumerate(r.modes)
        if (m := c.enum_to_domain(v, f"modes[{i}]", MODE[0], raw, Mode, MODE[1])) is not None
    ) or frozenset(Mode)
    budget = c.number(v, "time_budget_s", r.time_budget_s or 5.0, minimum=0.1)
    v.raise_if_any()
    plan_input = PlanInput(
        tuple(demands),
        {},
        (),
        start,
        winter=r.winter,
        modes=modes,
        time_limit_s=min(budget, max_budget_s),
    )
    return plan_input, places, receiving


def _destination(
    v: Violations, path: str, d: pb.Destination, cities: dict[str, Place], demand_id: str
) -> Place | None:
    if d.city:
        place = cities.get(d.city)
        if place is None:
            v.add(f"{path}.city", f"no city {d.city!r}; one of {', '.join(sorted(cities))}")
        return place
    if d.HasField("location"):
        lat = c.number(v, f"{path}.location.latitude", d.location.latitude, minimum=-90, maximum=90)
        lon = c.number(
            v, f"{path}.location.longitude", d.location.longitude, minimum=-180, maximum=180
        )
        return Place(f"@{demand_id}", lat, lon, "")
    v.add(path, "give a city or a location")
    return None


def _leg(leg: Leg) -> pb.PlannedLeg:
    out = pb.PlannedLeg(
        mode=c.enum_to_proto(MODE[0], leg.mode, MODE[1]),
        origin=leg.origin,
        destination=leg.destination,
        partner_code=leg.partner_code,
        service_code=leg.service_code,
    )
    out.depart.FromDatetime(leg.depart)
    out.arrive.FromDatetime(leg.arrive)
    return out


def _delivery(option: Option, receiving: dict[str, str]) -> pb.KitDelivery:
    out = pb.KitDelivery(
        demand_id=option.slot.demand.demand_id,
        slot=option.slot.index + 1,
        kit_label=option.kit.label,
        source_depot=option.kit.depot_code,
        legs=[_leg(leg) for leg in option.itinerary.legs],
        on_time=option.on_time,
        cost=option.itinerary.cost,
        receiving_depot=receiving.get(option.slot.demand.demand_id, ""),
    )
    out.arrive.FromDatetime(option.itinerary.arrive)
    return out


def _truck_route(route: TruckRoute) -> pb.TruckRoute:
    out = pb.TruckRoute(
        vehicle_id=route.vehicle_id,
        depot_code=route.depot_code,
        distance_km=route.distance_km,
    )
    out.leave.FromDatetime(route.leave)
    out.back.FromDatetime(route.back)
    for stop in route.stops:
        s = out.stops.add(place=stop.place, load=stop.load, unload=stop.unload)
        s.arrive.FromDatetime(stop.arrive)
        s.depart.FromDatetime(stop.depart)
    return out


def plan(
    found: Plan,
    plan_id: uuid.UUID,
    created: datetime,
    request: pb.PlanDeliveryRequest,
    receiving: dict[str, str],
) -> pb.Plan:
    """A plan just made, as a draft."""
    result = found.result
    deliveries = [_delivery(chosen.option, receiving) for chosen in result.chosen]
    unmet = [
        pb.UnmetDemand(
            demand_id=u.slot.demand.demand_id,
            slot=u.slot.index + 1,
            reason=u.reason.value,
            late=_delivery(u.late, receiving) if u.late else None,
        )
        for u in result.unmet
    ]
    out = pb.Plan(
        plan_id=str(plan_id),
        state=pb.Plan.STATE_DRAFT,
        status=result.status,
        deliveries=deliveries,
        unmet=unmet,
        truck_routes=[_truck_route(r) for r in found.trucks.routes],
        total_cost=round(sum(d.cost for d in deliveries) + sum(u.late.cost for u in unmet), 2),
        options_considered=found.options_considered,
        solve_seconds=result.wall_seconds,
        request=request,
    )
    out.create_time.FromDatetime(created)
    return out


def document(message: pb.Plan) -> dict[str, object]:
    """The plan as stored: protobuf's JSON mapping."""
    return json_format.MessageToDict(message)


PLAN_STATE = {
    PlanState.DRAFT: pb.Plan.STATE_DRAFT,
    PlanState.PARTIALLY_COMMITTED: pb.Plan.STATE_PARTIALLY_COMMITTED,
    PlanState.COMMITTED: pb.Plan.STATE_COMMITTED,
}


def stored_plan(stored: StoredPlan) -> pb.Plan:
    """A stored plan as made, with its commit's state and transfers as they are now."""
    out = json_format.ParseDict(dict(stored.document), pb.Plan(), ignore_unknown_fields=True)
    out.state = PLAN_STATE[stored.state]
    del out.transfers[:]
    for t in stored.transfers:
        out.transfers.add(
            from_depot=t.from_depot, to_depot=t.to_depot, kit_labels=t.kit_labels, sscc=t.sscc
        )
    if stored.committed_at is not None:
        out.commit_time.FromDatetime(stored.committed_at)
    out.created_by = stored.created_by
    out.committed_by = stored.committed_by
    return out


def plan_summary(stored: StoredPlan) -> pb.PlanSummary:
    out = pb.PlanSummary(
        plan_id=str(stored.plan_id),
        state=PLAN_STATE[stored.state],
        status=stored.status,
        kits_on_time=stored.kits_on_time,
        kits_unmet=stored.kits_unmet,
        destinations=stored.destinations,
    )
    out.create_time.FromDatetime(stored.created_at)
    return out


def plan_id(value: str) -> uuid.UUID:
    v = Violations()
    try:
        found = uuid.UUID(value)
    except ValueError:
        v.add("plan_id", f"{value!r} is not a plan id (a UUID that PlanDelivery gave out)")
    v.raise_if_any()
    return found


MAX_ESTIMATE_TEMPLATES = 100


def to_estimates(
    r: pb.EstimateDeliveryTimesRequest, known: dict[str, Place]
) -> tuple[list[str], list[str], int]:
    """The cities (every one, when none is named), templates and kits a request asks about."""
    v = Violations()
    if len(r.cities) > len(known):
        v.add("cities", f"at most {len(known)}, the cities of the network")
    if len(r.template_codes) > MAX_ESTIMATE_TEMPLATES:
        v.add("template_codes", f"at most {MAX_ESTIMATE_TEMPLATES}")
    v.raise_if_any()
    cities = [c.code(v, f"cities[{i}]", city) for i, city in enumerate(r.cities)]
    for i, city in enumerate(cities):
        if city and city not in known:
            v.add(f"cities[{i}]", f"no city {city!r}")
    templates = [c.code(v, f"template_codes[{i}]", code) for i, code in enumerate(r.template_codes)]
    needed = r.kits_needed or 1
    if needed < 0 or needed > 100:
        v.add("kits_needed", "1 to 100")
    v.raise_if_any()
    return list(dict.fromkeys(cities)), list(dict.fromkeys(templates)), needed


def estimate(e: Estimate, now: datetime) -> pb.DeliveryEstimate:
    out = pb.DeliveryEstimate(
        template_code=e.template_code,
        city=e.destination,
        kits_needed=e.needed,
        reachable=e.arrive is not None,
        ready_kits=e.ready_kits,
        modes=[c.enum_to_proto(MODE[0], m, MODE[1]) for m in e.fastest_modes],
    )
    if e.arrive is not None:
        out.arrive.FromDatetime(e.arrive)
        out.hours = round((e.arrive - now).total_seconds() / 3600, 2)
    return out
