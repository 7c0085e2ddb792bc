"""The inventory schema's Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from services.common.migrations import Migrations

INVENTORY = Migrations(Path(__file__).resolve().parent.parent / "migrations")

upgrade = INVENTORY.upgrade
downgrade = INVENTORY.downgrade
autogenerate = INVENTORY.autogenerate
