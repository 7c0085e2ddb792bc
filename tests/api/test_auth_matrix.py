"""Every RPC of every service x every role x every kind of bad token, on real servers.

The expected access is written out here, RPC by RPC, independently of the
`@allow` declarations next to the handlers, so a declaration that drifts
fails this test. For each RPC:

- no token, an expired token, a token with a forged signature -> UNAUTHENTICATED;
- each role the RPC does not accept -> PERMISSION_DENIED;
- each role it accepts -> neither (the empty request then fails its own way);
- depot staff naming a depot outside their token -> PERMISSION_DENIED.

Health and reflection answer without a token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc
from muster.gateway.v1 import gateway_service_pb2 as gw
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.routing.v1 import routing_service_pb2 as rt

from services.common.auth import Role, key_id
from services.common.settings import ServerSettings
from services.gateway import server as gateway_server
from services.gateway.settings import GatewaySettings
from services.routing import server as routing_server
from tests.conftest import TODAY, start_inventory
from tests.gateway.world import FAST
from tests.support import auth

STAFF, PLANNER, COMMAND, ADMIN = Role.DEPOT_STAFF, Role.PLANNER, Role.COMMAND, Role.ADMIN
REFERENCE = {STAFF, PLANNER, COMMAND}
READERS = {PLANNER, COMMAND}
DEPOT, OTHER = "D-MINE", "D-THEIRS"

# RPC -> (roles besides admin that may call it, a request naming DEPOT where depot-bound)
INVENTORY: dict[str, tuple[set[Role], Any]] = {
    "CreateDepot": (set(), inv.CreateDepotRequest()),
    "GetDepot": (REFERENCE, inv.GetDepotRequest()),
    "ListDepots": (REFERENCE, inv.ListDepotsRequest()),
    "UpdateDepot": (set(), inv.UpdateDepotRequest()),
    "GetDepotCompliance": (READERS, inv.GetDepotComplianceRequest()),
    "CreateLocation": (set(), inv.CreateLocationRequest()),
    "ListLocations": (REFERENCE, inv.ListLocationsRequest()),
    "CreateItemType": (set(), inv.CreateItemTypeRequest()),
    "ListItemTypes": (REFERENCE, inv.ListItemTypesRequest()),
    "CreateKitTemplate": (set(), inv.CreateKitTemplateRequest()),
    "GetKitTemplate": (REFERENCE, inv.GetKitTemplateRequest()),
    "ListKitTemplates": (REFERENCE, inv.ListKitTemplatesRequest()),
    "CreateKit": ({STAFF}, inv.CreateKitRequest(depot_code=DEPOT)),
    "GetKit": (REFERENCE, inv.GetKitRequest()),
    "ListKits": (REFERENCE, inv.ListKitsRequest(depot_code=DEPOT)),
    "SetReserveStandard": (set(), inv.SetReserveStandardRequest()),
    "ListReserveStandards": (REFERENCE, inv.ListReserveStandardsRequest()),
    "RecordScan": ({STAFF}, inv.RecordScanRequest(scan=inv.Scan(depot_code=DEPOT))),
    "RecordScans": ({STAFF}, inv.RecordScansRequest(scans=[inv.Scan(depot_code=DEPOT)])),
    "ResolveCode": (REFERENCE, inv.ResolveCodeRequest()),
    "CreateTransfer": ({STAFF, PLANNER}, inv.CreateTransferRequest(from_depot_code=DEPOT)),
    "GetTransfer": (READERS, inv.GetTransferRequest()),
    "ListTransfers": (REFERENCE, inv.ListTransfersRequest(depot_code=DEPOT)),
    "StartCount": ({STAFF}, inv.StartCountRequest(depot_code=DEPOT)),
    "CloseCount": ({STAFF}, inv.CloseCountRequest()),
    "ListExpiring": (REFERENCE, inv.ListExpiringRequest(depot_code=DEPOT)),
    "ListInspectionsDue": (REFERENCE, inv.ListInspectionsDueRequest(depot_code=DEPOT)),
    "GetHistory": (READERS, inv.GetHistoryRequest()),
    "WatchChanges": ({COMMAND}, inv.WatchChangesRequest(from_now=True)),
    "ExportKits": ({COMMAND}, inv.ExportKitsRequest()),
}
# Depot-bound RPCs: depot staff of another depot are refused.
DEPOT_BOUND = {
    "CreateKit",
    "ListKits",
    "RecordScan",
    "RecordScans",
    "CreateTransfer",
    "ListTransfers",
    "StartCount",
    "ListExpiring",
    "ListInspectionsDue",
}
ROUTING: dict[str, tuple[set[Role], Any]] = {
    "GetNetwork": (READERS, rt.GetNetworkRequest()),
    "ListPartnerServices": (READERS, rt.ListPartnerServicesRequest()),
    "UpsertPartnerService": ({PLANNER}, rt.UpsertPartnerServiceRequest()),
    "ListFleet": (READERS, rt.ListFleetRequest()),
    "UpsertVehicle": ({PLANNER}, rt.UpsertVehicleRequest()),
    "PlanDelivery": ({PLANNER}, rt.PlanDeliveryRequest()),
    "GetPlan": (READERS, rt.GetPlanRequest()),
    "ListPlans": (READERS, rt.ListPlansRequest()),
    "CommitPlan": ({PLANNER}, rt.CommitPlanRequest()),
    "EstimateDeliveryTimes": (READERS, rt.EstimateDeliveryTimesRequest(cities=["nowhere"])),
}
GATEWAY: dict[str, tuple[set[Role], Any]] = {
    "GetReadiness": (READERS, gw.GetReadinessRequest()),
    "ListReadiness": (READERS, gw.ListReadinessRequest()),
    "ListScopes": (READERS, gw.ListScopesRequest()),
    "WatchReadiness": (READERS, gw.WatchReadinessRequest()),
}
SERVICES = {
    "inventory": (inv.DESCRIPTOR.services_by_name["InventoryService"], INVENTORY),
    "routing": (rt.DESCRIPTOR.services_by_name["RoutingService"], ROUTING),
    "gateway": (gw.DESCRIPTOR.services_by_name["ReadinessService"], GATEWAY),
}
AUTH_CODES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


@dataclass
class Trio:
    addresses: dict[str, str]


@pytest.fixture(scope="module")
async def trio(database_url: str) -> AsyncIterator[Trio]:
    inventory = await start_inventory(database_url)
    routing = await routing_server.start(
        ServerSettings(
            service="routing", database_url=database_url, auth_public_keys=auth.PUBLIC_KEYS
        ),
        inventory_address=inventory.address,
        solver_processes=1,
    )
    gateway = await gateway_server.start(
        GatewaySettings(
            inventory_address=inventory.address,
            routing_address=routing.address,
            auth_public_keys=auth.PUBLIC_KEYS,
            token=auth.gateway_token(),
        ),
        today=lambda: TODAY,
        timings=FAST,
    )
    addresses = {
        "inventory": inventory.address,
        "routing": routing.address,
        "gateway": gateway.address,
    }
    yield Trio(addresses)
    await gateway.stop(0)
    await routing.stop(0)
    await inventory.stop(0)


def _forged() -> str:
    claims = jwt.decode(auth.token(), options={"verify_signature": False})
    kid = key_id(auth.KEY.public_key())
    return jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid})


BAD_TOKENS: dict[str, Callable[[], str | None]] = {
    "no token": lambda: None,
    "expired": lambda: auth.token(ttl=timedelta(minutes=-10)),
    "forged signature": _forged,
    "not a JWT": lambda: "let-me-in",
}


async def _call(address: str, service: Any, method: str, request: Any, token: str | None) -> Any:
    """The status code of one call (OK when it answers), within a few seconds."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    path = f"/{service.full_name}/{method}"
    stream = service.methods_by_name[method].server_streaming
    async with grpc.aio.insecure_channel(address) as channel:
        if stream:
            call = channel.unary_stream(
                path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=lambda b: b,
            )(request, metadata=metadata, timeout=3)
        else:
            call = channel.unary_unary(
                path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=lambda b: b,
            )(request, metadata=metadata, timeout=10)
        try:
            if stream:
                async for _ in call:
                    break
                call.cancel()
            else:
                await call
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def _cases() -> list[tuple[str, str]]:
    return [(name, method) for name, (_, table) in SERVICES.items() for method in table]


def test_the_table_covers_every_rpc_of_every_service() -> None:
    for _, (service, table) in SERVICES.items():
        assert sorted(table) == sorted(m.name for m in service.methods)


@pytest.mark.parametrize(("service_name", "method"), _cases())
async def test_every_rpc_every_role_every_bad_token(
    trio: Trio, service_name: str, method: str
) -> None:
    service, table = SERVICES[service_name]
    allowed, request = table[method]
    address = trio.addresses[service_name]
    got: dict[str, Any] = {}
    for case, make in BAD_TOKENS.items():
        got[case] = await _call(address, service, method, request, make())
    for role in Role:
        depots = [DEPOT] if role is STAFF else []
        got[role.value] = await _call(
            address, service, method, request, auth.token(role, depots, subject=f"as-{role}")
        )
    if STAFF in allowed and method in DEPOT_BOUND:
        got["staff elsewhere"] = await _call(
            address, service, method, request, auth.token(STAFF, [OTHER])
        )
    expected_denied = {r.value for r in Role if r not in allowed | {ADMIN}}
    for case in BAD_TOKENS:
        assert got[case] == grpc.StatusCode.UNAUTHENTICATED, (case, got)
    for role in Role:
        if role.value in expected_denied:
            assert got[role.value] == grpc.StatusCode.PERMISSION_DENIED, (role, got)
        else:
            assert got[role.value] not in AUTH_CODES, (role, got)
    if "staff elsewhere" in got:
        assert got["staff elsewhere"] == grpc.StatusCode.PERMISSION_DENIED, got


async def test_health_and_reflection_need_no_token(trio: Trio) -> None:
    for address in trio.addresses.values():
        async with grpc.aio.insecure_channel(address) as channel:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert answer.status in (
                health_pb2.HealthCheckResponse.SERVING,
                health_pb2.HealthCheckResponse.NOT_SERVING,
            )
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async with grpc.aio.insecure_channel(trio.addresses["inventory"]) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        async for answer in call:
            names = {s.name for s in answer.list_services_response.service}
            assert "muster.inventory.v1.InventoryService" in names
            break
