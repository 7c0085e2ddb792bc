"""Engines for PostgreSQL, the one SQL dialect, through psycopg 3 (sync and async)."""

from __future__ import annotations

import asyncio

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


async def database_answers(engine: AsyncEngine, timeout_s: float = 2.0) -> bool:
    """True when a `SELECT 1` comes back within the timeout."""
    try:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
