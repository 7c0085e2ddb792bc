"""The limits, and a regression test for each hole the fuzzing found.

Each test names the bug it pins: what came back before the fix.
"""

from __future__ import annotations

import base64

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.routing.v1 import routing_service_pb2 as rt

from services.common.server import MAX_MESSAGE_BYTES
from tests.hardening.calls import SERVICES
from tests.hardening.conftest import World
from tests.support import auth

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def _refusal(
    world: World, service: str, name: str, request: object
) -> tuple[grpc.StatusCode, list[str]]:
    """The code and the fields the BadRequest names."""
    m = SERVICES[service].methods_by_name[name]
    path = f"/{SERVICES[service].full_name}/{m.name}"
    call = world.caller.channel(service).unary_unary(
        path,
        request_serializer=lambda r: r if isinstance(r, bytes) else r.SerializeToString(),
        response_deserializer=lambda b: b,
    )
    try:
        await call(request, metadata=world.caller.metadata, timeout=20)
    except grpc.aio.AioRpcError as error:
        status = rpc_status.from_call(error)
        return error.code(), _fields(status)
    return grpc.StatusCode.OK, []


def _fields(status: status_pb2.Status | None) -> list[str]:
    found: list[str] = []
    for detail in status.details if status else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found += [v.field for v in bad.field_violations]
    return found


@pytest.mark.parametrize("data", [b"\x00", b"\xff\xff\xff", b"\x0a\x05ab"])
async def test_undecodable_bytes_are_invalid_argument_not_unknown(
    world: World, data: bytes
) -> None:
    # Was UNKNOWN: grpc's own answer when the generated deserializer raises DecodeError.
    code, fields = await _refusal(world, "inventory", "GetDepot", data)
    assert (code, fields) == (INVALID, ["request"])


async def test_undecodable_bytes_without_a_token_are_unauthenticated(world: World) -> None:
    path = f"/{SERVICES['inventory'].full_name}/GetDepot"
    call = world.caller.channel("inventory").unary_unary(
        path, request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(b"\x00", timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(0, -1), (0, 1_000_000_000), (253402300800, 0), (-62135596801, 0), (253402300799, 0)],
)
async def test_a_plan_starting_at_no_possible_time_is_invalid(
    world: World, seconds: int, nanos: int
) -> None:
    # Was INTERNAL: Timestamp.ToDatetime raised ValueError / the +08:00 conversion overflowed.
    request = rt.PlanDeliveryRequest()
    request.start_time.seconds, request.start_time.nanos = seconds, nanos
    code, fields = await _refusal(world, "routing", "PlanDelivery", request)
    assert code == INVALID and "start_time" in fields


async def test_a_demand_due_at_no_possible_time_is_invalid(world: World) -> None:
    request = rt.PlanDeliveryRequest(
        demands=[rt.DemandSpec(demand_id="d1", destination=rt.Destination(city="songyuan"))]
    )
    request.demands[0].deadline.nanos = -1
    code, fields = await _refusal(world, "routing", "PlanDelivery", request)
    assert code == INVALID and "demands[0].deadline" in fields


@pytest.mark.parametrize(
    ("service", "name", "request_"),
    [
        ("inventory", "GetDepot", inv.GetDepotRequest(code="é" * 100_000)),
        (
            "inventory",
            "UpdateDepot",
            inv.UpdateDepotRequest(
                depot=inv.Depot(code="D-CORPS"), update_mask={"paths": ["x" * 100_000] * 3}
            ),
        ),
        (
            "inventory",
            "CreateKit",
            inv.CreateKitRequest(units=[inv.Unit(serial="é" * 200)] * 2000),
        ),
        (
            "routing",
            "PlanDelivery",
            rt.PlanDeliveryRequest(
                demands=[rt.DemandSpec(destination=rt.Destination(city="é" * 50_000))]
            ),
        ),
    ],
)
async def test_a_refusal_quoting_a_huge_value_still_arrives_whole(
    world: World, service: str, name: str, request_: object
) -> None:
    # Was RESOURCE_EXHAUSTED ("received metadata size exceeds hard limit"): the status quoted
    # the whole value in the trailers, past the client's 16 KiB; the caller lost the details.
    code, fields = await _refusal(world, service, name, request_)
    assert code == INVALID and fields


def _token(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}|{key}".encode()).decode()


@pytest.mark.parametrize("key", ["9" * 30, "2147483648", "\u00b2", "-1"])
@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("ListTransfers", lambda t: inv.ListTransfersRequest(page_token=t)),
        ("ListExpiring", lambda t: inv.ListExpiringRequest(depot_code="D-CORPS", page_token=t)),
        (
            "ListInspectionsDue",
            lambda t: inv.ListInspectionsDueRequest(depot_code="D-CORPS", page_token=t),
        ),
        (
            "GetHistory",
            lambda t: inv.GetHistoryRequest(code="D-CORPS/GEO-USAR/1", page_token=t),
        ),
    ],
)
async def test_a_page_token_with_a_key_no_list_gives_out_is_invalid(
    world: World, name: str, make: object, key: str
) -> None:
    # Was INTERNAL: "integer/bigint out of range" (DataError) or int("²") raising ValueError.
    kind = {
        "ListTransfers": "transfers",
        "ListExpiring": "expiring",
        "ListInspectionsDue": "inspections",
        "GetHistory": "history",
    }[name]
    if key == "2147483648" and kind != "transfers":
        key = "9" * 20
    code, fields = await _refusal(world, "inventory", name, make(_token(kind, key)))  # type: ignore[operator]
    assert (code, fields) == (INVALID, ["page_token"])


@pytest.mark.parametrize(
    ("service", "name", "request_", "field"),
    [
        (
            "inventory",
            "CreateTransfer",
            inv.CreateTransferRequest(kit_labels=["K"] * 501),
            "kit_labels",
        ),
        (
            "inventory",
            "CreateKitTemplate",
            inv.CreateKitTemplateRequest(
                template=inv.KitTemplate(lines=[inv.TemplateLine(item_type_code="X")] * 201)
            ),
            "template.lines",
        ),
        ("inventory", "RecordScans", inv.RecordScansRequest(scans=[inv.Scan()] * 501), "scans"),
        (
            "routing",
            "EstimateDeliveryTimes",
            rt.EstimateDeliveryTimesRequest(template_codes=["GEO-USAR"] * 101),
            "template_codes",
        ),
        (
            "routing",
            "EstimateDeliveryTimes",
            rt.EstimateDeliveryTimesRequest(cities=["songyuan"] * 500),
            "cities",
        ),
        (
            "routing",
            "PlanDelivery",
            rt.PlanDeliveryRequest(demands=[rt.DemandSpec()] * 51),
            "demands",
        ),
        # Was a plan that ran past any deadline (500 kits: over 20 s with a 0.3 s budget) and,
        # at 50 demands of 100 kits, a solver process grown past 9 GB.
        (
            "routing",
            "PlanDelivery",
            rt.PlanDeliveryRequest(
                demands=[rt.DemandSpec(demand_id=f"d{i}", count=100) for i in range(2)]
            ),
            "demands",
        ),
    ],
)
async def test_lists_past_their_limit_are_refused_naming_the_field(
    world: World, service: str, name: str, request_: object, field: str
) -> None:
    code, fields = await _refusal(world, service, name, request_)
    assert code == INVALID and field in fields


async def test_a_message_past_the_size_limit_is_resource_exhausted_and_the_server_lives(
    world: World,
) -> None:
    request = inv.GetDepotRequest(code="x" * (MAX_MESSAGE_BYTES + 1))
    code, _ = await _refusal(world, "inventory", "GetDepot", request)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await world.caller.serving("inventory")


async def _create_location(world: World, metadata: list[tuple[str, str]]) -> grpc.StatusCode:
    call = world.caller.channel("inventory").unary_unary(
        f"/{SERVICES['inventory'].full_name}/CreateLocation",
        request_serializer=lambda r: r.SerializeToString(),
        response_deserializer=lambda b: b,
    )
    request = inv.CreateLocationRequest(
        location=inv.Location(depot_code="D-DET-JILIN", label=f"H-{len(str(metadata))}")
    )
    try:
        await call(request, metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("request_id", ["r" * 129, "a b", "r" * 3000])
async def test_a_request_id_header_the_audit_log_cannot_hold_is_invalid(
    world: World, request_id: str
) -> None:
    # Was INTERNAL on every mutation: audit_log.request_id is 128 characters (DataError).
    metadata = [*world.caller.metadata, ("x-request-id", request_id)]
    assert await _create_location(world, metadata) == INVALID


async def test_a_request_id_header_of_128_characters_is_taken(world: World) -> None:
    metadata = [*world.caller.metadata, ("x-request-id", "r" * 128)]
    assert await _create_location(world, metadata) == grpc.StatusCode.OK


async def test_a_token_whose_subject_the_audit_log_cannot_hold_is_unauthenticated(
    world: World,
) -> None:
    # Was INTERNAL on every mutation: audit_log.actor is 128 characters (DataError).
    metadata = [("authorization", f"Bearer {auth.token(subject='s' * 129)}")]
    assert await _create_location(world, metadata) == grpc.StatusCode.UNAUTHENTICATED
