"""Depots, bins, and area compliance over gRPC on a real port."""

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from muster.inventory.v1 import inventory_service_pb2 as pb

from tests import factories as f
from tests.api.helpers import fails, violations

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def test_created_depot_reads_back(stub) -> None:
    depot = f.depot()
    created = await stub.CreateDepot(pb.CreateDepotRequest(request_id=f.request_id(), depot=depot))
    got = await stub.GetDepot(pb.GetDepotRequest(code=depot.code))
    assert got.depot == created.depot
    assert got.depot.tier == pb.TIER_CITY and got.depot.floor_area_m2 == 1200.0
    assert got.depot.create_time.seconds > 0


async def test_negative_area_is_refused_naming_the_field(stub) -> None:
    error = await fails(
        stub.CreateDepot(pb.CreateDepotRequest(depot=f.depot(floor_area_m2=-5))), INVALID
    )
    assert "depot.floor_area_m2" in violations(error)
    assert "at least 0" in error.details()


async def test_empty_code_is_refused_naming_the_field(stub) -> None:
    error = await fails(stub.CreateDepot(pb.CreateDepotRequest(depot=f.depot(code=""))), INVALID)
    assert violations(error) == {"depot.code": "must not be empty"}


async def test_unknown_and_missing_tier_are_refused(stub) -> None:
    for tier in (99, pb.TIER_UNSPECIFIED):
        error = await fails(
            stub.CreateDepot(pb.CreateDepotRequest(depot=f.depot(tier=tier))), INVALID
        )
        assert "depot.tier" in violations(error)


async def test_every_bad_field_is_named_at_once(stub) -> None:
    bad = f.depot(code="", name="", floor_area_m2=-1, location=pb.GeoPoint(latitude=91))
    error = await fails(stub.CreateDepot(pb.CreateDepotRequest(depot=bad)), INVALID)
    assert set(violations(error)) == {
        "depot.code",
        "depot.name",
        "depot.floor_area_m2",
        "depot.location.latitude",
    }


async def test_duplicate_depot_code_already_exists(stub) -> None:
    depot = f.depot()
    await stub.CreateDepot(pb.CreateDepotRequest(depot=depot))
    error = await fails(
        stub.CreateDepot(pb.CreateDepotRequest(depot=depot)), grpc.StatusCode.ALREADY_EXISTS
    )
    assert depot.code in error.details()


async def test_unknown_depot_not_found(stub) -> None:
    await fails(stub.GetDepot(pb.GetDepotRequest(code="NO-SUCH")), grpc.StatusCode.NOT_FOUND)


async def test_depot_below_its_tier_minimum_is_stored_and_reported(stub) -> None:
    small = f.depot(tier=pb.TIER_PROVINCIAL, floor_area_m2=1800)
    await stub.CreateDepot(pb.CreateDepotRequest(depot=small))
    report = await stub.GetDepotCompliance(pb.GetDepotComplianceRequest(depot_code=small.code))
    [c] = report.depots
    assert (c.compliant, c.minimum_area_m2, c.reason) == (
        False,
        2000.0,
        "DEPOT_AREA_BELOW_STANDARD",
    )


async def test_update_changes_only_masked_fields(stub) -> None:
    parent, child = f.depot(tier=pb.TIER_REGIONAL, floor_area_m2=1500), f.depot()
    await stub.CreateDepot(pb.CreateDepotRequest(depot=parent))
    await stub.CreateDepot(pb.CreateDepotRequest(depot=child))
    change = pb.Depot(code=child.code, floor_area_m2=2500, parent_code=parent.code, name="ignored")
    updated = await stub.UpdateDepot(
        pb.UpdateDepotRequest(
            depot=change, update_mask=FieldMask(paths=["floor_area_m2", "parent_code"])
        )
    )
    assert updated.depot.floor_area_m2 == 2500
    assert updated.depot.parent_code == parent.code
    assert updated.depot.name == "Test depot"


async def test_update_refuses_unknown_mask_paths_and_unknown_parent(stub) -> None:
    depot = f.depot()
    await stub.CreateDepot(pb.CreateDepotRequest(depot=depot))
    error = await fails(
        stub.UpdateDepot(
            pb.UpdateDepotRequest(
                depot=pb.Depot(code=depot.code), update_mask=FieldMask(paths=["code"])
            )
        ),
        INVALID,
    )
    assert "update_mask" in violations(error)
    error = await fails(
        stub.UpdateDepot(
            pb.UpdateDepotRequest(
                depot=pb.Depot(code=depot.code, parent_code="NOPE"),
                update_mask=FieldMask(paths=["parent_code"]),
            )
        ),
        INVALID,
    )
    assert "depot.parent_code" in violations(error)


async def test_list_depots_pages_through_everything_once(stub) -> None:
    city = f.unique("city").lower()
    codes = set()
    for _ in range(5):
        depot = f.depot(city=city)
        codes.add(depot.code)
        await stub.CreateDepot(pb.CreateDepotRequest(depot=depot))
    seen: list[str] = []
    token = ""
    while True:
        page = await stub.ListDepots(pb.ListDepotsRequest(page_size=2, page_token=token, city=city))
        assert len(page.depots) <= 2
        seen.extend(d.code for d in page.depots)
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(codes)


async def test_bad_page_token_is_invalid(stub) -> None:
    error = await fails(stub.ListDepots(pb.ListDepotsRequest(page_token="***")), INVALID)
    assert "page_token" in violations(error)


async def test_locations_belong_to_a_depot(stub) -> None:
    depot = f.depot()
    await stub.CreateDepot(pb.CreateDepotRequest(depot=depot))
    label = f.unique("BIN")
    await stub.CreateLocation(
        pb.CreateLocationRequest(
            location=pb.Location(depot_code=depot.code, label=label, zone="A", aisle="1", shelf="2")
        )
    )
    listed = await stub.ListLocations(pb.ListLocationsRequest(depot_code=depot.code))
    assert [(loc.label, loc.zone) for loc in listed.locations] == [(label, "A")]
    await fails(
        stub.CreateLocation(
            pb.CreateLocationRequest(location=pb.Location(depot_code="NOPE", label=f.unique("B")))
        ),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_parent_change_that_makes_a_loop_is_refused(stub) -> None:
    top, middle = f.depot(tier=pb.TIER_PROVINCIAL, floor_area_m2=2000), f.depot()
    await stub.CreateDepot(pb.CreateDepotRequest(depot=top))
    await stub.CreateDepot(
        pb.CreateDepotRequest(depot=f.depot(code=middle.code, parent_code=top.code))
    )
    for parent in (middle.code, top.code):
        mask = FieldMask(paths=["parent_code"])
        change = pb.Depot(code=top.code, parent_code=parent)
        error = await fails(
            stub.UpdateDepot(pb.UpdateDepotRequest(depot=change, update_mask=mask)), INVALID
        )
        assert "loop" in violations(error)["depot.parent_code"]
    got = await stub.GetDepot(pb.GetDepotRequest(code=top.code))
    assert got.depot.parent_code == ""


async def test_control_characters_in_text_are_invalid_not_internal(stub) -> None:
    error = await fails(
        stub.CreateDepot(pb.CreateDepotRequest(depot=f.depot(name="a\x00b"))), INVALID
    )
    assert "depot.name" in violations(error)


async def test_depot_without_a_location_is_invalid(stub) -> None:
    depot = f.depot()
    depot.ClearField("location")
    error = await fails(stub.CreateDepot(pb.CreateDepotRequest(depot=depot)), INVALID)
    assert "depot.location" in violations(error)


async def test_request_id_with_spaces_is_invalid(stub) -> None:
    error = await fails(
        stub.CreateDepot(pb.CreateDepotRequest(request_id="x" * 128 + "  ", depot=f.depot())),
        INVALID,
    )
    assert "request_id" in violations(error)


async def test_page_token_of_another_list_is_invalid(stub) -> None:
    for _ in range(2):
        await stub.CreateItemType(pb.CreateItemTypeRequest(item_type=f.item_type()))
    items = await stub.ListItemTypes(pb.ListItemTypesRequest(page_size=1))
    assert items.next_page_token
    error = await fails(
        stub.ListDepots(pb.ListDepotsRequest(page_token=items.next_page_token)), INVALID
    )
    assert "page_token" in violations(error)


async def test_the_request_id_comes_back_in_the_trailers_on_success_and_error(stub) -> None:
    call = stub.ListDepots(pb.ListDepotsRequest(), metadata=[("x-request-id", "req-7")])
    await call
    assert ("x-request-id", "req-7") in tuple(await call.trailing_metadata())
    failing = stub.GetDepot(pb.GetDepotRequest(code="NOPE"), metadata=[("x-request-id", "req-8")])
    error = await fails(failing, grpc.StatusCode.NOT_FOUND)
    assert ("x-request-id", "req-8") in tuple(error.trailing_metadata())
