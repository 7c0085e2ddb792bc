"""The depot scanner client: answers at once, a durable spool, exactly-once delivery."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from rich.console import Console
from sqlalchemy import text

from services.cli import scan
from services.cli.spool import PENDING, Spool, SpoolError, read_refusals, read_waiting
from services.common.database import async_engine
from services.common.server import RunningServer
from services.common.settings import ServerSettings
from services.inventory import server as inventory_server
from services.inventory.domain import labels
from tests.api.scan_world import World, build_world
from tests.conftest import TODAY
from tests.support import auth

A = pb.ScanAction
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def world(stub) -> World:
    return await build_world(stub)


def screen() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=250, force_terminal=False, color_system=None), out


def options(world: World, action: str = "receive", **fields: str) -> scan.Options:
    return scan.Options(
        depot=world.depot.code, action=action, operator="tester", device="HH-01", **fields
    )


async def start_inventory(database_url: str, port: int) -> RunningServer:
    """Inventory on a fixed port, so that it can come back where the client looks."""
    settings = ServerSettings(
        service="inventory", auth_public_keys=auth.PUBLIC_KEYS, database_url=database_url, port=port
    )
    return await inventory_server.start(settings, today=lambda: TODAY)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def ledger(database_url: str, scan_ids: Sequence[str]) -> list[tuple[str, int]]:
    """(scan_id, seq) of the recorded scans among `scan_ids`, in ledger order."""
    engine = async_engine(database_url)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT scan_id, seq FROM inventory.scans WHERE scan_id = ANY(:ids) ORDER BY seq"),
            {"ids": list(scan_ids)},
        )
        found = [(r.scan_id, r.seq) for r in rows]
    await engine.dispose()
    return found


def status_text(folder: Path) -> str:
    console, out = screen()
    scan.status([folder], console)
    return out.getvalue()


# ------------------------------------------------------------------ the must-show scenario


async def test_scans_wait_while_inventory_is_away_and_arrive_once_in_order(
    world: World, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "MAX_RETRY_S", 1.0)  # keep the test short; 5 s in use
    port = free_port()
    await (await start_inventory(database_url, port=port)).stop(0)
    codes = [world.unit(f"AWAY-{i:02d}") for i in range(20)]
    console, out = screen()
    address = f"127.0.0.1:{port}"
    async with scan.session(address, tmp_path, console, options(world)) as s:
        for code in codes:
            await s.handle(code + "\r\n")
        waiting = read_waiting(tmp_path)
        assert [w.scan.code for w in waiting] == codes
        assert "queued (20 waiting): inventory UNAVAILABLE" in out.getvalue()
        listed = status_text(tmp_path)
        assert "20 waiting" in listed
        assert all(w.scan_id in listed for w in waiting)
        assert await ledger(database_url, [w.scan_id for w in waiting]) == []

        back: RunningServer = await start_inventory(database_url, port=port)
        try:
            assert await s.settle(8.0), out.getvalue()
        finally:
            await back.stop(0)

    recorded = await ledger(database_url, [w.scan_id for w in waiting])
    assert [scan_id for scan_id, _ in recorded] == [w.scan_id for w in waiting]
    assert out.getvalue().count("sent from spool: OK RECEIVE unit AWAY-") == 20
    assert read_waiting(tmp_path) == []
    assert (tmp_path / PENDING).read_text() == ""
    assert "nothing waiting" in status_text(tmp_path)


async def test_the_command_queues_lists_and_flushes_what_waits(
    world: World, inventory: RunningServer, database_url: str, tmp_path: Path
) -> None:
    codes = [world.unit(f"CLI-{i}") for i in range(3)]
    away = f"127.0.0.1:{free_port()}"
    common = ["--spool", str(tmp_path)]
    depot = ["--depot", world.depot.code]

    rc, out = await muster(
        "scan",
        *depot,
        "--action",
        "receive",
        "--address",
        away,
        *common,
        stdin="".join(c + "\n" for c in codes),
    )
    assert rc == scan.WAITING_EXIT and "queued (3 waiting)" in out, out
    rc, out = await muster("scan", "--status", *common)
    assert rc == 0 and "3 waiting" in out and "(21)CLI-2" in out, out
    rc, out = await muster("scan", "--flush", "--address", inventory.address, *common)
    assert rc == 0 and out.count("OK RECEIVE unit CLI-") == 3, out
    rc, out = await muster("scan", "--status", *common)
    assert "nothing waiting" in out


async def muster(*args: str, stdin: str = "") -> tuple[int, str]:
    """`python -m services.cli.main ...` without blocking the servers on this loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli.main",
        *args,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(stdin.encode()), 20)
    assert process.returncode is not None
    return process.returncode, out.decode()


# ------------------------------------------------------------------ answers


async def test_a_refusal_shows_its_reason_with_a_bell(
    world: World, inventory: RunningServer, tmp_path: Path
) -> None:
    console, out = screen()
    async with scan.session(inventory.address, tmp_path, console, options(world)) as s:
        await s.handle(world.unit("TWICE") + "\n")
        await s.handle(world.unit("TWICE") + "\n")
    lines = out.getvalue().removesuffix("\a").splitlines()
    assert lines[-2].startswith("OK RECEIVE unit TWICE")
    assert "REFUSED RECEIVE" in lines[-1] and ": ALREADY_IN_STOCK - " in lines[-1]
    assert out.getvalue().endswith(lines[-1] + "\n\a")
    [kept] = read_refusals(tmp_path)
    assert (kept.reason, kept.status) == ("ALREADY_IN_STOCK", "FAILED_PRECONDITION")
    assert "ALREADY_IN_STOCK" in status_text(tmp_path)


async def test_a_refusal_in_a_batch_shows_its_reason_and_the_others_stand(
    world: World, inventory: RunningServer, tmp_path: Path
) -> None:
    await world.scan(world.unit("HELD"), A.SCAN_ACTION_RECEIVE)
    console, out = screen()
    async with scan.session(inventory.address, tmp_path, console) as s:
        s.spool.add(world.make(world.unit("HELD"), A.SCAN_ACTION_RECEIVE))
        s.spool.add(world.make(world.unit("FRESH"), A.SCAN_ACTION_RECEIVE))
        assert await s.flush()
    shown = out.getvalue()
    assert "REFUSED RECEIVE (01)" in shown and ": ALREADY_IN_STOCK - " in shown
    assert "\a" in shown and "OK RECEIVE unit FRESH" in shown
    assert read_waiting(tmp_path) == []


async def test_a_code_that_is_no_label_is_refused_at_once_and_not_sent(
    world: World, tmp_path: Path
) -> None:
    console, out = screen()
    unreachable = f"127.0.0.1:{free_port()}"
    async with scan.session(unreachable, tmp_path, console, options(world)) as s:
        await s.handle("2312345\n")
    assert "REFUSED 2312345: UNKNOWN_AI" in out.getvalue() and "\a" in out.getvalue()
    assert read_waiting(tmp_path) == []


# ------------------------------------------------------------------ exactly once


async def test_a_crash_between_send_and_ack_resends_and_counts_once(
    world: World, inventory: RunningServer, database_url: str, tmp_path: Path
) -> None:
    sent = world.make(world.lot("CRASH"), A.SCAN_ACTION_RECEIVE, quantity=5)
    with Spool(tmp_path) as spool:
        spool.add(sent)
        first = (await world.stub.RecordScan(pb.RecordScanRequest(scan=sent))).result
        # the process dies here: the answer never reached acked.jsonl
    assert [w.scan_id for w in read_waiting(tmp_path)] == [sent.scan_id]

    console, out = screen()
    async with scan.session(inventory.address, tmp_path, console):
        pass  # opening a session sends what waits
    assert f"sent from spool: OK RECEIVE lot CRASH  #{first.ledger_seq}" in out.getvalue()
    assert await ledger(database_url, [sent.scan_id]) == [(sent.scan_id, first.ledger_seq)]
    assert read_waiting(tmp_path) == []
    kit = await world.kit(lot_quantity=0)
    more = await world.stub.RecordScans(
        pb.RecordScansRequest(
            scans=[
                world.make(world.lot("CRASH"), A.SCAN_ACTION_PACK, kit_code=kit.code, quantity=6)
            ]
        )
    )
    assert not more.results[0].accepted  # 5 received once, not 10


# ------------------------------------------------------------------ station mode


async def test_station_mode_switches_action_bin_and_kit_from_scanned_labels(
    world: World, inventory: RunningServer, database_url: str, tmp_path: Path
) -> None:
    kit = await world.kit(units=1)
    unit = world.unit("ST-1")
    lines = [
        labels.action_code("RECEIVE"),
        world.bin("A-02"),
        unit,
        labels.action_code("INSPECT_PASS"),
        unit,
        labels.action_code("PACK"),
        kit.code,
        unit,
    ]
    console, out = screen()
    async with scan.session(inventory.address, tmp_path, console, options(world, "station")) as s:
        for line in lines:
            await s.handle(line + "\n")
    shown = out.getvalue()
    for expected in ("-> action RECEIVE", "-> bin A-02", "-> action PACK", "-> next items go into"):
        assert expected in shown
    assert "OK INSPECT_PASS unit ST-1" in shown
    assert f"OK PACK unit ST-1  kit {kit.label} READY" in shown
    assert (await world.get(kit)).kit.state == pb.Kit.STATE_READY
    assert await received_into(database_url, unit) == "A-02"


async def received_into(database_url: str, code: str) -> str:
    engine = async_engine(database_url)
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT l.label FROM inventory.scans s JOIN inventory.locations l "
                "ON l.id = s.location_id WHERE s.code = :code ORDER BY s.seq LIMIT 1"
            ),
            {"code": code},
        )
        label = found.scalar_one()
    await engine.dispose()
    return str(label)


# ------------------------------------------------------------------ reading lines (no server)


def station(action: str = "station") -> scan.Station:
    return scan.Station(scan.Options(depot="D-1", action=action, operator="t", device="d"))


def test_without_an_action_barcode_a_station_sends_nothing() -> None:
    read = station().read("0106950000000347" + "21SN1\n")
    assert isinstance(read, scan.Rejected) and read.reason == "NO_ACTION"


def test_quantity_applies_to_the_next_lot_only_and_gs_may_be_typed() -> None:
    s = station("pack")
    lot = "0106950000000347" + "17280131{GS}10L1"
    assert isinstance(s.read("quantity 4\r\n"), scan.Switched)
    assert isinstance(s.read("0106950000000347" + "21SN1\n"), pb.Scan)  # a unit keeps it
    first, second = s.read(lot), s.read(lot)
    assert isinstance(first, pb.Scan) and isinstance(second, pb.Scan)
    assert (first.quantity, second.quantity) == (4, 0)
    assert first.code == "0106950000000347" + "17280131\x1d10L1"
    assert first.action == A.SCAN_ACTION_PACK and first.depot_code == "D-1"
    assert first.scan_id != second.scan_id and first.HasField("device_time")


def test_override_goes_with_the_next_issue_only_and_count_ids_stay() -> None:
    s = station()
    kit = labels.kit_code(labels.giai_for(9))
    unit = "0106950000000347" + "21SN1"
    s.read(labels.action_code("ISSUE"))
    assert isinstance(s.read("override flood at Baishan"), scan.Switched)
    first, second = s.read(kit), s.read(kit)
    assert isinstance(first, pb.Scan) and isinstance(second, pb.Scan)
    assert (first.override_reason, second.override_reason) == ("flood at Baishan", "")
    s.read(labels.action_code("COUNT"))
    s.read("count C12345")
    counted = [s.read(unit), s.read(unit)]
    assert all(isinstance(c, pb.Scan) and c.count_id == "C12345" for c in counted)


def test_an_unknown_action_barcode_is_refused() -> None:
    read = station().read(labels.action_code("DANCE"))
    assert isinstance(read, scan.Rejected) and read.reason == "UNKNOWN_ACTION"


# ------------------------------------------------------------------ the spool (no server)


def _scan(n: int) -> pb.Scan:
    return pb.Scan(scan_id=f"id-{n}", code=f"010695000000034721SN{n}", depot_code="D-1")


def test_the_spool_keeps_order_across_reopening_and_cuts_a_torn_line(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for n in range(3):
            spool.add(_scan(n))
        spool.answered([pb.ScanResult(scan_id="id-1", accepted=True)], [])
    with (tmp_path / PENDING).open("a") as f:
        f.write('{"scan_id": "id-9", "que')  # a crash in the middle of an append
    with Spool(tmp_path) as spool:
        assert [w.scan_id for w in spool.waiting()] == ["id-0", "id-2"]
        spool.add(_scan(3))
    assert [w.scan_id for w in read_waiting(tmp_path)] == ["id-0", "id-2", "id-3"]


def test_the_spool_compacts_when_nothing_waits(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.add(_scan(0))
        spool.answered([pb.ScanResult(scan_id="id-0", accepted=True)], [])
        assert len(spool) == 0
        spool.add(_scan(1))
    assert [w.scan_id for w in read_waiting(tmp_path)] == ["id-1"]
    assert (tmp_path / PENDING).read_text().count("\n") == 1


def test_one_spool_has_one_writer(tmp_path: Path) -> None:
    with Spool(tmp_path), pytest.raises(SpoolError, match="in use"):
        Spool(tmp_path)
