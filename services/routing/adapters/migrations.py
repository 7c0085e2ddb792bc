"""The routing schema's Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from services.common.migrations import Migrations

ROUTING = Migrations(Path(__file__).resolve().parent.parent / "migrations")

upgrade = ROUTING.upgrade
downgrade = ROUTING.downgrade
autogenerate = ROUTING.autogenerate
