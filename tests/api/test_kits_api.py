"""Item types, templates, kits and reserve standards over gRPC on a real port."""

import asyncio

import grpc
import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb

from tests import factories as f
from tests.api.helpers import fails, violations

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
async def world(stub):
    """A depot, a serial item (pacing), a lot item, and a template over both."""
    depot = f.depot()
    await stub.CreateDepot(pb.CreateDepotRequest(depot=depot))
    boat = f.item_type(pb.TRACKING_MODE_SERIAL, inspection_interval_days=30)
    aid = f.item_type(pb.TRACKING_MODE_LOT, shelf_life_days=730)
    for item in (boat, aid):
        await stub.CreateItemType(pb.CreateItemTypeRequest(item_type=item))
    template = pb.KitTemplate(
        code=f.unique("T"),
        category=pb.CATEGORY_WATER,
        name="Water module",
        lines=[
            pb.TemplateLine(item_type_code=boat.code, quantity=2, pacing=True),
            pb.TemplateLine(item_type_code=aid.code, quantity=3),
        ],
    )
    created = await stub.CreateKitTemplate(pb.CreateKitTemplateRequest(template=template))
    return depot, boat, aid, created.template


def _kit_request(world, *, units=2, lot_expiry="2027-06-01", **overrides) -> pb.CreateKitRequest:
    depot, boat, aid, template = world
    label = f.unique("KIT")
    fields = {
        "request_id": f.request_id(),
        "label": label,
        "template_code": template.code,
        "depot_code": depot.code,
        "units": [
            pb.Unit(
                item_type_code=boat.code,
                serial=f"{label}-B{i}",
                next_inspection_date=f.date("2026-12-20"),
            )
            for i in range(units)
        ],
        "lots": [
            pb.Lot(
                item_type_code=aid.code,
                lot_number="L1",
                quantity=3,
                expiry_date=f.date(lot_expiry),
            )
        ],
    }
    fields.update(overrides)
    return pb.CreateKitRequest(**fields)


async def test_template_totals_come_from_item_weights(world) -> None:
    _, _, _, template = world
    assert template.version == 1
    assert template.total_weight_kg == pytest.approx(5 * 2.5)
    assert template.total_volume_m3 == pytest.approx(5 * 0.01)


async def test_template_line_with_quantity_zero_is_invalid(stub, world) -> None:
    _, boat, _, _ = world
    bad = pb.KitTemplate(
        code=f.unique("T"),
        category=pb.CATEGORY_WATER,
        name="x",
        lines=[pb.TemplateLine(item_type_code=boat.code, quantity=0)],
    )
    error = await fails(stub.CreateKitTemplate(pb.CreateKitTemplateRequest(template=bad)), INVALID)
    assert "template.lines[0].quantity" in violations(error)


async def test_template_with_unknown_item_is_invalid(stub) -> None:
    bad = pb.KitTemplate(
        code=f.unique("T"),
        category=pb.CATEGORY_WATER,
        name="x",
        lines=[pb.TemplateLine(item_type_code="NO-SUCH", quantity=1)],
    )
    error = await fails(stub.CreateKitTemplate(pb.CreateKitTemplateRequest(template=bad)), INVALID)
    assert "template.lines[0].item_type_code" in violations(error)


async def test_complete_kit_is_ready(stub, world) -> None:
    created = await stub.CreateKit(_kit_request(world))
    assert created.kit.state == pb.Kit.STATE_READY
    got = await stub.GetKit(pb.GetKitRequest(label=created.kit.label))
    assert got.kit.state == pb.Kit.STATE_READY
    assert len(got.units) == 2 and len(got.lots) == 1 and not got.shortfalls


async def test_kit_with_expired_lot_is_incomplete_and_names_it(stub, world) -> None:
    created = await stub.CreateKit(_kit_request(world, lot_expiry="2026-01-01"))
    got = await stub.GetKit(pb.GetKitRequest(label=created.kit.label))
    assert got.kit.state == pb.Kit.STATE_INCOMPLETE
    [shortfall] = got.shortfalls
    assert shortfall.reason == pb.SHORTFALL_REASON_LOT_EXPIRED
    assert shortfall.faults[0].lot_number == "L1"


async def test_kit_missing_a_pacing_unit_names_it_first(stub, world) -> None:
    created = await stub.CreateKit(_kit_request(world, units=1, lot_expiry="2026-01-01"))
    got = await stub.GetKit(pb.GetKitRequest(label=created.kit.label))
    assert [s.reason for s in got.shortfalls] == [
        pb.SHORTFALL_REASON_PACING_ITEM_MISSING,
        pb.SHORTFALL_REASON_LOT_EXPIRED,
    ]


async def test_same_request_id_twice_makes_one_kit_with_the_same_answer(stub, world) -> None:
    request = _kit_request(world)
    first = await stub.CreateKit(request)
    second = await stub.CreateKit(request)
    assert first == second
    listed = await stub.ListKits(pb.ListKitsRequest(depot_code=world[0].code))
    assert [k.label for k in listed.kits] == [request.label]


async def test_concurrent_copies_of_one_request_make_one_kit(stub, world) -> None:
    request = _kit_request(world)
    answers = await asyncio.gather(*(stub.CreateKit(request) for _ in range(8)))
    assert all(a == answers[0] for a in answers)
    listed = await stub.ListKits(pb.ListKitsRequest(depot_code=world[0].code))
    assert len(listed.kits) == 1


async def test_request_id_reused_for_another_request_is_refused(stub, world) -> None:
    first = _kit_request(world)
    await stub.CreateKit(first)
    other = _kit_request(world, request_id=first.request_id)
    error = await fails(stub.CreateKit(other), INVALID)
    assert "request_id" in violations(error)
    await fails(stub.GetKit(pb.GetKitRequest(label=other.label)), grpc.StatusCode.NOT_FOUND)


async def test_duplicate_label_without_request_id_already_exists(stub, world) -> None:
    request = _kit_request(world, request_id="")
    await stub.CreateKit(request)
    again = _kit_request(world, request_id="", label=request.label)
    await fails(stub.CreateKit(again), grpc.StatusCode.ALREADY_EXISTS)


async def test_refused_kit_leaves_nothing_behind(stub, world) -> None:
    taken = _kit_request(world)
    await stub.CreateKit(taken)
    clash = _kit_request(world)
    clash.units[1].serial = taken.units[0].serial  # a serial already in another kit
    await fails(stub.CreateKit(clash), grpc.StatusCode.ALREADY_EXISTS)
    await fails(stub.GetKit(pb.GetKitRequest(label=clash.label)), grpc.StatusCode.NOT_FOUND)
    retry = _kit_request(world, label=clash.label)
    assert (await stub.CreateKit(retry)).kit.label == clash.label


async def test_kit_contents_must_match_the_template(stub, world) -> None:
    aid = world[2]
    request = _kit_request(world)
    request.units.append(pb.Unit(item_type_code=aid.code, serial="X1"))  # a LOT item as a unit
    error = await fails(stub.CreateKit(request), INVALID)
    assert f"units[{len(request.units) - 1}].item_type_code" in violations(error)


async def test_unknown_kit_not_found(stub) -> None:
    await fails(stub.GetKit(pb.GetKitRequest(label="NO-SUCH-KIT")), grpc.StatusCode.NOT_FOUND)


async def test_kit_at_a_bin_of_another_depot_is_refused(stub, world) -> None:
    other = f.depot()
    await stub.CreateDepot(pb.CreateDepotRequest(depot=other))
    bin_label = f.unique("BIN")
    await stub.CreateLocation(
        pb.CreateLocationRequest(location=pb.Location(depot_code=other.code, label=bin_label))
    )
    error = await fails(
        stub.CreateKit(_kit_request(world, location_label=bin_label)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert bin_label in error.details()


async def test_new_template_version_leaves_existing_kits_on_theirs(stub, world) -> None:
    _, boat, aid, template = world
    old_kit = await stub.CreateKit(_kit_request(world))
    v2 = pb.KitTemplate(
        code=template.code,
        category=template.category,
        name="Water module, more boats",
        lines=[
            pb.TemplateLine(item_type_code=boat.code, quantity=4, pacing=True),
            pb.TemplateLine(item_type_code=aid.code, quantity=3),
        ],
    )
    published = await stub.CreateKitTemplate(pb.CreateKitTemplateRequest(template=v2))
    assert published.template.version == 2
    got = await stub.GetKit(pb.GetKitRequest(label=old_kit.kit.label))
    assert (got.kit.template_version, got.kit.state) == (1, pb.Kit.STATE_READY)
    latest = await stub.GetKitTemplate(pb.GetKitTemplateRequest(code=template.code))
    first = await stub.GetKitTemplate(pb.GetKitTemplateRequest(code=template.code, version=1))
    assert (latest.template.version, first.template.lines[0].quantity) == (2, 2)
    new_kit = await stub.CreateKit(_kit_request(world))
    assert (new_kit.kit.template_version, new_kit.kit.state) == (2, pb.Kit.STATE_INCOMPLETE)


async def test_list_kits_filters_by_state_and_category(stub, world) -> None:
    depot = world[0]
    ready = await stub.CreateKit(_kit_request(world))
    broken = await stub.CreateKit(_kit_request(world, lot_expiry="2025-12-31"))
    incomplete = await stub.ListKits(
        pb.ListKitsRequest(depot_code=depot.code, state=pb.Kit.STATE_INCOMPLETE)
    )
    assert [k.label for k in incomplete.kits] == [broken.kit.label]
    water = await stub.ListKits(
        pb.ListKitsRequest(depot_code=depot.code, category=pb.CATEGORY_WATER)
    )
    assert {k.label for k in water.kits} == {ready.kit.label, broken.kit.label}
    mountain = await stub.ListKits(
        pb.ListKitsRequest(depot_code=depot.code, category=pb.CATEGORY_MOUNTAIN)
    )
    assert list(mountain.kits) == []


async def test_reserve_standard_for_a_tier_and_a_depot(stub, world) -> None:
    depot, _, _, template = world
    for standard in (
        pb.ReserveStandard(template_code=template.code, tier=pb.TIER_CITY, quantity=1),
        pb.ReserveStandard(template_code=template.code, depot_code=depot.code, quantity=3),
        pb.ReserveStandard(template_code=template.code, tier=pb.TIER_CITY, quantity=2),
    ):
        await stub.SetReserveStandard(pb.SetReserveStandardRequest(standard=standard))
    listed = await stub.ListReserveStandards(
        pb.ListReserveStandardsRequest(template_code=template.code)
    )
    got = {(s.WhichOneof("applies_to"), s.quantity) for s in listed.standards}
    assert got == {("tier", 2), ("depot_code", 3)}


async def test_reserve_standard_needs_a_target(stub, world) -> None:
    template = world[3]
    error = await fails(
        stub.SetReserveStandard(
            pb.SetReserveStandardRequest(
                standard=pb.ReserveStandard(template_code=template.code, quantity=1)
            )
        ),
        INVALID,
    )
    assert "standard.applies_to" in violations(error)


async def test_item_type_with_bad_gtin_is_invalid(stub) -> None:
    error = await fails(
        stub.CreateItemType(pb.CreateItemTypeRequest(item_type=f.item_type(gtin="06950000000348"))),
        INVALID,
    )
    assert "item_type.gtin" in violations(error)


async def test_unit_never_inspected_of_an_inspected_type_makes_the_kit_incomplete(stub, world):
    request = _kit_request(world)
    for unit in request.units:
        unit.ClearField("next_inspection_date")
    got = await stub.CreateKit(request)
    assert got.kit.state == pb.Kit.STATE_INCOMPLETE
    [shortfall] = got.shortfalls
    assert {f.reason for f in shortfall.faults} == {pb.SHORTFALL_REASON_INSPECTION_OVERDUE}


async def test_last_inspection_sets_the_next_from_the_interval(stub, world):
    request = _kit_request(world)
    for unit in request.units:
        unit.ClearField("next_inspection_date")
        unit.last_inspection_date.CopyFrom(f.date("2026-11-20"))
    await stub.CreateKit(request)
    got = await stub.GetKit(pb.GetKitRequest(label=request.label))
    assert got.kit.state == pb.Kit.STATE_READY
    assert {(u.next_inspection_date.month, u.next_inspection_date.day) for u in got.units} == {
        (12, 20)
    }


async def test_lot_of_an_expiring_item_needs_an_expiry_date(stub, world):
    request = _kit_request(world)
    request.lots[0].ClearField("expiry_date")
    error = await fails(stub.CreateKit(request), INVALID)
    assert "lots[0].expiry_date" in violations(error)


async def test_concurrent_publishes_of_one_code_get_distinct_versions(stub, world):
    _, boat, _, template = world
    v_next = pb.KitTemplate(
        code=template.code,
        category=template.category,
        name="again",
        lines=[pb.TemplateLine(item_type_code=boat.code, quantity=1)],
    )
    answers = await asyncio.gather(
        *(
            stub.CreateKitTemplate(
                pb.CreateKitTemplateRequest(request_id=f.request_id(), template=v_next)
            )
            for _ in range(6)
        )
    )
    assert sorted(a.template.version for a in answers) == [2, 3, 4, 5, 6, 7]


async def test_concurrent_standards_for_one_target_all_succeed(stub, world):
    template = world[3]
    answers = await asyncio.gather(
        *(
            stub.SetReserveStandard(
                pb.SetReserveStandardRequest(
                    standard=pb.ReserveStandard(
                        template_code=template.code, tier=pb.TIER_REGIONAL, quantity=n
                    )
                )
            )
            for n in range(1, 7)
        )
    )
    assert len(answers) == 6
    listed = await stub.ListReserveStandards(
        pb.ListReserveStandardsRequest(template_code=template.code)
    )
    assert [s.quantity for s in listed.standards if s.tier == pb.TIER_REGIONAL] in (
        [[n] for n in range(1, 7)]
    )


async def test_two_kits_racing_for_one_serial_leave_no_half_kit(stub, world):
    first, second = _kit_request(world), _kit_request(world)
    second.units[0].serial = first.units[0].serial
    outcomes = await asyncio.gather(
        stub.CreateKit(first), stub.CreateKit(second), return_exceptions=True
    )
    failures = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(failures) == 1
    assert failures[0].code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.ALREADY_EXISTS)
    loser = second if outcomes[1] is failures[0] else first
    await fails(stub.GetKit(pb.GetKitRequest(label=loser.label)), grpc.StatusCode.NOT_FOUND)
