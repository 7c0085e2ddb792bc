"""Who makes the call being served, from where, under which request id.

The server's call wrapper sets `current` when a call starts; the audit reads
it (`now_serving`) in the same transaction as the change it records, and
every log line written while the call is served carries its request id,
caller and subject (`add_call_fields`, a structlog processor).

The wrapper's own record is lazy: the request id is drawn, and the caller's
network peer asked for, only when something reads them (a log line, an audit
row, a failure's trailers). A successful read that no line mentions costs
neither.
"""

from __future__ import annotations

import contextvars
from collections.abc import MutableMapping
from typing import Any, NamedTuple, Protocol


class Serving(Protocol):
    """The call being served, as the audit and the log lines read it."""

    @property
    def request_id(self) -> str: ...

    @property
    def actor(self) -> str: ...  # the bearer token's subject ("" before it is known)

    @property
    def device(self) -> str: ...  # the caller's x-device header, else `caller`

    @property
    def caller(self) -> str: ...  # the caller's x-caller header, else its network peer


class Call(NamedTuple):  # a settled record: what the audit keeps of a call
    request_id: str
    actor: str
    device: str
    caller: str = ""


SYSTEM = Call(request_id="", actor="system", device="")

current: contextvars.ContextVar[Serving | None] = contextvars.ContextVar(
    "muster_call", default=None
)


def now_serving() -> Call:
    """The call being served, settled (outside one, e.g. the seed: the process itself)."""
    serving = current.get()
    if serving is None:
        return SYSTEM
    if isinstance(serving, Call):
        return serving
    return Call(serving.request_id, serving.actor, serving.device, serving.caller)


def add_call_fields(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the request id, caller and subject of the call being served."""
    serving = current.get()
    if serving is not None:
        event_dict.setdefault("request_id", serving.request_id)
        event_dict.setdefault("caller", serving.caller)
        actor = serving.actor
        if actor:
            event_dict.setdefault("subject", actor)
    return event_dict
