"""Row counts of every table in the inventory and routing schemas."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SCHEMAS = ("inventory", "routing")


async def tables(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE' "
                "AND table_name <> 'alembic_version' ORDER BY 1"
            ),
            {"schemas": list(SCHEMAS)},
        )
        return [row[0] for row in found]


async def counts(engine: AsyncEngine, names: list[str]) -> dict[str, int]:
    query = " UNION ALL ".join(f"SELECT '{n}', count(*) FROM {n}" for n in names)
    async with engine.connect() as connection:
        found = await connection.execute(text(query))
        return {row[0]: int(row[1]) for row in found}
