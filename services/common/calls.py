"""Who makes the call being served, from where, under which request id: for audit records.

Set by the server interceptor once the caller is known; read by whatever
records a change, in the same transaction as the change.
"""

from __future__ import annotations

import contextvars
from typing import NamedTuple


class Call(NamedTuple):  # made on every call: a tuple is the cheapest immutable record
    request_id: str
    actor: str  # the bearer token's subject
    device: str  # the caller's x-device header, else its network peer


current: contextvars.ContextVar[Call | None] = contextvars.ContextVar("muster_call", default=None)


def now_serving() -> Call:
    """The call being served (outside one, e.g. the seed: the process itself)."""
    return current.get() or Call(request_id="", actor="system", device="")
