"""Run a service's Alembic migrations (its own schema and version table) against a URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config


@dataclass(frozen=True)
class Migrations:
    scripts: Path

    def config(self, database_url: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.scripts))
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
        config.set_main_option(
            "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"
        )
        return config

    def upgrade(self, database_url: str, revision: str = "head") -> None:
        command.upgrade(self.config(database_url), revision)

    def downgrade(self, database_url: str, revision: str = "base") -> None:
        command.downgrade(self.config(database_url), revision)

    def autogenerate(self, database_url: str, message: str) -> None:
        """For developers: write a new revision from the difference to the models."""
        command.revision(self.config(database_url), message=message, autogenerate=True)
