"""Run a mutation at most once per request id (AIP-155).

The answer is stored with the change in the same transaction. A retry with the
same id gets the stored answer and changes nothing, including when two copies
race: an advisory lock on the id holds the second copy until the first has
committed, and it then finds the stored answer. (Should the lock ever be
bypassed, the request row's primary key still refuses the second insert.)
The same id with a different request is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from services.common.errors import Conflict, FieldViolation, InvalidArgument
from services.inventory.adapters.repository import StoredAnswer
from services.inventory.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

R = TypeVar("R")


def _replay(row: StoredAnswer, method: str, fingerprint: str) -> bytes:
    if row.method != method or row.fingerprint != fingerprint:
        raise InvalidArgument(
            [
                FieldViolation(
                    "request_id",
                    f"already used for a different {row.method} request; use a new id",
                )
            ]
        )
    return row.response


async def run_once(
    uow_factory: UnitOfWorkFactory,
    *,
    method: str,
    request_id: str,
    fingerprint: str,
    work: Callable[[UnitOfWork], Awaitable[R]],
    encode: Callable[[R], bytes],
    touched: Callable[[R], Sequence[str]],
) -> bytes:
    """The encoded answer of `work`, run once for this request id (every time if empty).

    The change is audited in its own transaction: who, from where, under which
    request id, and what it `touched` (a replay changes nothing and adds nothing).
    """
    try:
        async with uow_factory() as uow:
            if request_id:
                await uow.repo.lock(f"request:{request_id}")
                stored = await uow.repo.request(request_id)
                if stored is not None:
                    return _replay(stored, method, fingerprint)
            result = await work(uow)
            answer = encode(result)
            uow.repo.audit(method, touched(result))
            if request_id:
                uow.repo.save_answer(request_id, method, fingerprint, answer)
            await uow.commit()
            return answer
    except Conflict:
        if request_id:
            async with uow_factory() as uow:
                stored = await uow.repo.request(request_id)
                if stored is not None:
                    return _replay(stored, method, fingerprint)
        raise
