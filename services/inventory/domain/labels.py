"""GS1 labels: what a scanned code names, and the codes Muster prints.

Parsing is biip's (a maintained GS1 library); this module only decides which
combinations of Application Identifiers name which of our things, and turns
biip's complaints into reasons a person can act on:

    kit or case   GIAI                 8004
    serial unit   GTIN + serial        01 + 21
    lot           GTIN + batch/expiry  01 + 10 (+ 17)
    bin           GLN + extension      414 + 254
    shipment      SSCC                 00

Action barcodes for a scanner station are plain text: `MUSTER-ACTION:PACK`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

import biip
from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_messages import GS1Message

# ASSUMPTION: a fictitious GS1 company prefix for the corps (see the seed notes).
COMPANY_PREFIX = "69500000"
GS = "\x1d"
ACTION_PREFIX = "MUSTER-ACTION:"
MAX_CODE_LENGTH = 200


class LabelError(ValueError):
    """A code that is not a label Muster can use; `reason` is UPPER_SNAKE."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class KitLabel:
    giai: str


@dataclass(frozen=True)
class UnitLabel:
    gtin: str
    serial: str


@dataclass(frozen=True)
class LotLabel:
    gtin: str
    lot_number: str
    expires_on: date | None = None


@dataclass(frozen=True)
class BinLabel:
    gln: str
    extension: str


@dataclass(frozen=True)
class ShipmentLabel:
    sscc: str


@dataclass(frozen=True)
class ActionLabel:
    action: str


Label = KitLabel | UnitLabel | LotLabel | BinLabel | ShipmentLabel | ActionLabel

_LEFTOVER = re.compile(r"Failed to get GS1 Application Identifier from '(.*)'\.", re.S)
_BAD_DATE = re.compile(r"Failed to parse GS1 AI \((\d+)\) date")


def _refusal(error: str, code: str) -> LabelError:
    if match := _BAD_DATE.search(error):
        return LabelError("BAD_DATE", f"AI ({match.group(1)}) holds a date that does not exist")
    if match := _LEFTOVER.search(error):
        rest = match.group(1)
        parsed_any = not code.lstrip(GS).endswith(rest) or len(rest) < len(code.lstrip(GS)) - 3
        rest = rest.replace(GS, "<GS>")
        if parsed_any:
            return LabelError(
                "TRAILING_CHARACTERS", f"{rest!r} is left over after the last GS1 element"
            )
        return LabelError(
            "UNKNOWN_AI", f"{rest!r} does not start with a GS1 Application Identifier"
        )
    return LabelError("MALFORMED_LABEL", error)


# Symbology identifiers a GS1 element string may arrive with (ISO/IEC 15424):
# GS1-128, GS1 DataMatrix, GS1 QR Code, GS1 DataBar.
GS1_SYMBOLOGIES = ("]C1", "]d2", "]Q3", "]e0")


def _elements(code: str) -> dict[str, biip.gs1_element_strings.GS1ElementString]:
    if code.startswith("]"):
        if code[:3] not in GS1_SYMBOLOGIES:
            raise LabelError("UNSUPPORTED_SYMBOLOGY", f"{code[:3]} does not carry GS1 data")
        code = code[3:]
    try:
        message = GS1Message.parse(code)
    except ParseError as failure:
        raise _refusal(str(failure), code) from None
    found: dict[str, biip.gs1_element_strings.GS1ElementString] = {}
    for element in message.element_strings:
        error = element.gtin_error or element.gln_error or element.sscc_error
        if error:
            raise LabelError("BAD_CHECK_DIGIT", error)
        if element.ai.ai in found:
            raise LabelError("REPEATED_AI", f"AI ({element.ai.ai}) appears twice")
        found[element.ai.ai] = element
    return found


@functools.lru_cache(maxsize=8192)
def parse(code: str) -> Label:
    """The label a scanned code carries, or LabelError with the reason.

    Pure, so cached: bin and kit labels are read again and again.
    """
    code = code.strip("\r\n")
    if not code:
        raise LabelError("EMPTY_CODE", "nothing was read")
    if len(code) > MAX_CODE_LENGTH:
        raise LabelError("MALFORMED_LABEL", f"a label is at most {MAX_CODE_LENGTH} characters")
    if code.startswith(ACTION_PREFIX):
        action = code.removeprefix(ACTION_PREFIX).strip().upper()
        if not action:
            raise LabelError("EMPTY_ACTION", "an action barcode names an action")
        return ActionLabel(action)
    return _plain(code) or _label_of(_elements(code))


# GS1 AI encodable character set 82, the characters of a serial number or a GIAI.
_CSET82 = r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]"
_PLAIN_UNIT = re.compile(rf"01(\d{{14}})21({_CSET82}{{1,20}})", re.ASCII)
_PLAIN_KIT = re.compile(rf"8004(\d{{4}}{_CSET82}{{0,26}})", re.ASCII)


def _plain(code: str) -> Label | None:
    """The two labels scanned most, in their plain form, read without biip.

    A unit (01 + 21, the serial running to the end) or a kit (8004) whose
    GTIN check digit is right gives the same label as biip would (a test
    compares the two on generated codes); anything else goes to biip, which
    also words every refusal. Parsing one code with biip costs about 100 us,
    and most codes in a day's scans are new serials: the cache cannot help.
    """
    if unit := _PLAIN_UNIT.fullmatch(code):
        gtin = unit.group(1)
        if gs1_standard_check_digit(gtin[:13]) == int(gtin[13]):
            return UnitLabel(gtin, unit.group(2))
    elif kit := _PLAIN_KIT.fullmatch(code):
        return KitLabel(kit.group(1))
    return None


def _label_of(ais: dict[str, biip.gs1_element_strings.GS1ElementString]) -> Label:
    keys = set(ais)
    if keys == {"8004"}:
        return KitLabel(ais["8004"].value)
    if keys == {"00"}:
        return ShipmentLabel(ais["00"].value)
    if keys == {"414", "254"}:
        return BinLabel(ais["414"].value, ais["254"].value)
    if keys == {"01", "21"}:
        return UnitLabel(ais["01"].value, ais["21"].value)
    if "01" in keys and "10" in keys and keys <= {"01", "10", "17"}:
        expiry = ais["17"].date if "17" in ais else None
        return LotLabel(ais["01"].value, ais["10"].value, expiry)
    named = ", ".join(f"({ai})" for ai in sorted(keys))
    raise LabelError(
        "UNSUPPORTED_LABEL",
        f"{named} names nothing Muster tracks; expected a kit (8004), unit (01+21), "
        "lot (01+10[+17]), bin (414+254) or shipment (00)",
    )


# ------------------------------------------------------------------ codes Muster prints


def with_check_digit(body: str) -> str:
    return body + str(gs1_standard_check_digit(body))


def gln_for(number: int) -> str:
    """A 13-digit GLN under the corps' prefix for location `number`."""
    return with_check_digit(f"{COMPANY_PREFIX}{number:04d}")


def giai_for(number: int) -> str:
    return f"{COMPANY_PREFIX}K{number:08d}"


def sscc_for(number: int) -> str:
    return with_check_digit(f"0{COMPANY_PREFIX}{number:08d}")


def kit_code(giai: str) -> str:
    return f"8004{giai}"


def unit_code(gtin: str, serial: str) -> str:
    return f"01{gtin}21{serial}"


def lot_code(gtin: str, lot_number: str, expires_on: date | None) -> str:
    expiry = f"17{expires_on:%y%m%d}" if expires_on else ""
    return f"01{gtin}{expiry}10{lot_number}"


def bin_code(gln: str, extension: str) -> str:
    return f"414{gln}254{extension}"


def shipment_code(sscc: str) -> str:
    return f"00{sscc}"


def action_code(action: str) -> str:
    return f"{ACTION_PREFIX}{action}"


def human_readable(code: str) -> str:
    """`(01)06950000000347(21)SN1`: the text printed under a barcode."""
    label = biip.parse(code).gs1_message
    return label.as_hri() if label is not None else code
