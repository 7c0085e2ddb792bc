"""Services as real processes for fault tests: started, killed, signalled, restarted.

Each service runs in its own process group (a new session), so `kill_group`
takes the supervisor and every worker down with SIGKILL at once, as a
crashed host or an OOM killer would. Health is polled through the standard
health service; its log lines (JSON, stderr) are kept in a file for asserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    """`python -m services.<name>` on a fixed port, with the environment given."""

    name: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="muster-fault-", suffix=".log")[1])
    )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        prefix = f"MUSTER_{self.name.upper()}_"
        env = {**os.environ, **self.env, f"{prefix}PORT": str(self.port)}
        with self.log_path.open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                env=env,
                stderr=log,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_group(self) -> None:
        """SIGKILL to the whole process group: no handler runs, nothing is drained."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def exit_code(self, within_s: float = 20) -> int:
        assert self.process is not None
        deadline = time.monotonic() + within_s
        while (code := self.process.poll()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running {within_s} s after it was told")
            await asyncio.sleep(0.1)
        return code

    def stop(self) -> None:
        """At the end of a test: whatever is left of the group goes, and its log."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log_path.unlink(missing_ok=True)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


async def health_status(address: str, timeout_s: float = 2) -> int | None:
    """The server's overall health, or None when it does not answer."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout_s
            )
        except grpc.aio.AioRpcError:
            return None
        return int(answer.status)


async def wait_for_health(
    service: ServiceProcess, wanted: int = SERVING, within_s: float = 40
) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not service.alive():
            raise AssertionError(f"{service.name} exited:\n{service.log_text()}")
        if await health_status(service.address) == wanted:
            return
        await asyncio.sleep(0.1)
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(wanted)
    raise AssertionError(f"{service.name} never became {name}:\n{service.log_text()}")
