"""Audit rows for routing's changes: who, from where, when, under which request id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import calls
from services.routing.adapters.orm import AuditRow


@dataclass
class AuditRepository:
    session: AsyncSession

    def record(self, method: str, keys: Sequence[str]) -> None:
        """Append the audit row of the change being made (same transaction)."""
        call = calls.now_serving()
        self.session.add(
            AuditRow(
                method=method,
                actor=call.actor,
                device=call.device,
                request_id=call.request_id,
                keys=[k for k in keys if k],
            )
        )
