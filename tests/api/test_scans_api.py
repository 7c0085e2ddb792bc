"""Scanning over gRPC: rules, exactly-once, batches."""

import asyncio

import grpc
import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from sqlalchemy import text

from services.common.database import async_engine
from tests.api.helpers import error_reason, fails, violations
from tests.api.scan_world import World, build_world

A = pb.ScanAction
FAILED = grpc.StatusCode.FAILED_PRECONDITION
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
async def world(stub) -> World:
    return await build_world(stub)


async def _ledger_rows(database_url: str, depot_code: str) -> int:
    engine = async_engine(database_url)
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT count(*) FROM inventory.scans s JOIN inventory.depots d "
                "ON d.id = s.depot_id WHERE d.code = :code"
            ),
            {"code": depot_code},
        )
        count = found.scalar_one()
    await engine.dispose()
    return count


async def test_receive_creates_loose_stock_and_refuses_it_twice(world: World) -> None:
    result = await world.scan(
        world.unit("NEW-1"), A.SCAN_ACTION_RECEIVE, bin_code=world.bin("B-01")
    )
    assert result.accepted and result.ledger_seq > 0
    assert (result.subject.kind, result.subject.key) == (pb.SUBJECT_KIND_UNIT, "NEW-1")
    error = await fails(world.scan(world.unit("NEW-1"), A.SCAN_ACTION_RECEIVE), FAILED)
    assert error_reason(error) == "ALREADY_IN_STOCK"


async def test_receiving_a_lot_needs_a_quantity_and_adds_up(world: World, database_url) -> None:
    error = await fails(world.scan(world.lot("R1"), A.SCAN_ACTION_RECEIVE), INVALID)
    assert "scan.quantity" in violations(error)
    await world.scan(world.lot("R1"), A.SCAN_ACTION_RECEIVE, quantity=4)
    await world.scan(world.lot("R1"), A.SCAN_ACTION_RECEIVE, quantity=6)
    kit = await world.kit(lot_quantity=0)
    packed = await world.scan(world.lot("R1"), A.SCAN_ACTION_PACK, kit_code=kit.code, quantity=10)
    assert packed.accepted
    await fails(
        world.scan(world.lot("R1"), A.SCAN_ACTION_PACK, kit_code=kit.code, quantity=1), FAILED
    )


async def test_packing_the_last_item_makes_the_kit_ready(world: World) -> None:
    kit = await world.kit(units=1)
    assert kit.state == pb.Kit.STATE_INCOMPLETE
    await world.scan(world.unit("P-2"), A.SCAN_ACTION_RECEIVE)
    await world.scan(world.unit("P-2"), A.SCAN_ACTION_INSPECT_PASS)
    result = await world.scan(world.unit("P-2"), A.SCAN_ACTION_PACK, kit_code=kit.code)
    assert (result.kit_label, result.kit_state) == (kit.label, pb.Kit.STATE_READY)
    assert (await world.get(kit)).kit.state == pb.Kit.STATE_READY


async def test_a_quarantined_unit_cannot_be_packed_and_nothing_changes(world: World) -> None:
    kit = await world.kit(units=1)
    await world.scan(world.unit("Q-1"), A.SCAN_ACTION_RECEIVE)
    await world.scan(world.unit("Q-1"), A.SCAN_ACTION_INSPECT_FAIL)
    error = await fails(
        world.scan(world.unit("Q-1"), A.SCAN_ACTION_PACK, kit_code=kit.code), FAILED
    )
    assert error_reason(error) == "UNIT_QUARANTINED"
    got = await world.get(kit)
    assert len(got.units) == 1 and got.kit.state == pb.Kit.STATE_INCOMPLETE


async def test_inspect_fail_on_a_pacing_unit_makes_its_kit_incomplete_naming_it(world) -> None:
    kit = await world.kit()
    serial = (await world.get(kit)).units[0].serial
    result = await world.scan(world.unit(serial), A.SCAN_ACTION_INSPECT_FAIL)
    assert result.kit_state == pb.Kit.STATE_INCOMPLETE
    [shortfall] = (await world.get(kit)).shortfalls
    assert shortfall.reason == pb.SHORTFALL_REASON_PACING_ITEM_MISSING
    assert [(f.serial, f.reason) for f in shortfall.faults] == [
        (serial, pb.SHORTFALL_REASON_QUARANTINED)
    ]


async def test_inspect_pass_sets_the_next_due_date_from_the_interval(world: World) -> None:
    kit = await world.kit()
    serial = (await world.get(kit)).units[0].serial
    await world.scan(world.unit(serial), A.SCAN_ACTION_INSPECT_PASS)
    unit = next(u for u in (await world.get(kit)).units if u.serial == serial)
    assert (unit.next_inspection_date.year, unit.next_inspection_date.month) == (2026, 12)
    assert unit.next_inspection_date.day == 29  # 2026-11-29 + 30 days


async def test_scan_at_a_depot_that_does_not_hold_the_thing_is_refused(world: World) -> None:
    kit = await world.kit()
    error = await fails(
        world.scan(kit.code, A.SCAN_ACTION_ISSUE, depot_code=world.other.code), FAILED
    )
    assert error_reason(error) == "WRONG_DEPOT"


async def test_a_kit_not_ready_is_issued_only_with_an_override(world: World) -> None:
    kit = await world.kit(units=1)
    error = await fails(world.scan(kit.code, A.SCAN_ACTION_ISSUE), FAILED)
    assert error_reason(error) == "KIT_NOT_READY"
    assert "override" in error.details()
    result = await world.scan(kit.code, A.SCAN_ACTION_ISSUE, override_reason="flood at Jilin")
    assert result.kit_state == pb.Kit.STATE_DEPLOYED
    back = await world.scan(kit.code, A.SCAN_ACTION_RETURN)
    assert back.kit_state == pb.Kit.STATE_INCOMPLETE


async def test_two_clients_issuing_one_kit_at_once_exactly_one_succeeds(world: World) -> None:
    kit = await world.kit()
    outcomes = await asyncio.gather(
        world.scan(kit.code, A.SCAN_ACTION_ISSUE, operator="alice"),
        world.scan(kit.code, A.SCAN_ACTION_ISSUE, operator="bob"),
        return_exceptions=True,
    )
    ok = [o for o in outcomes if isinstance(o, pb.ScanResult)]
    refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(ok) == 1 and len(refused) == 1
    assert error_reason(refused[0]) == "KIT_ALREADY_ISSUED"
    assert "already issued" in refused[0].details()


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("0106950000000348" + "21SN1", "BAD_CHECK_DIGIT"),
        ("2312345", "UNKNOWN_AI"),
        ("01069500000003478", "TRAILING_CHARACTERS"),
        ("0106950000000347" + "17270231\x1d10L1", "BAD_DATE"),
    ],
)
async def test_malformed_labels_are_invalid_with_the_reason_and_write_nothing(
    world: World, database_url: str, code: str, reason: str
) -> None:
    before = await _ledger_rows(database_url, world.depot.code)
    error = await fails(world.scan(code, A.SCAN_ACTION_RECEIVE, quantity=1), INVALID)
    assert violations(error)["scan.code"].startswith(reason)
    assert await _ledger_rows(database_url, world.depot.code) == before


async def test_same_scan_three_times_counts_once_with_the_same_answer(world: World) -> None:
    scan = world.make(world.lot("ONCE"), A.SCAN_ACTION_RECEIVE, quantity=5)
    answers = [await world.stub.RecordScan(pb.RecordScanRequest(scan=scan)) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    kit = await world.kit(lot_quantity=0)
    await fails(
        world.scan(world.lot("ONCE"), A.SCAN_ACTION_PACK, kit_code=kit.code, quantity=6), FAILED
    )


async def test_fifty_concurrent_copies_of_one_scan_change_stock_once(world, database_url):
    scan = world.make(world.lot("FIFTY"), A.SCAN_ACTION_RECEIVE, quantity=5)
    before = await _ledger_rows(database_url, world.depot.code)
    answers = await asyncio.gather(
        *(world.stub.RecordScan(pb.RecordScanRequest(scan=scan)) for _ in range(50))
    )
    assert len({a.result.ledger_seq for a in answers}) == 1
    assert await _ledger_rows(database_url, world.depot.code) == before + 1
    kit = await world.kit(lot_quantity=0)
    packed = await world.scan(world.lot("FIFTY"), A.SCAN_ACTION_PACK, kit_code=kit.code)
    assert packed.accepted
    lots = (await world.get(kit)).lots
    assert [lt.quantity for lt in lots] == [5]


async def test_a_batch_keeps_order_and_a_refusal_leaves_the_others_standing(world) -> None:
    scans = [
        world.make(world.unit("B-1"), A.SCAN_ACTION_RECEIVE),
        world.make(world.unit("B-1"), A.SCAN_ACTION_RECEIVE),  # refused: already in stock
        world.make("2312345", A.SCAN_ACTION_RECEIVE),  # invalid label
        world.make(world.unit("B-2"), A.SCAN_ACTION_RECEIVE),
    ]
    answer = await world.stub.RecordScans(pb.RecordScansRequest(scans=scans))
    assert [r.scan_id for r in answer.results] == [s.scan_id for s in scans]
    assert [r.accepted for r in answer.results] == [True, False, False, True]
    assert answer.results[1].status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert answer.results[2].status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    kit = await world.kit(units=0)
    for serial in ("B-1", "B-2"):
        await world.scan(world.unit(serial), A.SCAN_ACTION_INSPECT_PASS)
        packed = await world.scan(world.unit(serial), A.SCAN_ACTION_PACK, kit_code=kit.code)
        assert packed.accepted


async def test_replaying_a_thousand_scans_three_times_changes_stock_once(world, database_url):
    scans = [
        world.make(world.unit(f"R{i:04d}"), A.SCAN_ACTION_RECEIVE, bin_code=world.bin("B-01"))
        for i in range(1000)
    ]
    first = []
    for rounds in range(3):
        answers = []
        for start in range(0, 1000, 500):
            batch = pb.RecordScansRequest(scans=scans[start : start + 500])
            answers.extend((await world.stub.RecordScans(batch)).results)
        assert all(a.accepted for a in answers)
        if rounds == 0:
            first = answers
        assert [a.ledger_seq for a in answers] == [a.ledger_seq for a in first]
    assert await _ledger_rows(database_url, world.depot.code) == 1000


async def test_batches_touching_the_same_kits_in_opposite_orders_all_land(world: World) -> None:
    kits = [await world.kit(), await world.kit()]

    def batch(order: list[pb.Kit]) -> pb.RecordScansRequest:
        scans = [
            world.make(kit.code, A.SCAN_ACTION_PUTAWAY, bin_code=world.bin(bin_label))
            for _ in range(5)
            for kit in order
            for bin_label in ("A-01", "A-02")
        ]
        return pb.RecordScansRequest(scans=scans)

    answers = await asyncio.gather(
        *(world.stub.RecordScans(batch(kits if i % 2 else kits[::-1])) for i in range(8))
    )
    assert all(r.accepted for a in answers for r in a.results)
