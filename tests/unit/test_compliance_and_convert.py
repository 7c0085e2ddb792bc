"""Depot area rules and request-shape conversions."""

import pytest
from google.type import date_pb2

from services.common.errors import Violations
from services.inventory.api import convert
from services.inventory.domain.compliance import area_compliance
from services.inventory.domain.model import Depot, Tier


def _depot(tier: Tier, area: float) -> Depot:
    return Depot("X", "x", tier, "jilin", 43.0, 126.0, area)


@pytest.mark.parametrize(
    ("tier", "area", "compliant"),
    [
        (Tier.PROVINCIAL, 2000, True),
        (Tier.PROVINCIAL, 1999.5, False),
        (Tier.REGIONAL, 1500, True),
        (Tier.TRAINING_SUPPORT, 1400, False),
        (Tier.CITY, 999, False),
        (Tier.CITY, 1000, True),
        (Tier.DISTRIBUTION_CENTER, 0, True),
    ],
)
def test_area_against_tier_minimum(tier: Tier, area: float, compliant: bool) -> None:
    result = area_compliance(_depot(tier, area))
    assert result.compliant is compliant
    assert result.reason == ("" if compliant else "DEPOT_AREA_BELOW_STANDARD")


@pytest.mark.parametrize(
    ("gtin", "ok"),
    [
        ("06950000000347", True),
        ("06950000000348", False),
        ("4006381333931", True),  # GTIN-13
        ("12345", False),
        ("0695000000034A", False),
    ],
)
def test_gtin_check_digit(gtin: str, ok: bool) -> None:
    v = Violations()
    result = convert.gtin(v, "gtin", gtin)
    assert (result is not None) is ok
    assert (not v.items) is ok
    if ok:
        assert result is not None and len(result) == 14


def test_page_token_round_trip_and_garbage() -> None:
    v = Violations()
    page = convert.page(v, 10, convert.page_token("D-CORPS"))
    assert page.after_key == "D-CORPS" and page.size == 10 and not v.items
    convert.page(v, -1, "%%%")
    assert [x.field for x in v.items] == ["page_size", "page_token"]


def test_page_size_is_capped() -> None:
    assert convert.page(Violations(), 10_000, "").size == convert.MAX_PAGE_SIZE
    assert convert.page(Violations(), 0, "").size == convert.DEFAULT_PAGE_SIZE


def test_impossible_date_is_a_violation() -> None:
    v = Violations()
    assert convert.date_to_domain(v, "d", date_pb2.Date(year=2026, month=2, day=30)) is None
    assert v.items[0].description == "2026-02-30 is not a date"
