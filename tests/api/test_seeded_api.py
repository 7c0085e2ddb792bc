"""The seeded Jilin network, read over gRPC."""

from muster.inventory.v1 import inventory_service_pb2 as pb


async def test_list_depots_returns_the_twenty_seeded_depots(seeded_stub) -> None:
    answer = await seeded_stub.ListDepots(pb.ListDepotsRequest(page_size=100))
    assert len(answer.depots) == 20
    tiers = [d.tier for d in answer.depots]
    assert tiers.count(pb.TIER_PROVINCIAL) == 1
    assert tiers.count(pb.TIER_REGIONAL) == 4
    assert tiers.count(pb.TIER_DISTRIBUTION_CENTER) == 4
    assert all(d.floor_area_m2 > 0 for d in answer.depots)


async def test_compliance_reports_every_depot_against_its_minimum(seeded_stub) -> None:
    report = await seeded_stub.GetDepotCompliance(pb.GetDepotComplianceRequest())
    assert len(report.depots) == 20
    non_compliant = {c.depot_code for c in report.depots if not c.compliant}
    assert non_compliant == {"D-DET-CHANGBAISHAN"}
    corps = next(c for c in report.depots if c.depot_code == "D-CORPS")
    assert corps.minimum_area_m2 == 2000


async def test_seeded_kit_with_expired_lot_is_incomplete_naming_the_lot(seeded_stub) -> None:
    got = await seeded_stub.GetKit(pb.GetKitRequest(label="D-CORPS/WATER-FLOOD/1"))
    assert got.kit.state == pb.Kit.STATE_INCOMPLETE
    [shortfall] = got.shortfalls
    assert shortfall.item_type_code == "W16"
    assert shortfall.reason == pb.SHORTFALL_REASON_LOT_EXPIRED
    [fault] = shortfall.faults
    lot = next(lt for lt in got.lots if lt.item_type_code == "W16")
    assert fault.lot_number == lot.lot_number != ""


async def test_seeded_complete_kit_is_ready(seeded_stub) -> None:
    got = await seeded_stub.GetKit(pb.GetKitRequest(label="D-CORPS/GEO-USAR/1"))
    assert got.kit.state == pb.Kit.STATE_READY
    assert not got.shortfalls
    assert got.kit.category == pb.CATEGORY_GEOLOGICAL


async def test_seeded_templates_cover_the_five_categories(seeded_stub) -> None:
    answer = await seeded_stub.ListKitTemplates(pb.ListKitTemplatesRequest())
    assert {t.category for t in answer.templates} == {
        pb.CATEGORY_GEOLOGICAL,
        pb.CATEGORY_MOUNTAIN,
        pb.CATEGORY_WATER,
        pb.CATEGORY_PETROCHEMICAL,
        pb.CATEGORY_BUILDING_FIRE,
    }
    assert all(any(line.pacing for line in t.lines) for t in answer.templates)
