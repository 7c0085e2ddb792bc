"""The readiness engine on small hand-made reserves whose answers are worked out by hand."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.gateway.domain.config import ReadinessConfig, TimeTarget, config_from_dict
from services.gateway.domain.model import (
    Category,
    Depot,
    Estimate,
    Kit,
    Line,
    Lot,
    Reference,
    Scope,
    ScopeKind,
    Standard,
    Template,
    Unit,
)
from services.gateway.domain.readiness import ReadinessBook, Report

TODAY = date(2026, 11, 29)
NOW = datetime(2026, 11, 29, 8, tzinfo=UTC)
WATER = Category.WATER
PROVINCE = Scope(ScopeKind.PROVINCE, "p")
REGION_A = Scope(ScopeKind.REGION, "a")
CITY_A = Scope(ScopeKind.CITY, "a")
CITY_B = Scope(ScopeKind.CITY, "b")
DEPOT_C1 = Scope(ScopeKind.DEPOT, "C1")

# A boat line (2 serial boats, pacing) and a lot line (10 first-aid kits).
FLOOD = Template("FLOOD", 1, WATER, (Line("BOAT", 2, pacing=True), Line("AID", 10)))


def reference(**changes: object) -> Reference:
    depots = {
        "P": Depot("P", "Corps", "PROVINCIAL", "a", 43.0, 125.0),
        "R": Depot("R", "Sub-depot A", "REGIONAL", "a", 43.0, 125.0, "P"),
        "C1": Depot("C1", "Detachment B", "CITY", "b", 44.0, 126.0, "R"),
    }
    fields: dict = {
        "depots": depots,
        "templates": {("FLOOD", 1): FLOOD},
        "inspected_items": frozenset({"BOAT"}),
        "standards": (
            Standard("FLOOD", 2, tier="PROVINCIAL"),
            Standard("FLOOD", 1, tier="REGIONAL"),
            Standard("FLOOD", 1, tier="CITY"),
        ),
        "province": "p",
    }
    fields.update(changes)
    return Reference(**fields)


def kit(
    label: str,
    depot: str,
    *,
    state: str = "READY",
    boat_condition: str = "SERVICEABLE",
    aid_expires: date | None = None,
) -> Kit:
    due = TODAY + timedelta(days=60)
    return Kit(
        label,
        "FLOOD",
        1,
        depot,
        state,
        units=(
            Unit("BOAT", f"{label}-B1", next_inspection_on=due),
            Unit("BOAT", f"{label}-B2", boat_condition, next_inspection_on=due),
        ),
        lots=(Lot("AID", 10, "L1", expires_on=aid_expires or TODAY + timedelta(days=400)),),
    )


def estimates(hours: float) -> list[Estimate]:
    return [
        Estimate("FLOOD", city, needed, hours, 4) for city in ("a", "b") for needed in (1, 2, 4)
    ]


def book(kits: list[Kit], hours: float | None = 1.0, config: ReadinessConfig | None = None):
    b = ReadinessBook(reference(), config or ReadinessConfig(), TODAY)
    b.load(kits)
    b.set_estimates(None if hours is None else estimates(hours))
    b.recompute_all(NOW)
    return b


def full_reserve(**c1: object) -> list[Kit]:
    return [kit("P/1", "P"), kit("P/2", "P"), kit("R/1", "R"), kit("C1/1", "C1", **c1)]  # type: ignore[arg-type]


def measure(report: Report, kind: str):
    return next(m for m in report.measures if m.kind == kind)


def test_a_reserve_at_standard_with_fast_delivery_is_level_one_everywhere() -> None:
    b = book(full_reserve())
    assert {k: r.level for k, r in b.reports.items()} == dict.fromkeys(b.reports, 1)
    on_hand = measure(b.reports[(WATER, PROVINCE)], "ON_HAND")
    assert (on_hand.numerator, on_hand.denominator, on_hand.value) == (4, 4, 100.0)


def test_a_quarantined_pacing_unit_drops_its_city_to_four_naming_kit_and_unit() -> None:
    b = book(full_reserve(state="INCOMPLETE", boat_condition="QUARANTINED"))
    city = b.reports[(WATER, CITY_B)]
    assert city.level == 4
    on_hand = measure(city, "ON_HAND")
    assert (on_hand.value, on_hand.band) == (0.0, 4)
    codes = {(x.code, x.kit_label, x.serial) for x in on_hand.reasons}
    assert ("PACING_ITEM_MISSING", "C1/1", "C1/1-B2") in codes
    assert any(x.code == "BELOW_STANDARD_COUNT" and x.depot_code == "C1" for x in on_hand.reasons)
    # R: 1 boat + 10 aid of 12 required = 91.67 %, band 1; the fault is still named.
    serviceable = measure(city, "SERVICEABLE")
    assert (serviceable.value, serviceable.band) == (91.67, 1)
    assert [x.code for x in serviceable.reasons] == ["UNIT_UNSERVICEABLE"]
    # Region A: R holds its 1, C1 none of its 1: 50 %, band 4. Province: 3 of 4 = 75 %, band 3.
    assert measure(b.reports[(WATER, REGION_A)], "ON_HAND").value == 50.0
    assert b.reports[(WATER, PROVINCE)].level == 3
    assert b.reports[(WATER, CITY_A)].level == 1


def test_a_surplus_at_one_depot_does_not_cover_a_shortfall_at_another() -> None:
    kits = [kit("P/1", "P"), kit("P/2", "P"), kit("P/3", "P"), kit("R/1", "R")]
    b = book(kits)
    on_hand = measure(b.reports[(WATER, PROVINCE)], "ON_HAND")
    assert (on_hand.numerator, on_hand.denominator, on_hand.band) == (3, 4, 3)


def test_consumables_expiring_within_the_deployment_lower_shelf_life_cover() -> None:
    b = book(full_reserve(aid_expires=TODAY + timedelta(days=10)))
    city = b.reports[(WATER, CITY_B)]
    shelf = measure(city, "SHELF_LIFE")
    assert (shelf.value, shelf.band) == (0.0, 4)
    assert [(x.code, x.lot_number) for x in shelf.reasons] == [("SHELF_LIFE_SHORT", "L1")]
    assert measure(city, "ON_HAND").band == 1
    assert city.level == 4


def test_an_overdue_inspection_counts_against_serviceability() -> None:
    late = Kit(
        "C1/1",
        "FLOOD",
        1,
        "C1",
        "READY",
        units=(
            Unit("BOAT", "X1", next_inspection_on=TODAY - timedelta(days=1)),
            Unit("BOAT", "X2"),
        ),
        lots=(Lot("AID", 10, "L1", expires_on=TODAY + timedelta(days=400)),),
    )
    b = book([*full_reserve()[:3], late])
    serviceable = measure(b.reports[(WATER, DEPOT_C1)], "SERVICEABLE")
    assert {(x.code, x.serial) for x in serviceable.reasons} == {
        ("INSPECTION_OVERDUE", "X1"),
        ("INSPECTION_OVERDUE", "X2"),  # must be inspected and never was
    }
    assert serviceable.value == pytest.approx(83.33)
    assert measure(b.reports[(WATER, DEPOT_C1)], "ON_HAND").band == 4


def test_time_to_scene_is_banded_against_the_scope_target() -> None:
    config = ReadinessConfig(targets={k: TimeTarget(1, 3.0) for k in ScopeKind})
    b = book(full_reserve(), hours=4.0, config=config)
    t = measure(b.reports[(WATER, CITY_B)], "TIME_TO_SCENE")
    assert (t.value, t.band, t.target) == (4.0, 2, 3.0)
    assert {x.code for x in t.reasons} == {"DELIVERY_TOO_SLOW"}
    assert b.reports[(WATER, CITY_B)].level == 2


def test_without_estimates_time_to_scene_is_unknown_and_the_rest_still_counts() -> None:
    b = book(full_reserve(state="INCOMPLETE", boat_condition="QUARANTINED"), hours=None)
    city = b.reports[(WATER, CITY_B)]
    t = measure(city, "TIME_TO_SCENE")
    assert (t.known, t.band) == (False, 0)
    assert [x.code for x in t.reasons] == ["DELIVERY_ESTIMATE_UNAVAILABLE"]
    assert city.level == 4
    assert b.reports[(WATER, CITY_A)].level == 1


def test_a_kit_that_cannot_arrive_is_band_four() -> None:
    b = ReadinessBook(reference(), ReadinessConfig(), TODAY)
    b.load(full_reserve())
    b.set_estimates([Estimate("FLOOD", c, n, None, 0) for c in ("a", "b") for n in (1, 2, 4)])
    b.recompute_all(NOW)
    t = measure(b.reports[(WATER, CITY_A)], "TIME_TO_SCENE")
    assert t.band == 4 and t.reasons[0].code == "DELIVERY_TOO_SLOW"


def test_a_change_to_one_kit_touches_only_the_scopes_holding_its_depot() -> None:
    b = book(full_reserve())
    touched = b.put_kit(kit("C1/1", "C1", state="INCOMPLETE", boat_condition="QUARANTINED"))
    assert touched == {(WATER, PROVINCE), (WATER, REGION_A), (WATER, CITY_B), (WATER, DEPOT_C1)}
    changed = b.recompute(touched, NOW)
    assert {r.scope for r in changed} == {PROVINCE, REGION_A, CITY_B, DEPOT_C1}
    assert b.reports[(WATER, CITY_B)].level == 4
    b.put_kit(kit("C1/1", "C1"))
    assert {r.scope for r in b.recompute(touched, NOW)} == {PROVINCE, REGION_A, CITY_B, DEPOT_C1}
    assert b.reports[(WATER, CITY_B)].level == 1


def test_a_depot_below_its_area_standard_is_named() -> None:
    depots = dict(reference().depots)
    depots["C1"] = Depot("C1", "B", "CITY", "b", 44, 126, "R", "C1 has 860 m2 of the 1000 m2")
    b = ReadinessBook(reference(depots=depots), ReadinessConfig(), TODAY)
    b.load(full_reserve())
    b.set_estimates(estimates(1))
    b.recompute_all(NOW)
    reasons = measure(b.reports[(WATER, CITY_B)], "ON_HAND").reasons
    assert [(x.code, x.depot_code) for x in reasons] == [("DEPOT_AREA_BELOW_STANDARD", "C1")]


def test_bands_and_targets_come_from_configuration() -> None:
    config = config_from_dict(
        {
            "bands": {"percent": [95, 85, 70]},
            "deployment_days": 30,
            "time_to_scene": {"city": {"kits_needed": 2, "target_hours": 2.5}},
        }
    )
    assert [config.percent_band(p) for p in (95, 94.9, 85, 70, 69.9)] == [1, 2, 2, 3, 4]
    assert config.deployment_days == 30
    assert config.targets[ScopeKind.CITY] == TimeTarget(2, 2.5)
    assert config.targets[ScopeKind.PROVINCE] == ReadinessConfig().targets[ScopeKind.PROVINCE]
    with pytest.raises(ValueError, match="percent_bands"):
        config_from_dict({"bands": {"percent": [60, 80, 90]}})
    default = ReadinessConfig()
    assert [default.percent_band(p) for p in (90, 89.99, 80, 65, 64.99)] == [1, 2, 2, 3, 4]
    assert [default.time_band(h, 3) for h in (3, 4.5, 6, 6.01)] == [1, 2, 3, 4]


def test_the_shipped_configuration_file_holds_the_documented_defaults() -> None:
    from services.gateway.adapters.config_file import read_config

    assert read_config() == ReadinessConfig()


def test_pacing_items_count_serviceable_boats_against_what_the_standard_needs() -> None:
    # The province needs 4 kits x 2 pacing boats = 8; C1's kit has one boat quarantined.
    b = book(full_reserve(state="INCOMPLETE", boat_condition="QUARANTINED"))
    province = measure(b.reports[(WATER, PROVINCE)], "PACING_ITEMS")
    assert (province.numerator, province.denominator, province.value) == (7, 8, 87.5)
    assert province.band == 2
    assert [(x.code, x.depot_code, x.item_type_code) for x in province.reasons] == [
        ("PACING_ITEM_SHORT", "C1", "BOAT")
    ]
    city = measure(b.reports[(WATER, CITY_B)], "PACING_ITEMS")
    assert (city.numerator, city.denominator, city.band) == (1, 2, 4)
    assert measure(b.reports[(WATER, CITY_A)], "PACING_ITEMS").value == 100.0


def test_a_depot_without_its_kits_has_no_pacing_items_to_count() -> None:
    b = book([kit("P/1", "P"), kit("P/2", "P"), kit("P/3", "P"), kit("R/1", "R")])  # C1: none
    city = measure(b.reports[(WATER, CITY_B)], "PACING_ITEMS")
    assert (city.numerator, city.denominator, city.band) == (0, 2, 4)
    # P's third kit's boats cannot stand in for C1's: P counts only what its standard needs.
    province = measure(b.reports[(WATER, PROVINCE)], "PACING_ITEMS")
    assert (province.numerator, province.denominator) == (6, 8)
