"""RecordScan's scans: alone when nothing runs, together when they arrive during a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date

import pytest

from services.common import calls
from services.common.errors import Conflict
from services.inventory.adapters.scan_store import StoredScan
from services.inventory.domain import commands
from services.inventory.domain.model import ScanAction
from services.inventory.service_layer.scan_coalescing import ScanCoalescer
from services.inventory.service_layer.scanning import ScanAnswer

TODAY = date(2026, 11, 29)


def scan(scan_id: str, action: ScanAction = ScanAction.RECEIVE) -> commands.RecordScan:
    return commands.RecordScan(scan_id=scan_id, code="(01)...", action=action, depot_code="D1")


class Ledger:
    """A fake record_scans: each call one transaction, held open until released."""

    def __init__(
        self,
        fail_together: bool = False,
        fail: frozenset[str] = frozenset(),
        stuck: frozenset[str] = frozenset(),
    ) -> None:
        self.transactions: list[list[str]] = []
        self.seen: list[commands.RecordScan] = []
        self.open = asyncio.Event()
        self.open.set()
        self.fail_together = fail_together
        self.fail = fail
        self.stuck = stuck  # scans whose transactions never end

    async def record(self, cmds: Sequence[commands.RecordScan], today: date) -> list[ScanAnswer]:
        self.transactions.append([c.scan_id for c in cmds])
        self.seen += cmds
        await self.open.wait()
        if any(c.scan_id in self.stuck for c in cmds):
            await asyncio.Event().wait()
        if (self.fail_together and len(cmds) > 1) or any(c.scan_id in self.fail for c in cmds):
            raise Conflict("deadlock")
        return [StoredScan(c.scan_id, b"", n, None) for n, c in enumerate(cmds)]  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_scan_that_finds_nothing_running_is_recorded_at_once_alone() -> None:
    ledger = Ledger()
    answer = await ScanCoalescer(ledger.record).record(scan("a"), TODAY)
    assert isinstance(answer, StoredScan) and answer.scan_id == "a"
    assert ledger.transactions == [["a"]]


async def test_scans_arriving_while_a_transaction_runs_are_recorded_together_next() -> None:
    ledger = Ledger()
    lone = ScanCoalescer(ledger.record)
    ledger.open.clear()
    first = asyncio.create_task(lone.record(scan("a"), TODAY))
    await settle()
    later = [asyncio.create_task(lone.record(scan(s), TODAY)) for s in "bcd"]
    await settle()
    ledger.open.set()
    answers = await asyncio.gather(first, *later)
    assert ledger.transactions == [["a"], ["b", "c", "d"]]
    assert [a.scan_id for a in answers] == ["a", "b", "c", "d"]  # each its own answer


async def test_scans_of_two_days_never_share_a_transaction() -> None:
    ledger = Ledger()
    days: list[date] = []
    record = ledger.record

    async def dated(cmds: Sequence[commands.RecordScan], today: date) -> list[ScanAnswer]:
        days.append(today)
        return await record(cmds, today)

    lone = ScanCoalescer(dated)
    ledger.open.clear()
    first = asyncio.create_task(lone.record(scan("a"), TODAY))
    await settle()
    tomorrow = date(2026, 11, 30)
    later = [lone.record(scan("b"), TODAY), lone.record(scan("c"), tomorrow)]
    tasks = [asyncio.create_task(c) for c in [*later, lone.record(scan("d"), tomorrow)]]
    await settle()
    ledger.open.set()
    await asyncio.gather(first, *tasks)
    assert ledger.transactions == [["a"], ["b"], ["c", "d"]]
    assert days == [TODAY, TODAY, tomorrow]


async def test_two_copies_of_one_scan_id_never_share_a_transaction() -> None:
    ledger = Ledger()
    lone = ScanCoalescer(ledger.record)
    ledger.open.clear()
    running = asyncio.create_task(lone.record(scan("a"), TODAY))
    await settle()
    copies = [asyncio.create_task(lone.record(scan(s), TODAY)) for s in ("b", "b", "c")]
    await settle()
    ledger.open.set()
    await asyncio.gather(running, *copies)
    assert ledger.transactions == [["a"], ["b", "c"], ["b"]]


async def test_a_failed_transaction_s_scans_are_recorded_again_each_alone() -> None:
    ledger = Ledger(fail_together=True, fail=frozenset({"c"}))
    lone = ScanCoalescer(ledger.record)
    ledger.open.clear()
    running = asyncio.create_task(lone.record(scan("a"), TODAY))
    await settle()
    gathered = [asyncio.create_task(lone.record(scan(s), TODAY)) for s in "bcd"]
    await settle()
    ledger.open.set()
    await running
    b, c, d = await asyncio.gather(*gathered, return_exceptions=True)
    assert [b.scan_id, d.scan_id] == ["b", "d"]  # type: ignore[union-attr]
    assert isinstance(c, Conflict)  # the failure is its own scan's only
    assert ledger.transactions[1] == ["b", "c", "d"]
    assert sorted(map(tuple, ledger.transactions[2:])) == [("b",), ("c",), ("d",)]


async def test_scans_other_than_kit_unit_and_lot_moves_never_wait_for_others() -> None:
    ledger = Ledger()
    lone = ScanCoalescer(ledger.record)
    ledger.open.clear()
    running = asyncio.create_task(lone.record(scan("a"), TODAY))
    await settle()
    issue = asyncio.create_task(lone.record(scan("i", ScanAction.ISSUE), TODAY))
    await settle()
    assert ledger.transactions == [["a"], ["i"]]  # started beside the running one
    ledger.open.set()
    await asyncio.gather(running, issue)


async def test_each_scan_keeps_the_call_that_sent_it_for_its_audit() -> None:
    ledger = Ledger()
    lone = ScanCoalescer(ledger.record)

    async def sent(scan_id: str, actor: str) -> ScanAnswer:
        calls.current.set(calls.Call(f"req-{scan_id}", actor, "HH"))
        return await lone.record(scan(scan_id), TODAY)

    senders = (("a", "li"), ("b", "wu"), ("c", "ma"))
    await asyncio.gather(*(sent(s, who) for s, who in senders))
    assert ledger.transactions == [["a", "b", "c"]]  # arrived together: one transaction
    assert [(c.sent_by.request_id, c.sent_by.actor) for c in ledger.seen if c.sent_by] == [
        ("req-a", "li"),
        ("req-b", "wu"),
        ("req-c", "ma"),
    ]


async def test_a_caller_that_gave_up_before_its_turn_is_not_recorded() -> None:
    ledger = Ledger()
    lone = ScanCoalescer(ledger.record)
    ledger.open.clear()
    running = asyncio.create_task(lone.record(scan("a"), TODAY))
    await settle()
    gave_up = asyncio.create_task(lone.record(scan("b"), TODAY))
    kept = asyncio.create_task(lone.record(scan("c"), TODAY))
    await settle()
    gave_up.cancel()
    ledger.open.set()
    await asyncio.gather(running, kept)
    with pytest.raises(asyncio.CancelledError):
        await gave_up
    assert ledger.transactions == [["a"], ["c"]]


async def test_a_scan_stuck_behind_a_transaction_that_does_not_end_is_recorded_alone() -> None:
    ledger = Ledger(stuck=frozenset({"a"}))
    lone = ScanCoalescer(ledger.record, stall_s=0.05)
    stuck = asyncio.create_task(lone.record(scan("a"), TODAY))
    await settle()
    answer = await asyncio.wait_for(lone.record(scan("b"), TODAY), 1)
    assert answer.scan_id == "b"
    assert ledger.transactions == [["a"], ["b"]]
    stuck.cancel()


async def test_scans_arriving_just_after_a_transaction_wait_a_moment_to_go_together() -> None:
    ledger = Ledger()
    lone = ScanCoalescer(ledger.record, linger_s=0.2)
    await lone.record(scan("a"), TODAY)
    first = asyncio.create_task(lone.record(scan("b"), TODAY))
    await asyncio.sleep(0.02)
    second = asyncio.create_task(lone.record(scan("c"), TODAY))
    answers = await asyncio.gather(first, second)
    assert ledger.transactions == [["a"], ["b", "c"]]
    assert [a.scan_id for a in answers] == ["b", "c"]


async def test_a_scan_on_an_idle_process_does_not_wait_for_others() -> None:
    ledger = Ledger()
    lone = ScanCoalescer(ledger.record, linger_s=30)
    answer = await asyncio.wait_for(lone.record(scan("a"), TODAY), timeout=1)
    assert answer.scan_id == "a"
