"""Lone scans recorded together when they arrive together: a group commit for RecordScan.

Each RecordScan call carries one scan. Recorded alone, a scan is a
transaction of its own: two round trips to PostgreSQL (its rows read with
BEGIN, its changes written with COMMIT) and the CPU of a transaction on
both sides. When calls arrive faster than those transactions finish, the scans
that queued while one ran are recorded together in the next, exactly as a
RecordScans batch is (`scanning.record_scans`: one transaction, each scan
its own answer, a refused scan undone alone, the kits, units and lots of
them all fetched and written a table at a time), for a fraction of the CPU
a scan. Under a light load nothing waits: a scan that finds no transaction
of others running starts at once, in a transaction of its own.

- At most `in_flight` such transactions run at once in a process (one by
  default: while it runs, the next scans gather).
- Only scans that touch kits, units and lots are gathered (BATCH_ACTIONS);
  the others (issues, transfers, counts) run alone at once, as before.
- Two copies of one scan id never share a transaction: the later one waits
  for the next, where the ledger answers it as any replay. Nor do scans of
  two days (around midnight): a transaction is recorded under one day.
- A transaction that fails (after record_scans' own retries) takes nobody
  with it: each of its scans is recorded again alone, and a failure is then
  its own scan's.
- After a transaction, the next one waits `linger_s` for more scans (unless
  `most` wait already): at a steady rate scans arrive one by one, and a
  transaction costs about as much CPU (statements, round trips, commit) as
  the scans in it, so at 350 scans a second a process, without the wait,
  most transactions held one or two. A scan that finds nothing running
  still starts at once.
- A scan that no transaction took after `stall_s` (the one running is stuck,
  e.g. on a lock) is recorded alone, as it would have been before.
- Each scan keeps the audit of the call that sent it (who, under which
  request id): the command carries it, whoever runs the transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from services.common import calls
from services.inventory.adapters.batch_store import BATCH_ACTIONS
from services.inventory.domain import commands
from services.inventory.service_layer.scanning import ScanAnswer

# What records scans in one transaction, each answer in order (scanning.record_scans).
Record = Callable[[Sequence[commands.RecordScan], date], Awaitable[list[ScanAnswer]]]
IN_FLIGHT = 1
MOST_SCANS = 100  # gathered into one transaction (a RecordScans batch may hold 500)
STALL_S = 2.0
LINGER_S = 0.003


@dataclasses.dataclass
class _Waiting:
    cmd: commands.RecordScan
    today: date
    answer: asyncio.Future[ScanAnswer]
    taken: bool = False  # into a transaction

    def give(self, answer: ScanAnswer) -> None:
        if not self.answer.done():  # else its caller gave up waiting
            self.answer.set_result(answer)

    def fail(self, error: BaseException) -> None:
        if not self.answer.done():
            self.answer.set_exception(error)


class ScanCoalescer:
    """Records each RecordScan's scan, with those that arrive while a transaction runs."""

    def __init__(
        self,
        record: Record,
        *,
        in_flight: int = IN_FLIGHT,
        most: int = MOST_SCANS,
        stall_s: float = STALL_S,
        linger_s: float = LINGER_S,
    ) -> None:
        self._record = record
        self._in_flight = in_flight
        self._most = most
        self._stall_s = stall_s
        self._linger_s = linger_s
        self._waiting: deque[_Waiting] = deque()
        self._draining = 0  # transactions running (each drainer runs one at a time)
        self._drainers: set[asyncio.Task[None]] = set()  # referenced while they run

    async def record(self, cmd: commands.RecordScan, today: date) -> ScanAnswer:
        """The scan's answer, once the transaction it was recorded in committed."""
        cmd = dataclasses.replace(cmd, sent_by=calls.now_serving())
        if cmd.action not in BATCH_ACTIONS:
            [answer] = await self._record([cmd], today)
            return answer
        waiting = _Waiting(cmd, today, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._draining < self._in_flight:
            self._draining += 1
            # In a context of its own: the call that happened to start it is not
            # the call of the scans it records (logs, audit).
            drainer = asyncio.create_task(self._drain(), context=contextvars.Context())
            self._drainers.add(drainer)
            drainer.add_done_callback(self._drainers.discard)
        try:
            await asyncio.wait((waiting.answer,), timeout=self._stall_s)
        except asyncio.CancelledError:
            waiting.answer.cancel()  # not recorded, unless a transaction took it already
            raise
        if waiting.answer.done() or waiting.taken:
            return await waiting.answer
        self._waiting.remove(waiting)  # stalled: on its own, as before
        [answer] = await self._record([cmd], today)
        return answer

    async def _drain(self) -> None:
        try:
            batch = self._next_batch()
            while batch:
                await self._settle(batch)
                if self._linger_s and len(self._waiting) < self._most:
                    await asyncio.sleep(self._linger_s)  # let the next group gather
                batch = self._next_batch()
        finally:  # with no await since the last look at the queue: no scan is left behind
            self._draining -= 1

    def _next_batch(self) -> list[_Waiting]:
        """The scans waiting longest, one copy of each scan id, at most `most`, all of one
        day (a group is recorded under its first scan's: one that came after midnight
        waits for the next group)."""
        batch: list[_Waiting] = []
        ids: set[str] = set()
        later: list[_Waiting] = []
        while self._waiting and len(batch) < self._most:
            waiting = self._waiting.popleft()
            if waiting.answer.done():
                continue  # its caller gave up before it was recorded
            if waiting.cmd.scan_id in ids or (batch and waiting.today != batch[0].today):
                later.append(waiting)
            else:
                ids.add(waiting.cmd.scan_id)
                waiting.taken = True
                batch.append(waiting)
        self._waiting.extendleft(reversed(later))
        return batch

    async def _settle(self, batch: list[_Waiting]) -> None:
        try:
            answers = await self._record([w.cmd for w in batch], batch[0].today)
        except Exception as error:
            if len(batch) == 1:
                batch[0].fail(error)
            else:
                await asyncio.gather(*(self._alone(w) for w in batch))
            return
        except BaseException:
            for waiting in batch:
                waiting.answer.cancel()
            raise
        for waiting, answer in zip(batch, answers, strict=True):
            waiting.give(answer)

    async def _alone(self, waiting: _Waiting) -> None:
        try:
            [answer] = await self._record([waiting.cmd], waiting.today)
        except Exception as error:
            waiting.fail(error)
        else:
            waiting.give(answer)
