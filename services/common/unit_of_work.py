"""The unit of work every service builds on: one session, one transaction, errors translated.

Connection failures become `Unavailable`, serialization failures, deadlocks
and unique-index races `Conflict`; anything raised inside rolls the whole
transaction back. A service's unit of work adds its repositories in
`_open`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import psycopg
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.errors import Conflict, Unavailable

# SQLSTATE classes: 08 connection exception, 57P0x server shutting down.
_UNAVAILABLE_STATES = ("08", "57P")
_RETRYABLE_STATES = ("40001", "40P01")
# A unique index refused a row that a concurrent transaction inserted first.
_UNIQUE_VIOLATION = "23505"


def translate(error: exc.DBAPIError) -> Exception | None:
    """The domain error for a driver error that is not the caller's fault, if any."""
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    lost = isinstance(error, exc.OperationalError) and not sqlstate
    return translate_sqlstate(sqlstate, lost=error.connection_invalidated or lost)


def translate_driver(
    error: psycopg.Error, connection: psycopg.AsyncConnection[Any]
) -> Exception | None:
    """The same, for an error from psycopg itself (code that talks to the driver directly)."""
    sqlstate = error.sqlstate or ""
    lost = connection.broken or (isinstance(error, psycopg.OperationalError) and not sqlstate)
    return translate_sqlstate(sqlstate, lost=lost)


def translate_sqlstate(sqlstate: str, *, lost: bool) -> Exception | None:
    if lost or sqlstate.startswith(_UNAVAILABLE_STATES):
        return Unavailable("the database is unreachable; try again shortly")
    if sqlstate in _RETRYABLE_STATES or sqlstate == _UNIQUE_VIOLATION:
        return Conflict("the change lost a race with another one; retry it")
    return None


class SqlUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.session: AsyncSession

    def _open(self) -> None:
        """Attach repositories to `self.session`."""

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        except exc.DBAPIError:
            pass
        finally:
            await self.session.close()
        if isinstance(error, exc.DBAPIError):
            translated = translate(error)
            if translated is not None:
                raise translated from error

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
