"""GetReadiness answers from memory: what a request named is checked once per book."""

from __future__ import annotations

import pytest
from muster.gateway.v1 import gateway_service_pb2 as pb

from services.common.errors import InvalidArgument, NotFound
from services.gateway.api.reports import ReportCache
from services.gateway.domain.config import ReadinessConfig
from services.gateway.domain.readiness import ReadinessBook
from services.gateway.service_layer.keeper import ReadinessKeeper
from tests.gateway.test_readiness_engine import NOW, TODAY, book, full_reserve, reference

DEPOT_C1 = pb.Scope(kind=pb.Scope.KIND_DEPOT, code="C1")


def test_a_remembered_request_is_checked_again_against_a_new_book() -> None:
    keeper = ReadinessKeeper(None, None, ReadinessConfig(), lambda: TODAY)  # type: ignore[arg-type]
    keeper.book = book(full_reserve())
    cache = ReportCache(keeper)
    first = cache.get(pb.CATEGORY_WATER, DEPOT_C1)
    assert (first.report.scope.kind, first.report.scope.code) == (pb.Scope.KIND_DEPOT, "C1")
    assert cache.get(pb.CATEGORY_WATER, DEPOT_C1) is first  # the same answer, from memory
    with pytest.raises(InvalidArgument):  # the category is part of what was checked
        cache.get(pb.CATEGORY_UNSPECIFIED, DEPOT_C1)

    # Depot C1 closes: the book is rebuilt without it, and the request names nothing.
    depots = {code: d for code, d in reference().depots.items() if code != "C1"}
    smaller = ReadinessBook(reference(depots=depots), ReadinessConfig(), TODAY)
    smaller.load([k for k in full_reserve() if k.depot_code != "C1"])
    smaller.recompute_all(NOW)
    keeper.book = smaller
    with pytest.raises(NotFound):
        cache.get(pb.CATEGORY_WATER, DEPOT_C1)
