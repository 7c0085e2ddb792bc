"""Keeps readiness current: a snapshot of inventory, then its change feed; routing's estimates.

- start: read the reference and ExportKits (kits and the feed cursor of the
  same snapshot), compute every report, then follow WatchChanges from that
  cursor; each batch of changes re-reads only the kits it names and
  recomputes only the reports of the scopes holding them. A change to the
  reference (a depot, item type, template or reserve standard) takes a
  fresh snapshot.
- inventory unreachable: the reports stay as last known, marked stale from
  then; the keeper retries and takes a fresh snapshot when it answers again.
- estimates: asked for at start, every `estimates_interval_s`, and soon after
  a kit changes; routing unreachable makes the time to scene unknown
  (DELIVERY_ESTIMATE_UNAVAILABLE) while the other measures stand.
- a new day re-assesses every kit (expiries and inspections fall due).

Subscribers (WatchReadiness, the dashboard's events) get every changed report.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import structlog

from services.common.clock import PROVINCE_TZ, Today
from services.common.errors import Unavailable
from services.gateway.adapters.inventory_source import KitChange
from services.gateway.domain.config import ReadinessConfig
from services.gateway.domain.model import Estimate, Kit, Reference
from services.gateway.domain.readiness import Key, ReadinessBook, Report

log = structlog.get_logger("muster.gateway")


class Inventory(Protocol):
    async def reference(self) -> Reference: ...
    async def export(self) -> tuple[str, list[Kit]]: ...
    async def kit(self, label: str) -> Kit | None: ...
    def changes(self, cursor: str) -> AsyncIterator[KitChange]: ...


class Routing(Protocol):
    async def estimates(
        self, templates: Sequence[str], kits_needed: int, winter: bool
    ) -> list[Estimate]: ...


def _now() -> datetime:
    return datetime.now(PROVINCE_TZ)


@dataclass
class KeeperTimings:
    retry_s: float = 1.0
    estimates_interval_s: float = 60.0
    # After a kit changes, wait this long for more changes before asking routing.
    estimates_settle_s: float = 1.0
    day_check_s: float = 30.0


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[list[Report]] = field(default_factory=lambda: asyncio.Queue(256))


class ReadinessKeeper:
    def __init__(
        self,
        inventory: Inventory,
        routing: Routing,
        config: ReadinessConfig,
        today: Today,
        timings: KeeperTimings | None = None,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self._inventory = inventory
        self._routing = routing
        self.config = config
        self._today = today
        self._now = now
        self.timings = timings or KeeperTimings()
        self.book: ReadinessBook | None = None
        self.stale_since: datetime | None = None
        self.estimate_error: str | None = None
        self._subscribers: set[Subscription] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._estimate_wanted = asyncio.Event()
        self._loaded = asyncio.Event()

    # ---------------------------------------------------------------- reading
    @property
    def ready(self) -> bool:
        return self.book is not None

    def report(self, key: Key) -> Report | None:
        return None if self.book is None else self.book.reports.get(key)

    def reports(self) -> list[Report]:
        return [] if self.book is None else list(self.book.reports.values())

    async def wait_loaded(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._loaded.wait()
        return self.ready

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def _publish(self, changed: list[Report]) -> None:
        if not changed:
            return
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(changed)
            except asyncio.QueueFull:
                # A watcher that does not read is dropped; it can watch again.
                self._subscribers.discard(sub)
                sub.queue.put_nowait([])

    # ---------------------------------------------------------------- running
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._follow_inventory(), name="readiness-inventory"),
            asyncio.create_task(self._follow_estimates(), name="readiness-estimates"),
            asyncio.create_task(self._follow_days(), name="readiness-days"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait([])
        self._subscribers.clear()

    async def _follow_inventory(self) -> None:
        while True:
            try:
                cursor = await self._snapshot()
                await self._follow(cursor)
                continue  # the reference changed: a fresh snapshot at once
            except Unavailable as error:
                self._mark_stale(str(error))
            await asyncio.sleep(self.timings.retry_s)

    async def _follow(self, cursor: str) -> None:
        """Applies the feed's kit changes; returns when the reference changes.

        A new depot, a changed floor area, a new template version or a new
        reserve standard can move any report, and kits may wait on it (a kit
        at a depot the reference does not hold yet counts nowhere): the fresh
        snapshot reads the reference and every kit again, then the feed from
        there, publishing only the reports that moved.
        """
        async for change in self._inventory.changes(cursor):
            if change.reference_changed:
                log.info("reference_changed", cursor=change.cursor)
                return
            await self._apply(change)

    async def _snapshot(self) -> str:
        reference = await self._inventory.reference()
        cursor, kits = await self._inventory.export()
        book = ReadinessBook(reference, self.config, self._today())
        book.load(kits)
        if self.book is not None:
            book.estimates = self.book.estimates
            book.reports = self.book.reports
        self.book = book
        was_stale = self.stale_since is not None
        self.stale_since = None
        changed = book.recompute_all(self._now())
        if was_stale:
            changed = list(book.reports.values())
            log.info("inventory_back", reports=len(changed))
        self._publish(changed)
        if not self._loaded.is_set():
            self._loaded.set()
            log.info("readiness_loaded", kits=len(kits), reports=len(book.reports))
        self._estimate_wanted.set()
        return cursor

    def _mark_stale(self, why: str) -> None:
        if self.stale_since is not None:
            return
        if self.book is None:
            log.warning("inventory_unreachable", error=why)
            return
        self.stale_since = self._now()
        log.warning("readiness_stale", error=why, since=self.stale_since.isoformat())
        self._publish(list(self.book.reports.values()))

    async def _apply(self, change: KitChange) -> None:
        if not change.kit_labels or self.book is None:
            return
        labels = sorted(change.kit_labels)
        kits = await asyncio.gather(*(self._inventory.kit(label) for label in labels))
        book = self.book
        touched: set[Key] = set()
        for label, kit in zip(labels, kits, strict=True):
            touched |= book.put_kit(kit) if kit is not None else book.remove_kit(label)
        changed = book.recompute(touched, self._now())
        self._publish(changed)
        if changed:
            self._estimate_wanted.set()

    async def _follow_estimates(self) -> None:
        await self._loaded.wait()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timings.estimates_interval_s):
                    await self._estimate_wanted.wait()
                await asyncio.sleep(self.timings.estimates_settle_s)
            self._estimate_wanted.clear()
            await self.refresh_estimates()

    async def refresh_estimates(self) -> None:
        book = self.book
        if book is None:
            return
        templates = sorted({code for c in book.categories for code in book.template_codes(c)})
        winter = self._today().month in self.config.winter_months
        found: list[Estimate] | None = None
        try:
            asked: list[Estimate] = []
            for needed in book.kits_needed():
                asked += await self._routing.estimates(templates, needed, winter)
            found = asked
            if self.estimate_error is not None:
                log.info("estimates_back")
            self.estimate_error = None
        except Unavailable as error:
            if self.estimate_error is None:
                log.warning("estimates_unavailable", error=str(error))
            self.estimate_error = str(error)
        if self.book is not book:
            return
        book.set_estimates(found)
        self._publish(book.recompute_all(self._now()))

    async def _follow_days(self) -> None:
        while True:
            await asyncio.sleep(self.timings.day_check_s)
            self.check_day(self._today())

    def check_day(self, today: date) -> None:
        if self.book is not None and today != self.book.today:
            self.book.set_today(today)
            self._publish(self.book.recompute_all(self._now()))
