"""A handheld's scan load: every scan re-sent (same scan_id) until it is acknowledged.

Senders share a queue of singles (RecordScan) and batches (RecordScans). A
call that fails is sent again, unchanged, after a short pause, exactly as the
`muster scan` spool does; what the server answered with is kept per scan_id,
and every failed attempt's status code is counted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from sqlalchemy import text

from services.common.channels import aio_channel
from services.common.database import async_engine
from tests.support import auth

# Fast reconnects: the server comes back within seconds, and the test is timed.
RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


def scanner_channel(address: str) -> grpc.aio.Channel:
    """An admin's channel that reconnects within half a second of the server being back."""
    value = auth.token()
    return aio_channel(address, lambda: value, options=RECONNECT_OPTIONS)


@dataclass
class ScanLoad:
    stub: pb_grpc.InventoryServiceStub
    scans: Sequence[pb.Scan]
    batch_every: int = 4  # every 4th piece of work is a batch
    batch_size: int = 10
    call_timeout_s: float = 5
    acknowledged: dict[str, pb.ScanResult] = field(default_factory=dict)
    failures: Counter[grpc.StatusCode] = field(default_factory=Counter)
    _queue: asyncio.Queue[list[pb.Scan]] = field(default_factory=asyncio.Queue)
    _progress: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        pending = list(self.scans)
        piece = 0
        while pending:
            size = self.batch_size if piece % self.batch_every == self.batch_every - 1 else 1
            self._queue.put_nowait(pending[:size])
            del pending[:size]
            piece += 1

    async def _send(self, work: list[pb.Scan]) -> list[pb.ScanResult]:
        if len(work) == 1:
            answer = await self.stub.RecordScan(
                pb.RecordScanRequest(scan=work[0]), timeout=self.call_timeout_s
            )
            return [answer.result]
        batch = await self.stub.RecordScans(
            pb.RecordScansRequest(scans=work), timeout=self.call_timeout_s
        )
        return list(batch.results)

    async def _sender(self) -> None:
        while not self._queue.empty():
            work = self._queue.get_nowait()
            while True:
                try:
                    results = await self._send(work)
                except grpc.aio.AioRpcError as error:
                    self.failures[error.code()] += 1
                    await asyncio.sleep(0.05)
                    continue
                for result in results:
                    self.acknowledged[result.scan_id] = result
                self._progress.set()
                break

    async def run(self, senders: int = 4) -> None:
        await asyncio.gather(*(self._sender() for _ in range(senders)))

    async def acknowledged_at_least(self, count: int) -> None:
        while len(self.acknowledged) < count:
            self._progress.clear()
            await self._progress.wait()


@dataclass(frozen=True)
class Ledger:
    """What the database holds for the scans of a load."""

    rows_per_scan: dict[str, int]
    seq_of: dict[str, int]
    ledger_rows_at_depot: int
    units_at_depot: int
    distinct_serials_at_depot: int


async def read_ledger(url: str, scan_ids: Sequence[str], depot: str, item_type: str) -> Ledger:
    engine = async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT scan_id, count(*), min(seq) FROM inventory.scans "
                        "WHERE scan_id = ANY(:ids) GROUP BY scan_id"
                    ),
                    {"ids": list(scan_ids)},
                )
            ).all()
            at_depot = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM inventory.scans s JOIN inventory.depots d "
                        "ON d.id = s.depot_id WHERE d.code = :depot"
                    ),
                    {"depot": depot},
                )
            ).scalar_one()
            units, serials = (
                await conn.execute(
                    text(
                        "SELECT count(*), count(DISTINCT u.serial) FROM inventory.units u "
                        "JOIN inventory.depots d ON d.id = u.depot_id "
                        "JOIN inventory.item_types t ON t.id = u.item_type_id "
                        "WHERE d.code = :depot AND t.code = :item_type"
                    ),
                    {"depot": depot, "item_type": item_type},
                )
            ).one()
    finally:
        await engine.dispose()
    return Ledger(
        rows_per_scan={r[0]: int(r[1]) for r in rows},
        seq_of={r[0]: int(r[2]) for r in rows},
        ledger_rows_at_depot=int(at_depot),
        units_at_depot=int(units),
        distinct_serials_at_depot=int(serials),
    )


def assert_each_stored_once(load: ScanLoad, ledger: Ledger) -> None:
    """Every scan acknowledged, accepted, in the ledger once, under the seq it was answered."""
    wanted = {s.scan_id for s in load.scans}
    assert set(load.acknowledged) == wanted, "some scans were never acknowledged"
    refused = [r for r in load.acknowledged.values() if not r.accepted]
    assert not refused, f"{len(refused)} scans refused, first: {refused[0].status.message}"
    assert set(ledger.rows_per_scan) == wanted, "an acknowledged scan is missing from the ledger"
    assert set(ledger.rows_per_scan.values()) == {1}
    answered = {scan_id: r.ledger_seq for scan_id, r in load.acknowledged.items()}
    assert answered == ledger.seq_of, "an answer names another ledger row than the stored one"
    count = len(wanted)
    assert ledger.ledger_rows_at_depot == count, "the ledger holds rows no scan was answered with"
    assert ledger.units_at_depot == ledger.distinct_serials_at_depot == count
