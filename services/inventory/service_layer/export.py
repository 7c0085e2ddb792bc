"""The kit export for consumers that keep a copy of the reserve (the gateway)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from services.inventory.adapters.kit_export import KitExport, export_kits
from services.inventory.service_layer.unit_of_work import UnitOfWork

T = TypeVar("T")


async def export(uow: UnitOfWork) -> KitExport:
    return await export_kits(uow.session)


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Slices of at most `size`; one empty slice when there is nothing."""
    if not items:
        yield items
    for start in range(0, len(items), size):
        yield items[start : start + size]
