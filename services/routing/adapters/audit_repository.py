"""Audit rows for routing's changes: who, from where, when, under which request id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.routing.adapters.orm import AuditRow


@dataclass
class AuditRepository:
    session: AsyncSession

    def record(self, method: str, keys: Sequence[str]) -> None:
        """Append the audit row of the change being made (same transaction)."""
        self.session.add(AuditRow(**audit.row_values(method, keys)))
