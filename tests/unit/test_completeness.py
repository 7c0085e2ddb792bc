"""A kit's state and shortfalls follow from its contents against its template."""

from datetime import date, timedelta

from services.inventory.domain.completeness import ShortfallReason, assess
from services.inventory.domain.model import (
    Condition,
    KitContents,
    KitState,
    Lot,
    TemplateLine,
    Unit,
)

TODAY = date(2026, 11, 29)
LINES = (
    TemplateLine("BOAT", 2, pacing=True),
    TemplateLine("PFD", 3),
    TemplateLine("FIRSTAID", 2),
)


def _unit(code: str, serial: str, **kw: object) -> Unit:
    return Unit(code, serial, **kw)  # type: ignore[arg-type]


def _full(**lot_kw: object) -> KitContents:
    units = (
        _unit("BOAT", "B1", next_inspection_on=TODAY + timedelta(days=20)),
        _unit("BOAT", "B2", next_inspection_on=TODAY + timedelta(days=30)),
        _unit("PFD", "P1"),
        _unit("PFD", "P2"),
        _unit("PFD", "P3", expires_on=TODAY + timedelta(days=400)),
    )
    lot = Lot("FIRSTAID", 2, "L1", expires_on=TODAY + timedelta(days=100), **lot_kw)  # type: ignore[arg-type]
    return KitContents(units, (lot,))


def test_complete_kit_is_ready_with_no_shortfalls() -> None:
    result = assess(LINES, _full(), TODAY)
    assert result.state is KitState.READY
    assert result.shortfalls == ()


def test_expired_lot_makes_kit_incomplete_and_names_the_lot() -> None:
    contents = _full()
    expired = Lot("FIRSTAID", 2, "L-OLD", expires_on=TODAY - timedelta(days=1))
    result = assess(LINES, KitContents(contents.units, (expired,)), TODAY)
    assert result.state is KitState.INCOMPLETE
    [shortfall] = result.shortfalls
    assert shortfall.item_type_code == "FIRSTAID"
    assert shortfall.missing == 2
    assert shortfall.reason is ShortfallReason.LOT_EXPIRED
    assert shortfall.faults[0].lot_number == "L-OLD"


def test_lot_expiring_today_no_longer_counts() -> None:
    contents = _full()
    lot = Lot("FIRSTAID", 2, "L1", expires_on=TODAY)
    assert assess(LINES, KitContents(contents.units, (lot,)), TODAY).state is KitState.INCOMPLETE


def test_missing_pacing_unit_is_named_and_listed_first() -> None:
    contents = _full()
    expired_lot = Lot("FIRSTAID", 2, "L-OLD", expires_on=TODAY - timedelta(days=3))
    without_boat = KitContents(contents.units[1:], (expired_lot,))
    result = assess(LINES, without_boat, TODAY)
    assert [s.item_type_code for s in result.shortfalls] == ["BOAT", "FIRSTAID"]
    assert result.shortfalls[0].reason is ShortfallReason.PACING_ITEM_MISSING
    assert result.shortfalls[0].missing == 1


def test_missing_ordinary_item_is_item_missing() -> None:
    contents = _full()
    units = tuple(u for u in contents.units if u.serial != "P2")
    [shortfall] = assess(LINES, KitContents(units, contents.lots), TODAY).shortfalls
    assert shortfall.reason is ShortfallReason.ITEM_MISSING


def test_overdue_inspection_on_a_pacing_line_is_pacing_item_missing_naming_the_unit() -> None:
    contents = _full()
    overdue = _unit("BOAT", "B1", next_inspection_on=TODAY - timedelta(days=1))
    units = (overdue, *contents.units[1:])
    [shortfall] = assess(LINES, KitContents(units, contents.lots), TODAY).shortfalls
    assert shortfall.reason is ShortfallReason.PACING_ITEM_MISSING
    assert [(f.serial, f.reason) for f in shortfall.faults] == [
        ("B1", ShortfallReason.INSPECTION_OVERDUE)
    ]


def test_overdue_inspection_on_an_ordinary_line_is_the_line_reason() -> None:
    contents = _full()
    overdue = _unit("PFD", "P1", next_inspection_on=TODAY - timedelta(days=1))
    units = tuple(overdue if u.serial == "P1" else u for u in contents.units)
    [shortfall] = assess(LINES, KitContents(units, contents.lots), TODAY).shortfalls
    assert shortfall.reason is ShortfallReason.INSPECTION_OVERDUE


def test_a_unit_that_must_be_inspected_and_never_was_does_not_count() -> None:
    lines = (TemplateLine("PFD", 1, inspection_interval_days=365),)
    never = KitContents((_unit("PFD", "P1"),), ())
    [shortfall] = assess(lines, never, TODAY).shortfalls
    assert shortfall.reason is ShortfallReason.INSPECTION_OVERDUE
    assert assess((TemplateLine("PFD", 1),), never, TODAY).ready


def test_inspection_due_today_still_counts() -> None:
    contents = _full()
    due_today = _unit("BOAT", "B1", next_inspection_on=TODAY)
    units = (due_today, *contents.units[1:])
    assert assess(LINES, KitContents(units, contents.lots), TODAY).ready


def test_unserviceable_and_quarantined_units_do_not_count() -> None:
    contents = _full()
    for condition, reason in [
        (Condition.UNSERVICEABLE, ShortfallReason.UNSERVICEABLE),
        (Condition.QUARANTINED, ShortfallReason.QUARANTINED),
        (Condition.EXPIRED, ShortfallReason.UNIT_EXPIRED),
        (Condition.LOST, ShortfallReason.LOST),
    ]:
        bad = _unit("PFD", "P1", condition=condition)
        units = tuple(bad if u.serial == "P1" else u for u in contents.units)
        [shortfall] = assess(LINES, KitContents(units, contents.lots), TODAY).shortfalls
        assert shortfall.reason is reason


def test_surplus_good_units_cover_a_faulty_one() -> None:
    contents = _full()
    extra = (_unit("PFD", "P4"), _unit("PFD", "P1-BAD", condition=Condition.UNSERVICEABLE))
    assert assess(LINES, KitContents(contents.units + extra, contents.lots), TODAY).ready


def test_valid_until_is_the_first_day_time_alone_can_change_the_state() -> None:
    result = assess(LINES, _full(), TODAY)
    # boat B1's inspection falls due in 20 days: overdue from the day after.
    assert result.valid_until == TODAY + timedelta(days=21)
    later = assess(LINES, _full(), result.valid_until)
    assert later.state is KitState.INCOMPLETE
