"""The audit log's shape, shared by every service's schema, and how one row is filled.

Each service keeps its own `audit_log` table (its own schema and migration);
the columns and the way a row is taken from the call being served are one
definition here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from services.common import calls


class AuditLogColumns:
    """Who changed what: one row per change, written in the change's transaction.

    `keys` names what the change touched (a depot code, a kit label, a
    transfer's SSCC, a plan id), so a subject's history finds it.
    """

    __tablename__ = "audit_log"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (Index("ix_audit_log_keys", "keys", postgresql_using="gin"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    method: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    device: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    keys: Mapped[list[str]] = mapped_column(ARRAY(String(128)))


def row_values(method: str, keys: Sequence[str]) -> dict[str, Any]:
    """The audit row of the change being made: the call's actor, device and request id."""
    call = calls.now_serving()
    return {
        "method": method,
        "actor": call.actor,
        "device": call.device,
        "request_id": call.request_id,
        "keys": [k for k in keys if k],
    }
