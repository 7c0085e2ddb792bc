"""Engines for PostgreSQL, the one SQL dialect, through psycopg 3 (sync and async)."""

from __future__ import annotations

import asyncio
import time

import psycopg
import structlog
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def normalise_url(url: str) -> URL:
    """Accept `postgresql://` or `postgres://` URLs and use the psycopg driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"Muster runs on PostgreSQL only, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+psycopg")


def async_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args={"connect_timeout": 3},
    )


def sync_engine(url: str) -> Engine:
    return create_engine(normalise_url(url), connect_args={"connect_timeout": 3})


log = structlog.get_logger("muster.database")


def _reason(error: psycopg.Error) -> str:
    """The driver's first line ('... failed: Connection refused'), without its hints."""
    lines = str(error).strip().splitlines()
    return lines[0].removeprefix("connection failed: ") if lines else type(error).__name__


def wait_for_database(url: str, timeout_s: float, *, max_pause_s: float = 5.0) -> None:
    """Return once PostgreSQL accepts a connection; stop the process after `timeout_s`.

    Each failed attempt is logged with the driver's reason (refused, unknown
    host, password, database missing), so an operator sees why a start waits.
    """
    target = normalise_url(url)
    libpq = target.set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + timeout_s
    pause, attempt = 0.5, 0
    while True:
        attempt += 1
        try:
            with psycopg.connect(libpq, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            if attempt > 1:
                log.info("database_reachable", attempts=attempt)
            return
        except psycopg.Error as error:
            reason = _reason(error)
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(
                    f"database {target.host}:{target.port or 5432}/{target.database} not "
                    f"reachable after {timeout_s:g} s: {reason}"
                ) from None
            pause = min(pause, left)
            log.warning(
                "database_waiting",
                host=target.host,
                database=target.database,
                attempt=attempt,
                reason=reason,
                retry_in_s=round(pause, 2),
            )
            time.sleep(pause)
            pause = min(pause * 2, max_pause_s)


async def database_answers(engine: AsyncEngine, timeout_s: float = 2.0) -> bool:
    """True when a `SELECT 1` comes back within the timeout."""
    try:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
