"""GS1 labels: what each code names, and the refusals for malformed ones."""

from datetime import date

import pytest
from biip.checksums import gs1_standard_check_digit
from hypothesis import given, settings
from hypothesis import strategies as st

from services.inventory.domain import labels as L

GTIN = "06950000000347"  # valid check digit


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (f"01{GTIN}21SN-1", L.UnitLabel(GTIN, "SN-1")),
        (f"]C101{GTIN}21SN-1", L.UnitLabel(GTIN, "SN-1")),
        (f"]d201{GTIN}21SN-1", L.UnitLabel(GTIN, "SN-1")),
        (f"01{GTIN}17271231\x1d10L7", L.LotLabel(GTIN, "L7", date(2027, 12, 31))),
        (f"01{GTIN}10L7\x1d17271231", L.LotLabel(GTIN, "L7", date(2027, 12, 31))),
        (f"01{GTIN}10L7", L.LotLabel(GTIN, "L7", None)),
        (L.kit_code(L.giai_for(42)), L.KitLabel("69500000K00000042")),
        (L.bin_code(L.gln_for(3), "A-01-2"), L.BinLabel(L.gln_for(3), "A-01-2")),
        (L.shipment_code(L.sscc_for(7)), L.ShipmentLabel(L.sscc_for(7))),
        ("MUSTER-ACTION:pack", L.ActionLabel("PACK")),
    ],
)
def test_codes_name_the_right_thing(code: str, expected: L.Label) -> None:
    assert L.parse(code) == expected


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (f"01{GTIN[:-1]}8" + "21SN1", "BAD_CHECK_DIGIT"),
        ("2312345", "UNKNOWN_AI"),
        (f"01{GTIN}8", "TRAILING_CHARACTERS"),
        (f"01{GTIN}17270231\x1d10L1", "BAD_DATE"),
        (f"01{GTIN}", "UNSUPPORTED_LABEL"),
        ("", "EMPTY_CODE"),
        (f"]E001{GTIN}21SN1", "UNSUPPORTED_SYMBOLOGY"),
        ("414" + L.gln_for(3)[:-1] + "0" + "254A", "BAD_CHECK_DIGIT"),
    ],
)
def test_malformed_codes_are_refused_with_the_reason(code: str, reason: str) -> None:
    with pytest.raises(L.LabelError) as refused:
        L.parse(code)
    assert refused.value.reason == reason


def test_generated_identifiers_have_valid_check_digits_and_lengths() -> None:
    assert len(L.gln_for(1)) == 13 and len(L.sscc_for(1)) == 18
    for code in (L.bin_code(L.gln_for(9), "Z"), L.shipment_code(L.sscc_for(123456))):
        L.parse(code)  # would raise on a bad check digit


def test_printed_codes_round_trip() -> None:
    code = L.lot_code(GTIN, "B-77", date(2028, 2, 29))
    assert L.parse(code) == L.LotLabel(GTIN, "B-77", date(2028, 2, 29))
    assert L.human_readable(code) == f"(01){GTIN}(17)280229(10)B-77"


_CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_AROUND = _CSET82 + "\x1d #$@[]^`{|}~é"


def _of_length(n: int) -> st.SearchStrategy[str]:
    """Text of exactly `n` characters, mostly of CSET 82 (each length near a limit is drawn)."""
    return st.text(_CSET82, min_size=n, max_size=n) | st.text(_AROUND, min_size=n, max_size=n)


def _read_by_biip(code: str) -> L.Label | str:
    try:
        return L._label_of(L._elements(code))
    except L.LabelError as error:
        return error.reason


@settings(max_examples=1500, deadline=None)
@given(
    gtin=st.text("0123456789", min_size=13, max_size=13),
    right_check=st.booleans(),
    check=st.integers(0, 9),
    serial=st.integers(0, 24).flatmap(_of_length),
    giai=st.integers(0, 34).flatmap(_of_length),
)
def test_units_and_kits_read_without_biip_read_as_biip_reads_them(
    gtin: str, right_check: bool, check: int, serial: str, giai: str
) -> None:
    digit = gs1_standard_check_digit(gtin) if right_check else check
    for code in (f"01{gtin}{digit}21{serial}", f"8004{giai}", f"8004{gtin}{giai}"):
        plain = L._plain(code)
        assert plain is None or plain == _read_by_biip(code), code
