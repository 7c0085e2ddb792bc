"""Every service's schema migrations, in the order they are applied."""

from __future__ import annotations

from services.common.migrations import Migrations
from services.inventory.adapters.migrations import INVENTORY
from services.routing.adapters.migrations import ROUTING

ALL: tuple[Migrations, ...] = (INVENTORY, ROUTING)


def upgrade_all(database_url: str) -> None:
    for migrations in ALL:
        migrations.upgrade(database_url)
