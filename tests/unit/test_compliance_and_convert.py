"""Depot area rules and request-shape conversions."""

import pytest
from google.type import date_pb2

from services.common import convert
from services.common.errors import Violations
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
        (
            "\u0660\u0666\u0669\u0665\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0663\u0664\u0667",
            False,
        ),
        ("1234567\u00b2", False),
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
    page = convert.page(v, 10, convert.page_token("D-CORPS", "depots"), "depots")
    assert page.after_key == "D-CORPS" and page.size == 10 and not v.items
    convert.page(v, -1, "%%%", "depots")
    assert [x.field for x in v.items] == ["page_size", "page_token"]


def test_page_token_only_works_on_the_list_that_gave_it() -> None:
    v = Violations()
    assert convert.page(v, 10, convert.page_token("K1", "kits"), "depots").after_key is None
    assert [x.field for x in v.items] == ["page_token"]


def test_page_token_with_control_characters_is_refused() -> None:
    v = Violations()
    convert.page(v, 10, convert.page_token("A\x00B", "depots"), "depots")
    assert [x.field for x in v.items] == ["page_token"]


def test_page_size_is_capped() -> None:
    assert convert.page(Violations(), 10_000, "", "depots").size == convert.MAX_PAGE_SIZE
    assert convert.page(Violations(), 0, "", "depots").size == convert.DEFAULT_PAGE_SIZE


def test_impossible_date_is_a_violation() -> None:
    v = Violations()
    assert convert.date_to_domain(v, "d", date_pb2.Date(year=2026, month=2, day=30)) is None
    assert v.items[0].description == "2026-02-30 is not a date"


def test_dates_outside_the_service_range_are_violations() -> None:
    v = Violations()
    assert convert.date_to_domain(v, "d", date_pb2.Date(year=9999, month=12, day=31)) is None
    assert v.items[0].field == "d"


@pytest.mark.parametrize("value", ["a\x00b", "tab\there", "new\nline"])
def test_text_with_control_characters_is_a_violation(value: str) -> None:
    v = Violations()
    convert.text(v, "name", value)
    assert [x.field for x in v.items] == ["name"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("a" * 128, True), ("a" * 129, False), (" padded ", False), ("ünï", False)],
)
def test_request_id_is_used_exactly_as_sent(value: str, ok: bool) -> None:
    v = Violations()
    convert.request_id(v, value)
    assert (not v.items) is ok
