"""RecordScans' set-based path answers and changes stock exactly as the scans sent one by one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from muster.inventory.v1 import inventory_service_pb2 as pb

from tests.api.helpers import error_reason
from tests.api.scan_world import World, build_world

A = pb.ScanAction
Outcome = tuple[bool, int, str, str, int]  # accepted, status code, reason, subject key, kit state


def _reason(status: status_pb2.Status) -> str:
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def _accepted(result: pb.ScanResult) -> Outcome:
    key = result.subject.key  # kits' labels, and their units' serials, differ between worlds
    return (True, 0, "", key if key.startswith(("S-", "L-")) else "kit's", result.kit_state)


async def _one_by_one(world: World, scans: list[pb.Scan]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for scan in scans:
        try:
            answer = await world.stub.RecordScan(pb.RecordScanRequest(scan=scan))
            outcomes.append(_accepted(answer.result))
        except grpc.aio.AioRpcError as error:
            code = error.code().value[0]
            reason = (
                error_reason(error) if code == grpc.StatusCode.FAILED_PRECONDITION.value[0] else ""
            )
            outcomes.append((False, code, reason, "", 0))
    return outcomes


async def _in_one_batch(world: World, scans: list[pb.Scan]) -> list[Outcome]:
    answer = await world.stub.RecordScans(pb.RecordScansRequest(scans=scans))
    assert [r.scan_id for r in answer.results] == [s.scan_id for s in scans]
    return [
        _accepted(r) if r.accepted else (False, r.status.code, _reason(r.status), "", 0)
        for r in answer.results
    ]


async def _stock(world: World, kits: list[pb.Kit], lot: str) -> list[object]:
    """What the kits hold and what loose stock of `lot` the depot has, labels aside."""
    found: list[object] = []
    for kit in kits:
        got = await world.get(kit)
        found.append(
            (
                got.kit.state,
                got.kit.location_label,
                sorted((u.condition, u.next_inspection_date.day) for u in got.units),
                sorted((lt.lot_number == lot, lt.quantity, lt.condition) for lt in got.lots),
            )
        )
    history = await world.stub.GetHistory(pb.GetHistoryRequest(code=world.lot(lot)))
    found.append(sorted((r.scan.action, r.scan.quantity) for r in history.records))
    return found


Script = Callable[[World, list[pb.Kit]], list[pb.Scan]]


def _busy_day(world: World, kits: list[pb.Kit]) -> list[pb.Scan]:
    """Receipts, inspections, packing and unpacking over shared kits, units and lots,
    refusals among them (some after the scan changed rows), and an ISSUE and a
    RETURN that split the batch into set-based runs."""
    full, empty, spare = kits
    s = world.make
    bin_b = world.bin("B-01")
    return [
        s(world.unit("S-1"), A.SCAN_ACTION_RECEIVE, bin_code=bin_b),
        s(world.unit("S-1"), A.SCAN_ACTION_RECEIVE, bin_code=bin_b),  # ALREADY_IN_STOCK
        s(world.unit("S-1"), A.SCAN_ACTION_INSPECT_PASS),
        s(world.unit("S-1"), A.SCAN_ACTION_PACK, kit_code=empty.code),
        s(world.unit("S-1"), A.SCAN_ACTION_PACK, kit_code=empty.code),  # ALREADY_IN_KIT
        s(world.lot("L-1"), A.SCAN_ACTION_RECEIVE, quantity=5, bin_code=bin_b),
        s(world.lot("L-1"), A.SCAN_ACTION_RECEIVE, quantity=2),
        s(world.lot("L-1", date(2029, 5, 31)), A.SCAN_ACTION_RECEIVE, quantity=1),  # expiry
        s(world.lot("L-1"), A.SCAN_ACTION_PACK, quantity=3, kit_code=empty.code),
        s(world.lot("L-1"), A.SCAN_ACTION_PACK, quantity=10, kit_code=empty.code),  # too many
        s(world.lot("L-1"), A.SCAN_ACTION_UNPACK, quantity=1, kit_code=empty.code),
        s(world.lot("L-1"), A.SCAN_ACTION_PACK, quantity=1, kit_code=spare.code),
        s(spare.code, A.SCAN_ACTION_ISSUE, override_reason="drill"),
        # Quarantines the loose L-1, then finds part of it in an issued kit: refused,
        # and the loose stock must stay serviceable for the PACK after it.
        s(world.lot("L-1"), A.SCAN_ACTION_INSPECT_FAIL),
        s(world.lot("L-1"), A.SCAN_ACTION_PACK, quantity=1, kit_code=empty.code),
        s(world.lot("L-1"), A.SCAN_ACTION_PACK, quantity=1, kit_code=spare.code),  # issued
        s(spare.code, A.SCAN_ACTION_RETURN, bin_code=world.bin("A-02")),
        s(world.lot("L-1"), A.SCAN_ACTION_PACK, quantity=1, kit_code=spare.code),
        s(empty.code, A.SCAN_ACTION_PUTAWAY, bin_code=world.bin("A-02")),
        s(world.unit("S-1"), A.SCAN_ACTION_RETIRE),
        s(world.unit("S-2"), A.SCAN_ACTION_PACK, kit_code=full.code),  # NOT_FOUND
        s("2312345", A.SCAN_ACTION_RECEIVE),  # not a label
        s(world.unit("S-3"), A.SCAN_ACTION_RECEIVE),
        s(world.unit("S-3"), A.SCAN_ACTION_INSPECT_FAIL),
        s(world.unit("S-3"), A.SCAN_ACTION_PACK, kit_code=empty.code),  # quarantined
        s(world.unit("S-3"), A.SCAN_ACTION_INSPECT_PASS),
        s(world.unit("S-3"), A.SCAN_ACTION_PACK, kit_code=empty.code),
        s(world.unit("S-3"), A.SCAN_ACTION_UNPACK, bin_code=bin_b),
        s(world.unit(f"{full.label[-8:]}-0"), A.SCAN_ACTION_INSPECT_FAIL),  # kit incomplete
        s(world.unit(f"{full.label[-8:]}-1"), A.SCAN_ACTION_UNPACK, bin_code=bin_b),
        s(full.code, A.SCAN_ACTION_PUTAWAY, bin_code=world.bin("A-02")),
    ]


async def _world_with_kits(stub) -> tuple[World, list[pb.Kit]]:
    world = await build_world(stub)
    kits = [await world.kit(), await world.kit(units=0, lot_quantity=0), await world.kit()]
    return world, kits


@pytest.mark.parametrize("script", [_busy_day])
async def test_a_batch_answers_and_changes_stock_as_the_same_scans_one_by_one(
    stub, script: Script
) -> None:
    alone, alone_kits = await _world_with_kits(stub)
    batched, batched_kits = await _world_with_kits(stub)
    one_by_one = await _one_by_one(alone, script(alone, alone_kits))
    in_one_batch = await _in_one_batch(batched, script(batched, batched_kits))
    assert in_one_batch == one_by_one
    assert [accepted for accepted, *_ in one_by_one].count(False) == 9
    assert await _stock(batched, batched_kits, "L-1") == await _stock(alone, alone_kits, "L-1")


async def test_a_refused_scan_in_a_batch_leaves_nothing_behind_for_the_next(stub) -> None:
    world, (_, empty, spare) = await _world_with_kits(stub)
    await world.scan(world.lot("Q-1"), A.SCAN_ACTION_RECEIVE, quantity=4)
    await world.scan(world.lot("Q-1"), A.SCAN_ACTION_PACK, quantity=1, kit_code=spare.code)
    await world.scan(spare.code, A.SCAN_ACTION_ISSUE, override_reason="drill")
    scans = [
        world.make(world.lot("Q-1"), A.SCAN_ACTION_INSPECT_FAIL),  # quarantines, then refused
        world.make(world.lot("Q-1"), A.SCAN_ACTION_PACK, quantity=3, kit_code=empty.code),
    ]
    answer = await world.stub.RecordScans(pb.RecordScansRequest(scans=scans))
    assert [r.accepted for r in answer.results] == [False, True]
    assert _reason(answer.results[0].status) == "KIT_DEPLOYED"
    packed = (await world.get(empty)).lots
    assert [(lt.quantity, lt.condition) for lt in packed] == [(3, pb.CONDITION_SERVICEABLE)]
    again = await world.stub.RecordScans(pb.RecordScansRequest(scans=scans))
    assert again.results[0].status == answer.results[0].status
    assert again.results[1].ledger_seq == answer.results[1].ledger_seq


async def test_a_batch_is_numbered_in_the_ledger_in_its_own_order(stub) -> None:
    world = await build_world(stub)
    scans = [world.make(world.unit(f"N-{i}"), A.SCAN_ACTION_RECEIVE) for i in range(20)]
    scans.insert(7, world.make(world.unit("N-3"), A.SCAN_ACTION_RECEIVE))  # refused
    answer = await world.stub.RecordScans(pb.RecordScansRequest(scans=scans))
    accepted = [r for r in answer.results if r.accepted]
    assert len(accepted) == 20
    assert [r.ledger_seq for r in accepted] == sorted(r.ledger_seq for r in accepted)
    assert len({r.ledger_seq for r in accepted}) == 20
    assert all(r.record_time.seconds > 0 for r in accepted)
    replayed = await world.stub.RecordScans(pb.RecordScansRequest(scans=scans))
    assert list(replayed.results) == list(answer.results)
