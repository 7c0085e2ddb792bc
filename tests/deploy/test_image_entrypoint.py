"""The image's entrypoint, from an install made the way deploy/Dockerfile makes it.

The Dockerfile generates the code from proto/, builds the project as a wheel
and installs that wheel into a fresh virtual environment. This test does the
same (the third-party packages come from the development environment, the
project only from the wheel), then runs the entrypoint's roles against the
test PostgreSQL: `migrate` (wait, then migrate every schema), the three
services until each answers SERVING (the last through the entrypoint's own
`health`), and SIGTERM. It catches what only an installed copy shows: a module or data file
(migrations, seed, readiness.toml) missing from the wheel. Where a Docker
engine answers, `docker build` itself is tried as well.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import auth
from tests.support.database import PgServer

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Install:
    python: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        kept = {k: v for k, v in os.environ.items() if not k.startswith(("MUSTER_", "PYTHONPATH"))}
        return {**kept, "PYTHONSAFEPATH": "1", **extra}

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-m", "services.cli.entrypoint", *args],
            env=self.env(**extra),
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def start(self, role: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(self.python), "-m", "services.cli.entrypoint", role],
            env=self.env(**extra),
            cwd=self.home,
            stderr=subprocess.PIPE,
            text=True,
        )


def _build_like_the_dockerfile(work: Path) -> Install:
    source = work / "src"
    for part in ("proto", "services"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md", "scripts/gen_protos.py"):
        (source / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / part, source / part)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    steps = [
        [sys.executable, str(source / "scripts/gen_protos.py")],
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(work / "wheels"),
            str(source),
        ],
        [sys.executable, "-m", "venv", "--without-pip", str(work / "venv")],
    ]
    for step in steps:
        subprocess.run(step, check=True, capture_output=True, timeout=300)
    python = work / "venv" / "bin" / "python"
    [wheel] = (work / "wheels").glob("muster-*.whl")
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Third-party packages from the development environment (a plain path: its .pth
    # files, the editable install among them, are not read).
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dev_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return Install(python, work)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    return _build_like_the_dockerfile(tmp_path_factory.mktemp("image"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_serving(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1][-3000:]
            try:
                answer = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"127.0.0.1:{port} never answered SERVING")


def test_the_wheel_carries_the_data_files_the_services_read(install: Install) -> None:
    [wheel] = (install.home / "wheels").glob("muster-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "services/inventory/seed/jilin.json",
        "services/routing/seed/network.json",
        "services/gateway/readiness.toml",
        "services/inventory/migrations/script.py.mako",
        "services/gateway/api/dashboard.html",
        "muster/inventory/v1/inventory_service_pb2.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("services/inventory/migrations/versions/2026_") for n in names)


def test_the_installed_project_is_the_wheel_not_the_work_tree(install: Install) -> None:
    where = subprocess.run(
        [str(install.python), "-c", "import services, muster; print(services.__file__)"],
        env=install.env(),
        cwd=install.home,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(install.home / "venv"))


def test_entrypoint_without_a_role_shows_the_roles(install: Install) -> None:
    shown = install.run()
    assert shown.returncode == 2 and "migrate" in shown.stderr and "gateway" in shown.stderr


@pytest.mark.slow
def test_the_entrypoint_migrates_then_serves_each_service(install: Install, pg: PgServer) -> None:
    url = pg.new_database("muster_image")
    migrated = install.run("migrate", MUSTER_DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    events = [
        json.loads(line).get("event")
        for line in migrated.stderr.splitlines()
        if line.startswith("{")
    ]
    assert "migrated" in events

    ports = {name: _free_port() for name in ("inventory", "routing", "gateway")}
    common = {**auth.environment(), "MUSTER_DATABASE_URL": url}
    del common["MUSTER_TOKEN"]
    roles = {
        "inventory": {
            "MUSTER_INVENTORY_PORT": str(ports["inventory"]),
            "MUSTER_INVENTORY_WORKERS": "1",
        },
        "routing": {
            "MUSTER_ROUTING_PORT": str(ports["routing"]),
            "MUSTER_ROUTING_INVENTORY_ADDRESS": f"127.0.0.1:{ports['inventory']}",
            "MUSTER_ROUTING_SOLVER_PROCESSES": "1",
        },
        "gateway": {
            "MUSTER_GATEWAY_PORT": str(ports["gateway"]),
            "MUSTER_GATEWAY_HTTP_PORT": str(_free_port()),
            "MUSTER_GATEWAY_INVENTORY_ADDRESS": f"127.0.0.1:{ports['inventory']}",
            "MUSTER_GATEWAY_ROUTING_ADDRESS": f"127.0.0.1:{ports['routing']}",
            "MUSTER_GATEWAY_TOKEN": auth.gateway_token(),
        },
    }
    running: list[subprocess.Popen[str]] = []
    try:
        # All at once, as compose would: each waits for what it needs (the gateway retries).
        running += [install.start(role, **common, **settings) for role, settings in roles.items()]
        for role, process in zip(roles, running, strict=True):
            _wait_serving(ports[role], process)
        checked = install.run("health", f"127.0.0.1:{ports['gateway']}")
        assert checked.returncode == 0 and checked.stdout.strip().endswith("SERVING")
        codes = []
        for process in reversed(running):  # callers first, as compose and a rollout stop them
            process.send_signal(signal.SIGTERM)
            codes.append(process.wait(timeout=30))
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
    assert codes == [0, 0, 0]


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _docker_answers(), reason="no Docker engine answers here (docker info)")
def test_the_dockerfile_builds() -> None:
    built = subprocess.run(
        ["docker", "build", "-f", "deploy/Dockerfile", "-t", "muster:test", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert built.returncode == 0, built.stderr[-3000:]
