"""Keyset pages, shared by every service's list calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """A keyset page: items after `after_key`, at most `size`."""

    size: int
    after_key: str | None = None


@dataclass(frozen=True)
class PageOf(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_key: str | None = None
