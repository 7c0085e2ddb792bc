"""The inventory service as a real process: configuration, JSON log lines, SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.common.channels import sync_channel
from tests.support import auth


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_serving(address: str) -> None:
    deadline = time.monotonic() + 20
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise AssertionError("service never became SERVING")


def test_missing_database_url_stops_with_a_message_naming_it() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")}
    done = subprocess.run(
        [sys.executable, "-m", "services.inventory"], env=env, capture_output=True, timeout=30
    )
    assert done.returncode != 0
    assert "MUSTER_INVENTORY_DATABASE_URL or MUSTER_DATABASE_URL" in done.stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_one_json_line_per_write_or_failure_and_a_clean_stop_on_sigterm(
    database_url: str, workers: int
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "MUSTER_INVENTORY_DATABASE_URL": database_url,
        "MUSTER_INVENTORY_PORT": str(port),
        "MUSTER_INVENTORY_WORKERS": str(workers),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.inventory"], env=env, stderr=subprocess.PIPE
    )
    try:
        address = f"127.0.0.1:{port}"
        _wait_serving(address)
        with sync_channel(address, auth.token) as channel:
            stub = pb_grpc.InventoryServiceStub(channel)
            stub.ListDepots(
                pb.ListDepotsRequest(), metadata=[("x-request-id", "req-41")], timeout=5
            )
            with pytest.raises(grpc.RpcError):
                stub.GetKit(pb.GetKitRequest(label="NOPE"), timeout=5)
            with pytest.raises(grpc.RpcError):  # a write refused
                stub.CreateDepot(
                    pb.CreateDepotRequest(), metadata=[("x-request-id", "req-42")], timeout=5
                )
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    rpcs = [line for line in lines if line["event"] == "rpc"]
    # A successful read is counted in the metrics, logged at debug only (not here).
    assert not [r for r in rpcs if r["method"].endswith("/ListDepots")]
    refused = next(r for r in rpcs if r["method"].endswith("/CreateDepot"))
    assert refused["code"] == "INVALID_ARGUMENT" and refused["request_id"] == "req-42"
    assert refused["duration_ms"] >= 0 and refused["caller"]
    missing = next(r for r in rpcs if r["method"].endswith("/GetKit"))
    assert missing["code"] == "NOT_FOUND" and len(missing["request_id"]) == 32
    events = [e["event"] for e in lines]
    # GetKit's line may follow the signal: context.abort sends the status to the client
    # before the interceptor writes the line, so the test can signal first.
    stops = [e for e in events if e != "rpc"]
    if workers == 1:
        assert stops[-2:] == ["server_stopping", "server_stopped"]
        assert "workers_started" not in events
    else:  # each worker drains and stops, then the parent says so
        started = [e for e in lines if e["event"] == "server_started"]
        assert len(started) == workers and len({e["address"] for e in started}) == 1
        assert events.count("server_stopping") == events.count("server_stopped") == workers
        assert events[-1] == "workers_stopped"
