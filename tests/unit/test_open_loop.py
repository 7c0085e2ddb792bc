"""The scan benchmark's open loop: calls go out on schedule; latency runs from when one was due."""

from __future__ import annotations

import asyncio
import time

from benchmarks.scan_bench import open_loop


async def test_calls_go_out_on_schedule_whether_or_not_earlier_ones_came_back() -> None:
    released = asyncio.Event()
    started: list[int] = []

    async def call(item: int, worker: int) -> str | None:
        started.append(item)
        await released.wait()
        return None

    run = asyncio.create_task(open_loop(range(20), 1000.0, call))
    await asyncio.sleep(0.1)  # 20 calls at 1,000/s are all due after 19 ms
    assert started == list(range(20))
    released.set()
    result = await run
    assert len(result.latencies_ms) == 20
    assert not result.errors


async def test_latency_counts_from_when_the_call_was_due_not_when_it_was_sent() -> None:
    async def call(item: int, worker: int) -> str | None:
        if item == 0:
            time.sleep(0.05)  # noqa: ASYNC251 - the client stalls: calls 1-4 go out ~50 ms late
        return None if item % 2 else "refused"

    result = await open_loop(range(5), 1000.0, call)
    late = sorted(result.latencies_ms)[1:]  # every call but the first went out late
    assert min(late) >= 40
    assert max(result.send_lag_ms) >= 40
    assert result.errors == {"refused": 3}
    assert result.seconds >= 0.05
