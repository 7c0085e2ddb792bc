"""Every change records who made it, from which device, when, under which request id."""

import uuid

import grpc
import psycopg
import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from sqlalchemy import make_url

from services.common.auth import Role
from services.common.channels import aio_channel
from services.common.server import RunningServer
from tests.api.scan_world import World, build_world
from tests.support import auth


@pytest.fixture
async def world(stub: pb_grpc.InventoryServiceStub) -> World:
    return await build_world(stub)


def _as(
    address: str, role: Role, subject: str, depots: list[str] | None = None
) -> grpc.aio.Channel:
    token = auth.token(role, depots or [], subject=subject)
    return aio_channel(address, lambda: token)


def _meta(request_id: str, device: str) -> list[tuple[str, str]]:
    return [("x-request-id", request_id), ("x-device", device)]


async def test_a_scan_and_a_transfer_say_who_from_where_and_under_which_request(
    world: World, inventory: RunningServer
) -> None:
    kit = await world.kit()
    staff = [world.depot.code]
    async with _as(inventory.address, Role.DEPOT_STAFF, "li.wei", staff) as channel:
        stub = pb_grpc.InventoryServiceStub(channel)
        unit = world.unit(f"{kit.label[-8:]}-0")
        scan = world.make(unit, pb.SCAN_ACTION_INSPECT_PASS)
        await stub.RecordScan(
            pb.RecordScanRequest(scan=scan), metadata=_meta("req-scan-1", "HH-07")
        )
    async with _as(inventory.address, Role.PLANNER, "planner.zhang") as channel:
        stub = pb_grpc.InventoryServiceStub(channel)
        request = pb.CreateTransferRequest(
            request_id=str(uuid.uuid4()),
            from_depot_code=world.depot.code,
            to_depot_code=world.other.code,
            kit_labels=[kit.label],
        )
        meta = _meta("req-transfer-1", "desk-3")
        opened = (await stub.CreateTransfer(request, metadata=meta)).transfer
        again = (await stub.CreateTransfer(request, metadata=meta)).transfer  # a retry
        assert again.sscc == opened.sscc

    scans = await world.stub.GetHistory(pb.GetHistoryRequest(code=unit))
    [record] = [r for r in scans.records if r.scan.scan_id == scan.scan_id]
    assert (record.recorded_by, record.request_id) == ("li.wei", "req-scan-1")
    assert record.scan.device == "HH-01"  # what the scanner said of itself, kept as sent
    history = await world.stub.GetHistory(pb.GetHistoryRequest(code=kit.code))
    transfers = [a for a in history.audit if a.method == "CreateTransfer"]
    assert len(transfers) == 1  # the retry changed nothing and recorded nothing
    [entry] = transfers
    assert (entry.actor, entry.device, entry.request_id) == (
        "planner.zhang",
        "desk-3",
        "req-transfer-1",
    )
    assert {kit.label, opened.sscc} <= set(entry.keys)
    assert entry.time.seconds > 0
    created = [a for a in history.audit if a.method == "CreateKit"]
    assert created and created[0].actor == "tester"


async def test_the_audit_log_cannot_be_rewritten(database_url: str, world: World) -> None:
    await world.kit()
    url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as db:
        with pytest.raises(psycopg.Error, match=r"(?i)append|ledger"):
            db.execute("UPDATE inventory.audit_log SET actor = 'someone else'")
        with pytest.raises(psycopg.Error, match=r"(?i)append|ledger"):
            db.execute("DELETE FROM inventory.audit_log")


async def test_a_new_request_id_comes_back_when_the_server_wrote_something_under_it(
    world: World,
) -> None:
    kit = await world.kit()
    request = pb.CreateTransferRequest(
        request_id=str(uuid.uuid4()),
        from_depot_code=world.depot.code,
        to_depot_code=world.other.code,
        kit_labels=[kit.label],
    )
    write = world.stub.CreateTransfer(request)  # no x-request-id: the server draws one
    await write
    drawn = dict(await write.trailing_metadata())["x-request-id"]
    assert len(drawn) == 32
    history = await world.stub.GetHistory(pb.GetHistoryRequest(code=kit.code))
    [entry] = [a for a in history.audit if a.method == "CreateTransfer"]
    assert entry.request_id == drawn  # the audit row was written under it

    # A read that no line mentions (the test servers log at WARNING) carries none.
    read = world.stub.GetKit(pb.GetKitRequest(label=kit.label))
    await read
    assert "x-request-id" not in dict(await read.trailing_metadata())
