"""Alembic environment for the routing schema (run by adapters/migrations.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from services.common.database import sync_engine
from services.routing.adapters.orm import SCHEMA, Base

config = context.config


def run_migrations_online() -> None:
    engine = sync_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table_schema=SCHEMA,
            include_schemas=True,
            include_name=lambda name, type_, _: type_ != "schema" or name == SCHEMA,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; give a database URL")
run_migrations_online()
