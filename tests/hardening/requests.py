"""A request that works, for every RPC: what the mutation tests start from.

Built against the seeded Jilin world the hardening servers run on: real
depots, bins, item types, templates and kits, their GS1 codes, a stored plan.
Every call of `good(...)` gives fresh request, scan and demand ids, so a
mutated copy reaches the code behind the idempotency check.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf.message import Message
from muster.gateway.v1 import gateway_service_pb2 as gw
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.routing.v1 import routing_service_pb2 as rt

from services.inventory.domain import labels
from tests.hardening.calls import Caller

M = TypeVar("M", bound=Message)
_serial = itertools.count(1)
DEPOT = "D-DET-JILIN"
KIT = "D-CORPS/GEO-USAR/1"
TEMPLATE = "GEO-USAR"


def _id() -> str:
    return uuid.uuid4().hex


def _n() -> int:
    return next(_serial)


@dataclass
class Seeded:
    """What the seeded world holds that a good request can name."""

    depot_gln: str
    bin_label: str
    unit_item: inv.ItemType
    lot_item: inv.ItemType
    kit_units: list[inv.Unit]
    kit_code: str
    hub_origin: str
    hub_destination: str
    plan_id: str


async def discover(caller: Caller) -> Seeded:
    async def ask(service: str, method: str, request: Message, reply: type[M]) -> M:
        answer = await caller.call(service, method, request)
        assert answer.code.name == "OK", (method, answer)
        return reply.FromString(answer.response)

    depot = await ask(
        "inventory", "GetDepot", inv.GetDepotRequest(code=DEPOT), inv.GetDepotResponse
    )
    bins = await ask(
        "inventory",
        "ListLocations",
        inv.ListLocationsRequest(depot_code=DEPOT, page_size=5),
        inv.ListLocationsResponse,
    )
    kit = await ask("inventory", "GetKit", inv.GetKitRequest(label=KIT), inv.GetKitResponse)
    types = await ask(
        "inventory",
        "ListItemTypes",
        inv.ListItemTypesRequest(page_size=500),
        inv.ListItemTypesResponse,
    )
    serial = next(
        t for t in types.item_types if t.tracking_mode == inv.TRACKING_MODE_SERIAL and t.gtin
    )
    lot = next(t for t in types.item_types if t.tracking_mode == inv.TRACKING_MODE_LOT and t.gtin)
    network = await ask("routing", "GetNetwork", rt.GetNetworkRequest(), rt.GetNetworkResponse)
    service = network.services[0]
    plan = await ask("routing", "PlanDelivery", plan_request(), rt.PlanDeliveryResponse)
    return Seeded(
        depot_gln=depot.depot.gln,
        bin_label=bins.locations[0].label,
        unit_item=serial,
        lot_item=lot,
        kit_units=list(kit.units),
        kit_code=kit.kit.code,
        hub_origin=service.origin_hub,
        hub_destination=service.destination_hub,
        plan_id=plan.plan.plan_id,
    )


def plan_request() -> rt.PlanDeliveryRequest:
    deadline = datetime.now(UTC) + timedelta(hours=30)
    request = rt.PlanDeliveryRequest(
        demands=[
            rt.DemandSpec(
                demand_id=f"d{_n()}",
                destination=rt.Destination(city="songyuan"),
                template_code="WATER-FLOOD",
                count=1,
                priority=1,
            )
        ],
        time_budget_s=0.3,
    )
    request.demands[0].deadline.FromDatetime(deadline)
    return request


def _scan(s: Seeded, action: int, code: str, **fields: object) -> inv.Scan:
    scan = inv.Scan(scan_id=_id(), code=code, action=action, depot_code=DEPOT, **fields)
    scan.device_time.FromDatetime(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    return scan


def _scans(s: Seeded) -> list[inv.Scan]:
    unit = labels.unit_code(s.unit_item.gtin, f"FZ{_n()}")
    lot = labels.lot_code(s.lot_item.gtin, f"L{_n()}", datetime(2029, 1, 31).date())
    bin_code = labels.bin_code(s.depot_gln, s.bin_label)
    return [
        _scan(s, inv.SCAN_ACTION_RECEIVE, unit, operator="fuzz", device="hh-1"),
        _scan(s, inv.SCAN_ACTION_RECEIVE, lot, quantity=5),
        _scan(s, inv.SCAN_ACTION_PUTAWAY, unit, bin_code=bin_code),
        _scan(s, inv.SCAN_ACTION_INSPECT_PASS, s.kit_code),
    ]


def table(s: Seeded) -> dict[tuple[str, str], Callable[[], list[Message]]]:
    """(service, method) -> a factory of good requests, fresh ids each call."""

    def depot() -> inv.Depot:
        return inv.Depot(
            code=f"D-FZ-{_n()}",
            name="Fuzz depot",
            tier=inv.TIER_CITY,
            city="jilin",
            location=inv.GeoPoint(latitude=43.8, longitude=126.5),
            floor_area_m2=900,
            parent_code="D-CORPS",
        )

    def template() -> inv.KitTemplate:
        return inv.KitTemplate(
            code=f"T-FZ-{_n()}",
            category=inv.CATEGORY_WATER,
            name="Fuzz template",
            lines=[
                inv.TemplateLine(item_type_code=s.unit_item.code, quantity=2, pacing=True),
                inv.TemplateLine(item_type_code=s.lot_item.code, quantity=3),
            ],
        )

    def kit() -> inv.CreateKitRequest:
        return inv.CreateKitRequest(
            request_id=_id(),
            label=f"{DEPOT}/FZ/{_n()}",
            template_code=TEMPLATE,
            depot_code=DEPOT,
            location_label=s.bin_label,
            units=[
                inv.Unit(item_type_code=u.item_type_code, serial=f"{u.serial}-FZ{_n()}")
                for u in s.kit_units[:3]
            ],
            lots=[inv.Lot(item_type_code=s.lot_item.code, lot_number=f"L{_n()}", quantity=4)],
        )

    def service() -> rt.PartnerService:
        return rt.PartnerService(
            service_code=f"FZ{_n()}",
            partner_code="FZ-AIR",
            mode=rt.MODE_AIR,
            origin_hub=s.hub_origin,
            destination_hub=s.hub_destination,
            days=[1, 3, 5],
            departure=rt.TimeOfDay(hours=8),
            arrival=rt.TimeOfDay(hours=10, minutes=30),
            cutoff_minutes=60,
            payload_kg=5000,
            max_piece_kg=500,
            basis="fuzz",
        )

    scope = gw.Scope(kind=gw.Scope.KIND_CITY, code="jilin")
    return {
        ("inventory", "CreateDepot"): lambda: [
            inv.CreateDepotRequest(request_id=_id(), depot=depot())
        ],
        ("inventory", "GetDepot"): lambda: [inv.GetDepotRequest(code=DEPOT)],
        ("inventory", "ListDepots"): lambda: [
            inv.ListDepotsRequest(page_size=5, tier=inv.TIER_CITY, city="jilin")
        ],
        ("inventory", "UpdateDepot"): lambda: [
            inv.UpdateDepotRequest(
                request_id=_id(),
                depot=inv.Depot(
                    code="D-DET-CHANGBAISHAN", name="Changbaishan depot", floor_area_m2=700
                ),
                update_mask={"paths": ["name", "floor_area_m2"]},
            )
        ],
        ("inventory", "GetDepotCompliance"): lambda: [
            inv.GetDepotComplianceRequest(depot_code=DEPOT)
        ],
        ("inventory", "CreateLocation"): lambda: [
            inv.CreateLocationRequest(
                request_id=_id(),
                location=inv.Location(
                    depot_code=DEPOT, label=f"Z-{_n()}", zone="Z", aisle="1", shelf="2"
                ),
            )
        ],
        ("inventory", "ListLocations"): lambda: [
            inv.ListLocationsRequest(depot_code=DEPOT, page_size=3)
        ],
        ("inventory", "CreateItemType"): lambda: [
            inv.CreateItemTypeRequest(
                request_id=_id(),
                item_type=inv.ItemType(
                    code=f"FZ-{_n()}",
                    name="Fuzz item",
                    tracking_mode=inv.TRACKING_MODE_LOT,
                    unit="box",
                    weight_kg=1.5,
                    volume_m3=0.01,
                    shelf_life_days=365,
                    gtin=labels.with_check_digit(f"0950600{_n():06d}"),
                ),
            )
        ],
        ("inventory", "ListItemTypes"): lambda: [inv.ListItemTypesRequest(page_size=3)],
        ("inventory", "CreateKitTemplate"): lambda: [
            inv.CreateKitTemplateRequest(request_id=_id(), template=template())
        ],
        ("inventory", "GetKitTemplate"): lambda: [
            inv.GetKitTemplateRequest(code=TEMPLATE, version=1)
        ],
        ("inventory", "ListKitTemplates"): lambda: [
            inv.ListKitTemplatesRequest(page_size=2, category=inv.CATEGORY_WATER, all_versions=True)
        ],
        ("inventory", "CreateKit"): lambda: [kit()],
        ("inventory", "GetKit"): lambda: [inv.GetKitRequest(label=KIT)],
        ("inventory", "ListKits"): lambda: [
            inv.ListKitsRequest(page_size=3, depot_code="D-CORPS", state=inv.Kit.STATE_READY)
        ],
        ("inventory", "SetReserveStandard"): lambda: [
            inv.SetReserveStandardRequest(
                request_id=_id(),
                standard=inv.ReserveStandard(template_code=TEMPLATE, depot_code=DEPOT, quantity=1),
            )
        ],
        ("inventory", "ListReserveStandards"): lambda: [
            inv.ListReserveStandardsRequest(template_code=TEMPLATE)
        ],
        ("inventory", "RecordScan"): lambda: [inv.RecordScanRequest(scan=x) for x in _scans(s)],
        ("inventory", "RecordScans"): lambda: [inv.RecordScansRequest(scans=_scans(s))],
        ("inventory", "ResolveCode"): lambda: [inv.ResolveCodeRequest(code=s.kit_code)],
        ("inventory", "CreateTransfer"): lambda: [
            inv.CreateTransferRequest(
                request_id=_id(),
                from_depot_code="D-CORPS",
                to_depot_code=DEPOT,
                kit_labels=["D-CORPS/WATER-FLOOD/1"],
                reason="fuzz",
            )
        ],
        ("inventory", "GetTransfer"): lambda: [inv.GetTransferRequest(sscc="0" * 18)],
        ("inventory", "ListTransfers"): lambda: [inv.ListTransfersRequest(depot_code="D-CORPS")],
        ("inventory", "StartCount"): lambda: [
            inv.StartCountRequest(
                request_id=_id(), depot_code=DEPOT, zone=f"Z{_n()}", operator="fuzz"
            )
        ],
        ("inventory", "CloseCount"): lambda: [
            inv.CloseCountRequest(request_id=_id(), count_id="C-1", operator="fuzz")
        ],
        ("inventory", "ListExpiring"): lambda: [
            inv.ListExpiringRequest(depot_code="D-CORPS", within_days=90, page_size=5)
        ],
        ("inventory", "ListInspectionsDue"): lambda: [
            inv.ListInspectionsDueRequest(depot_code="D-CORPS", within_days=90, page_size=5)
        ],
        ("inventory", "GetHistory"): lambda: [inv.GetHistoryRequest(code=s.kit_code, page_size=5)],
        ("inventory", "WatchChanges"): lambda: [inv.WatchChangesRequest(from_now=True)],
        ("inventory", "ExportKits"): lambda: [inv.ExportKitsRequest()],
        ("routing", "GetNetwork"): lambda: [rt.GetNetworkRequest()],
        ("routing", "ListPartnerServices"): lambda: [
            rt.ListPartnerServicesRequest(mode=rt.MODE_AIR, origin_hub=s.hub_origin)
        ],
        ("routing", "UpsertPartnerService"): lambda: [
            rt.UpsertPartnerServiceRequest(request_id=_id(), service=service())
        ],
        ("routing", "ListFleet"): lambda: [rt.ListFleetRequest(depot_code="D-CORPS")],
        ("routing", "UpsertVehicle"): lambda: [
            rt.UpsertVehicleRequest(
                request_id=_id(),
                vehicle=rt.Vehicle(
                    vehicle_id=f"FZ-{_n()}",
                    depot_code=DEPOT,
                    payload_kg=3000,
                    volume_m3=20,
                    count=1,
                ),
            )
        ],
        ("routing", "PlanDelivery"): lambda: [plan_request()],
        ("routing", "GetPlan"): lambda: [rt.GetPlanRequest(plan_id=s.plan_id)],
        ("routing", "ListPlans"): lambda: [rt.ListPlansRequest(page_size=3)],
        ("routing", "CommitPlan"): lambda: [rt.CommitPlanRequest(plan_id=s.plan_id)],
        ("routing", "EstimateDeliveryTimes"): lambda: [
            rt.EstimateDeliveryTimesRequest(
                template_codes=[TEMPLATE], cities=["songyuan"], kits_needed=1
            )
        ],
        ("gateway", "GetReadiness"): lambda: [
            gw.GetReadinessRequest(category=gw.CATEGORY_WATER, scope=scope)
        ],
        ("gateway", "ListReadiness"): lambda: [
            gw.ListReadinessRequest(category=gw.CATEGORY_WATER, scope_kind=gw.Scope.KIND_CITY)
        ],
        ("gateway", "ListScopes"): lambda: [gw.ListScopesRequest()],
        ("gateway", "WatchReadiness"): lambda: [
            gw.WatchReadinessRequest(category=gw.CATEGORY_WATER, scope=scope)
        ],
    }
