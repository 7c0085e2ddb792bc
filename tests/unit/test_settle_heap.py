"""settle_heap: what start-up made is frozen out of collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.common.server import settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_settle_heap_freezes_what_exists(restored_gc: None) -> None:
    gc.unfreeze()
    kept = [[n] for n in range(1000)]  # container objects alive at start-up
    settle_heap()
    assert gc.get_freeze_count() >= len(kept)
    assert not any(kept[0] is o for o in gc.get_objects(generation=2))  # not walked again
