"""Small conversions between protobuf values and Python values, with validation."""

from __future__ import annotations

import base64
import binascii
import enum
import math
import string
from datetime import UTC, date, datetime
from typing import TypeVar

from biip.checksums import gs1_standard_check_digit
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2

from services.common.errors import Violations
from services.common.paging import Page

E = TypeVar("E", bound=enum.Enum)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_TEXT = 200


def enum_to_domain(
    v: Violations,
    path: str,
    wrapper: EnumTypeWrapper,
    value: int,
    kind: type[E],
    prefix: str,
    *,
    required: bool = True,
) -> E | None:
    """`TIER_CITY` -> `Tier.CITY`; unspecified is an error when required, else None."""
    if value == 0:
        if required:
            v.add(path, f"is required; one of {', '.join(m.value for m in kind)}")
        return None
    try:
        name = wrapper.Name(value)
    except ValueError:
        v.add(path, f"unknown value {value}; one of {', '.join(m.value for m in kind)}")
        return None
    return kind(name.removeprefix(prefix))


def enum_to_proto(wrapper: EnumTypeWrapper, value: enum.Enum | None, prefix: str) -> int:
    return 0 if value is None else wrapper.Value(f"{prefix}{value.value}")


def _has_control(value: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def text(
    v: Violations, path: str, value: str, *, required: bool = True, limit: int = MAX_TEXT
) -> str:
    value = value.strip()
    if required and not value:
        v.add(path, "must not be empty")
    elif len(value) > limit:
        v.add(path, f"must be at most {limit} characters, not {len(value)}")
    elif _has_control(value):
        v.add(path, "must not hold control characters (NUL, tab, newline, ...)")
    return value


CODE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_/.")


def code(v: Violations, path: str, value: str, *, required: bool = True, limit: int = 64) -> str:
    """Identifiers people type and scan: ASCII letters, digits, '-', '_', '/', '.'."""
    value = text(v, path, value, required=required, limit=limit)
    if value and len(value) <= limit and not set(value) <= CODE_CHARACTERS:
        v.add(path, f"{value!r} may hold only ASCII letters, digits and - _ / .")
    return value


def request_id(v: Violations, value: str) -> str:
    """Optional; used exactly as sent, so it must be printable ASCII without spaces."""
    if len(value) > 128:
        v.add("request_id", f"must be at most 128 characters, not {len(value)}")
    elif value and not (value.isascii() and value.isprintable() and " " not in value):
        v.add("request_id", "must be printable ASCII without spaces (a UUID is best)")
    return value


def number(
    v: Violations,
    path: str,
    value: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    if not math.isfinite(value):
        v.add(path, "must be a finite number")
    elif minimum is not None and value < minimum:
        v.add(path, f"must be at least {minimum:g}, not {value:g}")
    elif maximum is not None and value > maximum:
        v.add(path, f"must be at most {maximum:g}, not {value:g}")
    return value


def whole(v: Violations, path: str, value: int, *, minimum: int) -> int:
    if value < minimum:
        v.add(path, f"must be at least {minimum}, not {value}")
    return value


def optional_days(v: Violations, path: str, value: int) -> int | None:
    whole(v, path, value, minimum=0)
    return value or None


EARLIEST_YEAR, LATEST_YEAR = 1950, 2200


def date_to_domain(v: Violations, path: str, value: date_pb2.Date) -> date | None:
    if value.year == 0 and value.month == 0 and value.day == 0:
        return None
    try:
        found = date(value.year, value.month, value.day)
    except ValueError:
        v.add(path, f"{value.year:04d}-{value.month:02d}-{value.day:02d} is not a date")
        return None
    if not EARLIEST_YEAR <= found.year <= LATEST_YEAR:
        v.add(path, f"{found} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
        return None
    return found


def timestamp_to_domain(v: Violations, path: str, value: Timestamp) -> datetime | None:
    """An aware UTC datetime; a time no clock shows (nanos out of range, year 10000) is an error."""
    try:
        found = value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        v.add(path, "is not a time a clock can show")
        return None
    if not EARLIEST_YEAR <= found.year <= LATEST_YEAR:
        v.add(path, f"{found:%Y-%m-%d} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
        return None
    return found


def date_to_proto(value: date | None) -> date_pb2.Date | None:
    if value is None:
        return None
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def page(
    v: Violations, page_size: int, page_token: str, kind: str, *, whole_key: int | None = None
) -> Page:
    """The page a list request asks for; a token only works on the list that gave it out.

    `whole_key`: the list's keys are whole numbers up to this (an id, a ledger
    sequence, an offset), so a token carrying anything else is refused here,
    not by the database.
    """
    if page_size < 0:
        v.add("page_size", f"must not be negative, not {page_size}")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after: str | None = None
    if page_token:
        try:
            raw = base64.b64decode(page_token.encode(), altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raw = ""
        token_kind, _, after = raw.partition("|")
        wrong_key = whole_key is not None and not (
            after.isascii() and after.isdigit() and int(after) <= whole_key
        )
        if token_kind != kind or not after or _has_control(after) or len(after) > 200 or wrong_key:
            v.add("page_token", f"is not a token this list of {kind} gave out; start without one")
            after = None
    return Page(size=max(size, 1), after_key=after)


def page_token(next_key: str | None, kind: str) -> str:
    if not next_key:
        return ""
    return base64.urlsafe_b64encode(f"{kind}|{next_key}".encode()).decode()


def gln(v: Violations, path: str, value: str) -> str | None:
    """An optional 13-digit GS1 GLN with its check digit."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) == 13):
        v.add(path, f"{value!r} is not a GLN (13 digits)")
    elif gs1_standard_check_digit(value[:-1]) != int(value[-1]):
        v.add(path, f"{value!r} has a wrong check digit")
    else:
        return value
    return None


def giai(v: Violations, path: str, value: str) -> str | None:
    """An optional GIAI (AI 8004): up to 30 characters of GS1's set 82."""
    if not value:
        return None
    allowed = CODE_CHARACTERS | set("!\"%&'()*+,:;<=>?")
    if len(value) > 30 or not set(value) <= allowed or not value[:1].isdigit():
        v.add(path, f"{value!r} is not a GIAI (a company prefix and up to 30 characters)")
        return None
    return value


def gtin(v: Violations, path: str, value: str) -> str | None:
    """A GTIN-8/12/13/14 with a correct GS1 check digit, stored as 14 digits."""
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) not in (8, 12, 13, 14):
        v.add(path, f"{value!r} is not a GTIN (8, 12, 13 or 14 digits)")
        return None
    digits = value.zfill(14)
    if gs1_standard_check_digit(digits[:-1]) != int(digits[-1]):
        v.add(path, f"{value!r} has a wrong check digit")
        return None
    return digits
