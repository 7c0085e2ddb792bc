"""RecordScan calls that arrive together: each answered as if alone, each with its own audit."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.common.auth import Role
from services.common.channels import aio_channel
from services.common.server import RunningServer
from tests.api.helpers import error_reason
from tests.api.scan_world import World, build_world
from tests.support import auth

A = pb.ScanAction


@pytest.fixture
async def world(stub: pb_grpc.InventoryServiceStub) -> World:
    return await build_world(stub)


async def _outcome(call: object) -> str:
    try:
        answer = await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
            return error_reason(error)
        return error.code().name
    return "ACCEPTED" if answer.result.accepted else "NOT ACCEPTED"


async def test_scans_sent_together_are_each_answered_as_if_alone(world: World) -> None:
    await world.scan(world.unit("T-HELD"), A.SCAN_ACTION_RECEIVE)
    kit = await world.kit(units=0)
    sick = world.unit("T-SICK")
    await world.scan(sick, A.SCAN_ACTION_RECEIVE)
    await world.scan(sick, A.SCAN_ACTION_INSPECT_FAIL)  # quarantined: cannot be packed
    scans = [world.make(world.unit(f"T-{n}"), A.SCAN_ACTION_RECEIVE) for n in range(8)]
    scans += [
        world.make(world.unit("T-HELD"), A.SCAN_ACTION_RECEIVE),
        world.make(sick, A.SCAN_ACTION_PACK, kit_code=kit.code),
        world.make("2312345", A.SCAN_ACTION_RECEIVE),
    ]
    outcomes = await asyncio.gather(
        *(_outcome(world.stub.RecordScan(pb.RecordScanRequest(scan=s))) for s in scans)
    )
    assert outcomes == ["ACCEPTED"] * 8 + [
        "ALREADY_IN_STOCK",
        "UNIT_QUARANTINED",
        "INVALID_ARGUMENT",
    ]
    assert not (await world.get(kit)).units  # the refused PACK left nothing behind
    again = await world.stub.RecordScan(pb.RecordScanRequest(scan=scans[0]))
    first = await world.stub.GetHistory(pb.GetHistoryRequest(code=world.unit("T-0")))
    assert [r.result.ledger_seq for r in first.records] == [again.result.ledger_seq]


async def test_scans_sent_together_keep_each_the_caller_and_request_id_that_sent_it(
    world: World, inventory: RunningServer
) -> None:
    people = ("li.wei", "wu.fang")
    scans = [world.make(world.unit(f"AUD-{n}"), A.SCAN_ACTION_RECEIVE) for n in range(12)]

    async def send(n: int, channel: grpc.aio.Channel) -> None:
        stub = pb_grpc.InventoryServiceStub(channel)
        meta = [("x-request-id", f"req-aud-{n}")]
        answer = await stub.RecordScan(pb.RecordScanRequest(scan=scans[n]), metadata=meta)
        assert answer.result.accepted

    depots = [world.depot.code]
    tokens = [auth.token(Role.DEPOT_STAFF, depots, subject=who) for who in people]
    channels = [aio_channel(inventory.address, lambda t=t: t) for t in tokens]  # type: ignore[misc]
    try:
        await asyncio.gather(*(send(n, channels[n % 2]) for n in range(len(scans))))
    finally:
        for channel in channels:
            await channel.close()
    for n, scan in enumerate(scans):
        [record] = (await world.stub.GetHistory(pb.GetHistoryRequest(code=scan.code))).records
        assert (record.recorded_by, record.request_id) == (people[n % 2], f"req-aud-{n}")
