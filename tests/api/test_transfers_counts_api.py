"""Transfers between depots, stock counts, the queries and the change feed, over gRPC."""

import asyncio
from datetime import date

import grpc
import pytest
from google.protobuf import field_mask_pb2
from muster.inventory.v1 import inventory_service_pb2 as pb

from tests.api.helpers import error_reason, fails, violations
from tests.api.scan_world import World, build_world

A = pb.ScanAction
FAILED = grpc.StatusCode.FAILED_PRECONDITION


@pytest.fixture
async def world(stub) -> World:
    return await build_world(stub)


async def _transfer(world: World, *kits: pb.Kit) -> pb.Transfer:
    answer = await world.stub.CreateTransfer(
        pb.CreateTransferRequest(
            from_depot_code=world.depot.code,
            to_depot_code=world.other.code,
            kit_labels=[k.label for k in kits],
            reason="rebalance before flood season",
        )
    )
    return answer.transfer


async def test_transfer_out_needs_an_open_transfer(world: World) -> None:
    kit = await world.kit()
    error = await fails(world.scan(kit.code, A.SCAN_ACTION_TRANSFER_OUT), FAILED)
    assert error_reason(error) == "NO_OPEN_TRANSFER"


async def test_a_transfer_is_closed_by_the_scans_at_both_ends(world: World) -> None:
    kit = await world.kit()
    transfer = await _transfer(world, kit)
    assert transfer.state == pb.Transfer.STATE_OPEN and len(transfer.sscc) == 18
    out = await world.scan(kit.code, A.SCAN_ACTION_TRANSFER_OUT)
    assert out.kit_state == pb.Kit.STATE_IN_TRANSIT
    error = await fails(world.scan(kit.code, A.SCAN_ACTION_TRANSFER_IN), FAILED)
    assert error_reason(error) == "NOT_EXPECTED_HERE"
    arrived = await world.scan(
        kit.code,
        A.SCAN_ACTION_TRANSFER_IN,
        depot_code=world.other.code,
        bin_code=world.bin("A-02", world.other),
    )
    assert arrived.kit_state == pb.Kit.STATE_READY
    got = await world.get(kit)
    assert (got.kit.depot_code, got.kit.location_label) == (world.other.code, "A-02")
    closed = await world.stub.GetTransfer(pb.GetTransferRequest(sscc=transfer.sscc))
    assert closed.transfer.state == pb.Transfer.STATE_CLOSED
    assert [(ln.shipped, ln.received) for ln in closed.transfer.lines] == [(True, True)]
    # the kit's units moved with it: they can be inspected at the new depot
    serial = got.units[0].serial
    inspected = await world.scan(
        world.unit(serial), A.SCAN_ACTION_INSPECT_PASS, depot_code=world.other.code
    )
    assert inspected.accepted


async def test_a_shipment_label_sends_every_kit_on_it(world: World) -> None:
    kits = [await world.kit(), await world.kit()]
    transfer = await _transfer(world, *kits)
    shipment = "00" + transfer.sscc
    out = await world.scan(shipment, A.SCAN_ACTION_TRANSFER_OUT)
    assert out.subject.kind == pb.SUBJECT_KIND_SHIPMENT
    listed = await world.stub.ListTransfers(
        pb.ListTransfersRequest(depot_code=world.other.code, state=pb.Transfer.STATE_IN_TRANSIT)
    )
    assert [t.sscc for t in listed.transfers] == [transfer.sscc]
    await world.scan(shipment, A.SCAN_ACTION_TRANSFER_IN, depot_code=world.other.code)
    for kit in kits:
        assert (await world.get(kit)).kit.depot_code == world.other.code


async def test_a_kit_cannot_be_on_two_open_transfers(world: World) -> None:
    kit = await world.kit()
    await _transfer(world, kit)
    error = await fails(_transfer(world, kit), FAILED)
    assert error_reason(error) == "KIT_ON_TRANSFER"


async def test_closing_a_count_names_missing_unexpected_and_wrong_bin(world: World) -> None:
    zone_a_kit = await world.kit()  # in bin A-01
    await world.scan(world.unit("LOOSE-1"), A.SCAN_ACTION_RECEIVE, bin_code=world.bin("B-01"))
    await world.scan(world.unit("LOOSE-2"), A.SCAN_ACTION_RECEIVE, bin_code=world.bin("B-01"))
    await world.scan(world.unit("ELSEWHERE"), A.SCAN_ACTION_RECEIVE, depot_code=world.other.code)
    started = await world.stub.StartCount(
        pb.StartCountRequest(depot_code=world.depot.code, operator="chief")
    )
    count_id = started.count.count_id
    error = await fails(
        world.stub.StartCount(pb.StartCountRequest(depot_code=world.depot.code, operator="x")),
        FAILED,
    )
    assert error_reason(error) == "COUNT_ALREADY_OPEN"
    for code, bin_label, who in [
        (zone_a_kit.code, "A-02", "li"),  # wrong bin
        (world.unit("LOOSE-1"), "B-01", "wang"),  # right
        (world.unit("ELSEWHERE"), "B-01", "wang"),  # unexpected: held at the other depot
    ]:
        await world.scan(
            code,
            A.SCAN_ACTION_COUNT,
            count_id=count_id,
            bin_code=world.bin(bin_label),
            operator=who,
        )
    closed = await world.stub.CloseCount(pb.CloseCountRequest(count_id=count_id, operator="chief"))
    found = {(d.kind, d.subject.key): d for d in closed.discrepancies}
    assert set(found) == {
        (pb.Discrepancy.KIND_WRONG_BIN, zone_a_kit.label),
        (pb.Discrepancy.KIND_MISSING, "LOOSE-2"),
        (pb.Discrepancy.KIND_UNEXPECTED, "ELSEWHERE"),
    }
    assert found[(pb.Discrepancy.KIND_MISSING, "LOOSE-2")].adjustment == "marked LOST"
    assert world.other.code in found[(pb.Discrepancy.KIND_UNEXPECTED, "ELSEWHERE")].adjustment
    assert closed.count.counted_by == ["li", "wang"] and closed.count.closed_by == "chief"
    assert (await world.get(zone_a_kit)).kit.location_label == "A-02"
    error = await fails(world.scan(world.unit("LOOSE-2"), A.SCAN_ACTION_INSPECT_PASS), FAILED)
    assert error_reason(error) == "UNIT_LOST"


async def test_count_scans_need_an_open_count_here(world: World) -> None:
    error = await fails(
        world.scan(world.unit("X"), A.SCAN_ACTION_COUNT, count_id="CNOPE", bin_code=world.bin()),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "CNOPE" in error.details()


async def test_expiring_and_inspections_due(world: World) -> None:
    await world.kit()
    await world.scan(
        world.lot("SOON", expires=date(2026, 12, 5)),
        A.SCAN_ACTION_RECEIVE,
        quantity=2,
    )
    expiring = await world.stub.ListExpiring(
        pb.ListExpiringRequest(depot_code=world.depot.code, within_days=30)
    )
    assert [(i.subject.key, i.quantity) for i in expiring.items] == [("SOON", 2)]
    due = await world.stub.ListInspectionsDue(
        pb.ListInspectionsDueRequest(depot_code=world.depot.code, within_days=30)
    )
    assert len(due.items) == 2 and all(i.kit_label for i in due.items)  # boats due 2026-12-20
    none = await world.stub.ListInspectionsDue(
        pb.ListInspectionsDueRequest(depot_code=world.depot.code, within_days=7)
    )
    assert list(none.items) == []


async def test_history_lists_every_scan_of_a_kit_newest_first_with_who(world: World) -> None:
    kit = await world.kit(units=1)
    await world.scan(world.unit("H-2"), A.SCAN_ACTION_RECEIVE)
    await world.scan(world.unit("H-2"), A.SCAN_ACTION_INSPECT_PASS)
    await world.scan(world.unit("H-2"), A.SCAN_ACTION_PACK, kit_code=kit.code, operator="zhao")
    await world.scan(kit.code, A.SCAN_ACTION_ISSUE, operator="qian")
    history = await world.stub.GetHistory(pb.GetHistoryRequest(code=kit.label))
    assert [(r.scan.action, r.scan.operator) for r in history.records] == [
        (A.SCAN_ACTION_ISSUE, "qian"),
        (A.SCAN_ACTION_PACK, "zhao"),
    ]
    unit_history = await world.stub.GetHistory(pb.GetHistoryRequest(code=world.unit("H-2")))
    assert [r.scan.action for r in unit_history.records] == [
        A.SCAN_ACTION_PACK,
        A.SCAN_ACTION_INSPECT_PASS,
        A.SCAN_ACTION_RECEIVE,
    ]
    assert all(r.result.ledger_seq > 0 for r in unit_history.records)


async def test_watch_changes_delivers_and_a_reconnect_misses_nothing(world: World) -> None:
    kit = await world.kit()
    serial = (await world.get(kit)).units[0].serial
    head = await anext(
        aiter(world.stub.WatchChanges(pb.WatchChangesRequest(from_now=True)))
    )  # the first answer comes at once, with the cursor of now
    start = head.cursor

    async def collect(cursor: str, wanted: int) -> list[pb.Change]:
        seen: list[pb.Change] = []
        call = world.stub.WatchChanges(pb.WatchChangesRequest(cursor=cursor))
        async for answer in call:
            seen.extend(answer.changes)
            if len(seen) >= wanted:
                call.cancel()
                break
        return seen

    await world.scan(world.unit(serial), A.SCAN_ACTION_INSPECT_FAIL)
    first = await asyncio.wait_for(collect(start, 1), 10)
    change = next(ch for ch in first if ch.key == serial)
    assert change.kit_label == kit.label and change.kit_state == pb.Kit.STATE_INCOMPLETE
    cursor = change.cursor
    # while the consumer is away, two more changes happen
    await world.scan(world.unit(serial), A.SCAN_ACTION_INSPECT_PASS)
    await world.scan(kit.code, A.SCAN_ACTION_ISSUE)
    missed = await asyncio.wait_for(collect(cursor, 2), 10)
    mine = [ch for ch in missed if ch.key in (serial, kit.label)]
    assert [(ch.key, ch.action) for ch in mine] == [
        (serial, A.SCAN_ACTION_INSPECT_PASS),
        (kit.label, A.SCAN_ACTION_ISSUE),
    ]


async def test_a_bad_cursor_is_invalid(world: World) -> None:
    call = world.stub.WatchChanges(pb.WatchChangesRequest(cursor="not-a-cursor"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await anext(aiter(call))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cursor" in violations(caught.value)


async def test_reference_changes_are_in_the_feed_for_readers_to_reread(world: World) -> None:
    head = await anext(aiter(world.stub.WatchChanges(pb.WatchChangesRequest(from_now=True))))
    await world.stub.UpdateDepot(
        pb.UpdateDepotRequest(
            depot=pb.Depot(code=world.depot.code, floor_area_m2=2500),
            update_mask=field_mask_pb2.FieldMask(paths=["floor_area_m2"]),
        )
    )
    await world.stub.SetReserveStandard(
        pb.SetReserveStandardRequest(
            standard=pb.ReserveStandard(
                template_code=world.template.code, depot_code=world.depot.code, quantity=3
            )
        )
    )
    seen: list[pb.Change] = []
    call = world.stub.WatchChanges(pb.WatchChangesRequest(cursor=head.cursor))

    async def until_two() -> None:
        async for answer in call:
            seen.extend(answer.changes)
            if len(seen) >= 2:
                call.cancel()
                return

    await asyncio.wait_for(until_two(), 10)
    assert [(ch.kind, ch.key) for ch in seen] == [
        (pb.SUBJECT_KIND_DEPOT, world.depot.code),
        (pb.SUBJECT_KIND_STANDARD, world.template.code),
    ]
