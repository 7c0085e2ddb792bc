"""Scanning edge cases: kept refusals, reused ids, split lots, stranded contents, the feed."""

import asyncio

import grpc
import psycopg
import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from sqlalchemy import make_url

from tests.api.helpers import error_reason, fails, violations
from tests.api.scan_world import World, build_world

A = pb.ScanAction
FAILED = grpc.StatusCode.FAILED_PRECONDITION
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
async def world(stub) -> World:
    return await build_world(stub)


async def test_a_refused_scan_sent_again_is_refused_again_even_after_the_stock_changed(world):
    kit = await world.kit()
    returned = world.make(kit.code, A.SCAN_ACTION_RETURN)
    first = await fails(world.stub.RecordScan(pb.RecordScanRequest(scan=returned)), FAILED)
    assert error_reason(first) == "KIT_NOT_ISSUED"
    await world.scan(kit.code, A.SCAN_ACTION_ISSUE)  # now a RETURN would be accepted
    again = await fails(world.stub.RecordScan(pb.RecordScanRequest(scan=returned)), FAILED)
    assert (error_reason(again), again.details()) == ("KIT_NOT_ISSUED", first.details())
    batch = await world.stub.RecordScans(pb.RecordScansRequest(scans=[returned]))
    assert not batch.results[0].accepted
    assert (await world.get(kit)).kit.state == pb.Kit.STATE_DEPLOYED


async def test_a_refusal_inside_a_batch_is_kept_too(world: World) -> None:
    kit = await world.kit()
    refused = world.make(kit.code, A.SCAN_ACTION_RETURN)
    other = world.make(world.unit("KEEP-1"), A.SCAN_ACTION_RECEIVE)
    answer = await world.stub.RecordScans(pb.RecordScansRequest(scans=[refused, other]))
    assert [r.accepted for r in answer.results] == [False, True]
    await world.scan(kit.code, A.SCAN_ACTION_ISSUE)
    again = await world.stub.RecordScans(pb.RecordScansRequest(scans=[refused]))
    assert not again.results[0].accepted
    assert again.results[0].status == answer.results[0].status


async def test_a_scan_id_reused_for_another_scan_is_refused(world: World) -> None:
    first = world.make(world.unit("X1"), A.SCAN_ACTION_RECEIVE)
    await world.stub.RecordScan(pb.RecordScanRequest(scan=first))
    other = world.make(world.unit("X2"), A.SCAN_ACTION_RECEIVE, scan_id=first.scan_id)
    error = await fails(world.stub.RecordScan(pb.RecordScanRequest(scan=other)), INVALID)
    assert violations(error)["scan.scan_id"].startswith("SCAN_ID_REUSED")
    resolved = await world.stub.ResolveCode(pb.ResolveCodeRequest(code=world.unit("X2")))
    assert resolved.subject.depot_code == ""  # X2 was never received


async def test_inside_a_batch_a_repeated_id_answers_once_and_a_reused_one_is_refused(world):
    y1 = world.make(world.unit("Y1"), A.SCAN_ACTION_RECEIVE)
    y1_again = pb.Scan()
    y1_again.CopyFrom(y1)
    y2 = world.make(world.unit("Y2"), A.SCAN_ACTION_RECEIVE, scan_id=y1.scan_id)
    answer = await world.stub.RecordScans(pb.RecordScansRequest(scans=[y1, y1_again, y2]))
    assert answer.results[0].accepted and answer.results[1] == answer.results[0]
    assert not answer.results[2].accepted
    assert answer.results[2].status.code == INVALID.value[0]


async def test_concurrent_first_receipts_of_a_lot_keep_one_row(world: World) -> None:
    scans = [world.make(world.lot("CONC"), A.SCAN_ACTION_RECEIVE, quantity=5) for _ in range(4)]
    await asyncio.gather(*(world.stub.RecordScan(pb.RecordScanRequest(scan=s)) for s in scans))
    kit = await world.kit(lot_quantity=0)
    packed = await world.scan(world.lot("CONC"), A.SCAN_ACTION_PACK, kit_code=kit.code, quantity=12)
    assert packed.accepted


async def test_a_lot_received_again_with_another_expiry_is_refused(world: World) -> None:
    from datetime import date

    await world.scan(world.lot("EXP", date(2028, 1, 31)), A.SCAN_ACTION_RECEIVE, quantity=1)
    error = await fails(
        world.scan(world.lot("EXP", date(2029, 1, 31)), A.SCAN_ACTION_RECEIVE, quantity=1), FAILED
    )
    assert error_reason(error) == "LOT_EXPIRY_MISMATCH"


async def test_a_kit_that_still_holds_things_cannot_be_retired(world: World) -> None:
    kit = await world.kit()
    error = await fails(world.scan(kit.code, A.SCAN_ACTION_RETIRE), FAILED)
    assert error_reason(error) == "KIT_NOT_EMPTY"


async def test_units_of_an_issued_kit_cannot_be_inspected_or_retired_at_home(world) -> None:
    kit = await world.kit()
    serial = (await world.get(kit)).units[0].serial
    await world.scan(kit.code, A.SCAN_ACTION_ISSUE)
    for action in (A.SCAN_ACTION_INSPECT_FAIL, A.SCAN_ACTION_RETIRE):
        error = await fails(world.scan(world.unit(serial), action), FAILED)
        assert error_reason(error) == "KIT_DEPLOYED"


async def test_a_kit_on_a_transfer_cannot_be_issued(world: World) -> None:
    kit = await world.kit()
    await world.stub.CreateTransfer(
        pb.CreateTransferRequest(
            from_depot_code=world.depot.code, to_depot_code=world.other.code, kit_labels=[kit.label]
        )
    )
    error = await fails(world.scan(kit.code, A.SCAN_ACTION_ISSUE), FAILED)
    assert error_reason(error) == "KIT_ON_TRANSFER"


async def test_a_device_time_no_clock_can_show_is_invalid(world: World) -> None:
    scan = world.make(world.unit("T1"), A.SCAN_ACTION_RECEIVE)
    scan.device_time.seconds = 253402300800  # the year 10000
    error = await fails(world.stub.RecordScan(pb.RecordScanRequest(scan=scan)), INVALID)
    assert "scan.device_time" in violations(error)


async def test_history_of_a_malformed_label_is_invalid(world: World) -> None:
    error = await fails(
        world.stub.GetHistory(pb.GetHistoryRequest(code="0106950000000348" + "21SN1")), INVALID
    )
    assert violations(error)["code"].startswith("BAD_CHECK_DIGIT")


async def test_the_feed_from_its_start_carries_transfers_and_counts(world: World) -> None:
    kit = await world.kit()
    await world.stub.CreateTransfer(
        pb.CreateTransferRequest(
            from_depot_code=world.depot.code, to_depot_code=world.other.code, kit_labels=[kit.label]
        )
    )
    await world.stub.StartCount(pb.StartCountRequest(depot_code=world.other.code, operator="x"))
    kinds: set[int] = set()
    call = world.stub.WatchChanges(pb.WatchChangesRequest(cursor="0.0"))

    async def until_both() -> None:
        async for answer in call:
            kinds.update(ch.kind for ch in answer.changes)
            if {pb.SUBJECT_KIND_TRANSFER, pb.SUBJECT_KIND_COUNT} <= kinds:
                call.cancel()
                return

    await asyncio.wait_for(until_both(), 15)


async def test_from_now_delivers_a_change_whose_transaction_was_running_at_that_moment(
    world: World, database_url: str
) -> None:
    url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(url) as held:
        await held.execute(
            "INSERT INTO inventory.changes (kind, key, depot_code, action, scan_id, "
            "kit_label, kit_state) VALUES ('UNIT', 'LATE-COMMIT', '', '', '', '', '')"
        )  # the transaction stays open
        call = world.stub.WatchChanges(pb.WatchChangesRequest(from_now=True))
        first = await anext(aiter(call))
        await held.commit()
        seen: list[str] = []

        async def until_late() -> None:
            async for answer in call:
                seen.extend(ch.key for ch in answer.changes)
                if "LATE-COMMIT" in seen:
                    call.cancel()
                    return

        await asyncio.wait_for(until_late(), 15)
    assert first.cursor and "LATE-COMMIT" in seen
