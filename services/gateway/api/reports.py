"""The reports as protobuf, built once per change and shared by gRPC, JSON and the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from muster.gateway.v1 import gateway_service_pb2 as pb

from services.common.errors import Unavailable
from services.gateway.api import mappers
from services.gateway.domain.model import Category, Scope
from services.gateway.domain.readiness import Key, ReadinessBook, Report
from services.gateway.service_layer.keeper import ReadinessKeeper

Filter = Callable[[Report], bool]


Asked = tuple[int, int, str]  # a request's category, scope kind and scope code, as sent

# Distinct requests whose keys are remembered (the seed has 175 category x scope pairs;
# the bound only keeps odd spellings of codes from growing it without end).
MAX_REMEMBERED_KEYS = 4096


class ReportCache:
    def __init__(self, keeper: ReadinessKeeper) -> None:
        self._keeper = keeper
        self._cache: dict[Key, tuple[Report, datetime | None, pb.GetReadinessResponse]] = {}
        # What each request named, once checked against the book's scopes: a polled
        # GetReadiness then skips the check (a third of its handler's time).
        self._keys: dict[Asked, Key] = {}
        self._keys_of: ReadinessBook | None = None

    def _book(self) -> ReadinessBook:
        if self._keeper.book is None:
            raise Unavailable("readiness is not known yet: inventory has not been read")
        return self._keeper.book

    def _answer(self, report: Report) -> pb.GetReadinessResponse:
        key = (report.category, report.scope)
        stale = self._keeper.stale_since
        hit = self._cache.get(key)
        if hit is not None and hit[0] is report and hit[1] == stale:
            return hit[2]
        answer = pb.GetReadinessResponse(
            report=mappers.report_to_proto(report, self._book().index, stale)
        )
        self._cache[key] = (report, stale, answer)
        return answer

    def proto(self, report: Report) -> pb.ReadinessReport:
        return self._answer(report).report

    def get(self, category: int, scope: pb.Scope) -> pb.GetReadinessResponse:
        book = self._book()
        if self._keys_of is not book:
            self._keys, self._keys_of = {}, book
        asked = (category, scope.kind, scope.code)
        key = self._keys.get(asked)
        if key is None:
            key = mappers.to_key(category, scope, book.index)  # refuses what names nothing
            if len(self._keys) < MAX_REMEMBERED_KEYS:
                self._keys[asked] = key
        report = book.reports.get(key)
        if report is None:
            raise Unavailable("readiness is not known yet for this scope")
        return self._answer(report)

    def list_reports(self, category: int, scope_kind: int) -> pb.ListReadinessResponse:
        book = self._book()
        wanted_category = mappers.category_from_proto(category)
        wanted_kind = mappers.scope_kind_from_proto(scope_kind)
        return pb.ListReadinessResponse(
            reports=[
                self.proto(r)
                for (c, s), r in sorted(book.reports.items(), key=_order)
                if (wanted_category is None or c == wanted_category)
                and (wanted_kind is None or s.kind == wanted_kind)
            ]
        )

    def scopes(self) -> pb.ListScopesResponse:
        book = self._book()
        depots = {
            d.code: (d.latitude, d.longitude, d.city, d.tier)
            for d in book.reference.depots.values()
        }
        return pb.ListScopesResponse(places=mappers.place_list(book.index, depots))

    def filter(self, category: int, scope: pb.Scope) -> Filter:
        wanted_category = mappers.category_from_proto(category)
        wanted_scope: Scope | None = None
        if scope.kind:
            kind = mappers.scope_kind_from_proto(scope.kind)
            if kind is not None:
                any_category = wanted_category or Category.WATER
                _, wanted_scope = mappers.to_key(
                    mappers.category_to_proto(any_category), scope, self._book().index
                )
        return lambda r: (
            (wanted_category is None or r.category == wanted_category)
            and (wanted_scope is None or r.scope == wanted_scope)
        )

    async def watch(self, wanted: Filter) -> AsyncIterator[list[pb.ReadinessReport]]:
        """The current reports, then each batch of changed ones, until the keeper stops."""
        sub = self._keeper.subscribe()
        try:
            yield [
                self.proto(r)
                for _, r in sorted(self._book().reports.items(), key=_order)
                if wanted(r)
            ]
            while True:
                batch = await sub.queue.get()
                if not batch:
                    return
                reports = [self.proto(r) for r in batch if wanted(r)]
                if reports:
                    yield reports
        finally:
            self._keeper.unsubscribe(sub)


def _order(item: tuple[Key, Report]) -> tuple[int, object]:
    (category, scope), _ = item
    return list(Category).index(category), (list(type(scope.kind)).index(scope.kind), scope.code)
