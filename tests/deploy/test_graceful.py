"""Graceful operations as an orchestrator sees them, on the inventory service as a real process.

SIGTERM: health goes NOT_SERVING at once, a call already in flight still
finishes, the process exits 0. Start: it waits for PostgreSQL, saying why,
and gives up after the bound with a message (the orchestrator restarts it).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from tests.support import auth
from tests.support.proxy import DatabaseProxy

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(database_url: str, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **auth.environment(),
        "MUSTER_INVENTORY_DATABASE_URL": database_url,
        "MUSTER_INVENTORY_PORT": str(port),
        "MUSTER_INVENTORY_WORKERS": "1",
        # No re-check during the test: NOT_SERVING must come from the signal alone.
        "MUSTER_INVENTORY_HEALTH_INTERVAL_S": "600",
        **extra,
    }


async def _inventory(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.inventory", env=env, stderr=asyncio.subprocess.PIPE
    )


async def _wait_serving(health: health_pb2_grpc.HealthStub, within_s: float = 30) -> None:
    async with asyncio.timeout(within_s):
        while True:
            try:
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)


def _events(stderr: bytes) -> list[dict]:
    return [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    yield proxy
    proxy.release()
    await proxy.cut()


@pytest.mark.slow
async def test_sigterm_goes_not_serving_drains_the_call_in_flight_and_exits_0(
    proxy: DatabaseProxy,
) -> None:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # DEBUG: the drained call is a read, whose successful answer is logged at debug.
    process = await _inventory(_environment(proxy.url, port, MUSTER_LOG_LEVEL="DEBUG"))
    try:
        async with grpc.aio.insecure_channel(address) as plain, auth.channel(address) as channel:
            health = health_pb2_grpc.HealthStub(plain)
            await _wait_serving(health)
            live = await health.Check(health_pb2.HealthCheckRequest(service="liveness"))
            assert live.status == SERVING  # what Kubernetes' liveness probe asks
            watch = health.Watch(health_pb2.HealthCheckRequest())
            assert (await watch.read()).status == SERVING
            proxy.hold()  # the next query stalls inside PostgreSQL's connection
            call = asyncio.ensure_future(
                pb_grpc.InventoryServiceStub(channel).ListDepots(pb.ListDepotsRequest(), timeout=30)
            )
            await asyncio.sleep(0.5)
            assert not call.done()

            process.send_signal(signal.SIGTERM)
            update = await asyncio.wait_for(watch.read(), 5)
            assert update.status == NOT_SERVING
            watch.cancel()  # a watcher is a call in flight too: let the drain not wait for it
            proxy.release()
            answer = await asyncio.wait_for(call, 10)
            assert isinstance(answer, pb.ListDepotsResponse)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    events = [e["event"] for e in _events(stderr)]
    stopping = events.index("server_stopping")
    listed = next(
        i
        for i, e in enumerate(_events(stderr))
        if e["event"] == "rpc" and e["method"].endswith("/ListDepots") and e["code"] == "OK"
    )
    assert stopping < listed < events.index("server_stopped")


@pytest.mark.slow
async def test_start_waits_for_the_database_saying_why_then_serves(database_url: str) -> None:
    proxy = DatabaseProxy(database_url)
    proxy.port = _free_port()  # nothing listens there yet: connections are refused
    port = _free_port()
    process = await _inventory(_environment(proxy.url, port))
    assert process.stderr is not None
    try:
        async with asyncio.timeout(20):
            while True:
                line = await process.stderr.readline()
                assert line, "the service exited instead of waiting"
                if line.startswith(b"{") and json.loads(line)["event"] == "database_waiting":
                    waiting = json.loads(line)
                    break
        assert "refused" in waiting["reason"].lower() and waiting["attempt"] == 1
        await proxy.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
            await _wait_serving(health_pb2_grpc.HealthStub(plain))
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await proxy.cut()
    assert process.returncode == 0


async def test_start_gives_up_after_the_bound_naming_the_database_and_the_reason(
    database_url: str,
) -> None:
    nowhere = DatabaseProxy(database_url)
    nowhere.port = _free_port()
    env = _environment(nowhere.url, _free_port(), MUSTER_INVENTORY_DATABASE_WAIT_S="1")
    process = await _inventory(env)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    last = stderr.decode().strip().splitlines()[-1]
    assert "not reachable after 1 s" in last and "refused" in last.lower()
