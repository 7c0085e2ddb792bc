"""Hypothesis strategies for any protobuf message, read from its descriptor.

`messages(descriptor)` builds requests from nothing: every field set or not,
strings from the plausible (a seeded code) to the absurd (control
characters, 100,000 characters, every plane of unicode), numbers at and
beyond their edges, NaN and infinities, enum values no proto names,
timestamps and dates that cannot be, repeated fields from empty to past
every batch limit. `mutate(data, message)` takes a request that works and
breaks it a few ways at once: a field cleared, replaced, truncated, blown up,
a list emptied, duplicated or multiplied.

Everything stays well under the server's 4 MiB message limit except on
purpose (`OVERSIZE` elements of a long list of long strings).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

F = FieldDescriptor
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)
INTS = {
    F.TYPE_INT32: INT32,
    F.TYPE_SINT32: INT32,
    F.TYPE_SFIXED32: INT32,
    F.TYPE_INT64: INT64,
    F.TYPE_SINT64: INT64,
    F.TYPE_SFIXED64: INT64,
    F.TYPE_UINT32: UINT32,
    F.TYPE_FIXED32: UINT32,
    F.TYPE_UINT64: UINT64,
    F.TYPE_FIXED64: UINT64,
}
# Lengths at and just past the limits the API and the database hold to.
EDGE_LENGTHS = (13, 14, 16, 17, 18, 20, 21, 30, 31, 32, 33, 64, 65, 128, 129, 200, 201, 2001)
# Lists at and past the API's limits (500 scans, 50 demands, 2000 kit contents).
LONG_LISTS = (50, 51, 100, 101, 500, 501, 2001)
HUGE_STRING = 100_000
# What one request may hold, far below the 4 MiB limit: a client in the test process that
# serializes hundreds of megabytes would stall the servers' event loop, not test them.
BUDGET = 1_000_000

# Values that mean something to the seeded world, so generated requests get past the first check.
KNOWN = [
    "D-CORPS",
    "D-DET-JILIN",
    "D-DET-CHANGBAISHAN",
    "D-CORPS/GEO-USAR/1",
    "D-CORPS/WATER-FLOOD/1",
    "GEO-USAR",
    "WATER-FLOOD",
    "W16",
    "U01",
    "jilin",
    "changchun",
    "songyuan",
    "A-01",
    "update_mask",
    "name",
    "floor_area_m2",
    "tier",
    "location",
]
ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "\x1d",
    "a\x00b",
    "\t\n\r",
    "\x7f",
    "'; DROP TABLE inventory.depots; --",
    "%s%s%s",
    "{}",
    "\\",
    "é",
    "日本語",
    "\u202e",
    "\ufeff",
    "\U0001f525",
    "0" * 18,
    "9" * 40,
    "(01)09506000134352(21)X",
    "]C1010950600013435221X",
    "MUSTER-ACTION:PACK",
    "-1",
    "NaN",
    "null",
    "..",
    "/",
    "ZmFrZQ==",
    "cGxhbnN8eA==",
]


def strings() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(KNOWN + ODD_STRINGS),
        st.text(max_size=40),
        st.builds(
            lambda ch, n: ch * n,
            st.sampled_from("aZ0-/é日\x00\x1d "),
            st.sampled_from(EDGE_LENGTHS),
        ),
        st.text(min_size=200, max_size=2_500),
        st.just("x" * HUGE_STRING),
    )


PAGE_KINDS = (
    "depots",
    "locations",
    "item_types",
    "templates",
    "kits",
    "transfers",
    "expiring",
    "inspections",
    "history",
    "plans",
)
KEYS = ["0", "-1", "9" * 30, "2147483648", "\u00b2", "x@99999999999", "2026-11-29T00:00:00|x", ""]


def page_tokens() -> st.SearchStrategy[str]:
    """Tokens as a list gives them out (url-safe base64 of `kind|key`), with keys it never gives."""
    key = st.one_of(st.sampled_from(KEYS), strings().filter(lambda x: len(x) < 300))
    return st.builds(
        lambda kind, k: base64.urlsafe_b64encode(f"{kind}|{k}".encode()).decode(),
        st.sampled_from(PAGE_KINDS),
        key,
    )


def cursors() -> st.SearchStrategy[str]:
    whole = st.one_of(st.sampled_from(["0", "9" * 18, "9" * 19, "\u00b2"]), st.integers(0).map(str))
    return st.builds(lambda a, b: f"{a}.{b}", whole, whole)


def integers(kind: int) -> st.SearchStrategy[int]:
    low, high = INTS[kind]
    edges = [
        v
        for v in (0, 1, -1, 7, 24, 60, 500, 501, 3650, 3651, 2**31 - 1, -(2**31))
        if low <= v <= high
    ]
    return st.one_of(st.sampled_from([*edges, low, high]), st.integers(low, high))


def floats() -> st.SearchStrategy[float]:
    return st.one_of(
        st.sampled_from([0.0, -0.0, -1.0, 1e-300, 1e300, 90.0, 90.0001, -180.0]),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def timestamps(descriptor: Descriptor) -> st.SearchStrategy[Message]:
    cls = _message_class(descriptor)
    seconds = st.one_of(
        st.sampled_from([0, -62135596801, -62135596800, 253402300799, 253402300800, 1_795_000_000]),
        st.integers(*INT64),
    )
    nanos = st.one_of(st.sampled_from([0, -1, 999_999_999, 1_000_000_000]), st.integers(*INT32))
    return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, nanos)


def dates(descriptor: Descriptor) -> st.SearchStrategy[Message]:
    cls = _message_class(descriptor)
    part = st.one_of(
        st.sampled_from([0, 1, 2, 12, 13, 28, 29, 31, 32, 1949, 2026, 2201, 9999]),
        st.integers(*INT32),
    )
    return st.builds(lambda y, m, d: cls(year=y, month=m, day=d), part, part, part)


def _message_class(descriptor: Descriptor) -> Any:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    """Values for one (non-message) field of this type."""
    if field.type == F.TYPE_STRING and field.name == "page_token":
        return st.one_of(strings(), page_tokens())
    if field.type == F.TYPE_STRING and field.name == "cursor":
        return st.one_of(strings(), cursors())
    if field.type == F.TYPE_STRING:
        return strings()
    if field.type == F.TYPE_BYTES:
        return st.binary(max_size=300)
    if field.type == F.TYPE_BOOL:
        return st.booleans()
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return floats()
    if field.type == F.TYPE_ENUM:
        assert field.enum_type is not None
        named = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(named), st.integers(*INT32))
    return integers(field.type)


def value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.type != F.TYPE_MESSAGE:
        return scalar(field)
    assert field.message_type is not None
    return messages(field.message_type, depth + 1)


def size(item: Any) -> int:
    """Roughly the bytes an item takes on the wire."""
    if isinstance(item, Message):
        return item.ByteSize() + 2
    if isinstance(item, str | bytes):
        return len(item) + 2
    return 10


def copies(items: list[Any], times: int) -> list[Any]:
    """`items` repeated up to `times` times, within the message budget."""
    each = max(1, sum(size(x) for x in items))
    return items * max(1, min(times, BUDGET // each))


def _repeated(field: FieldDescriptor, depth: int) -> st.SearchStrategy[list[Any]]:
    one = value(field, depth)
    short = st.lists(one, max_size=4)
    # A long list is many copies of one element: enough to cross a limit, cheap to build.
    long = st.builds(lambda x, n: copies([x], n), one, st.sampled_from(LONG_LISTS))
    return st.one_of(short, short, short, long) if depth < 2 else short


MAX_DEPTH = 4


@st.composite
def _plain_message(draw: st.DrawFn, descriptor: Descriptor, depth: int) -> Message:
    message = _message_class(descriptor)()
    if depth > MAX_DEPTH:
        return message
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        if field.is_repeated:
            _set(message, field, draw(_repeated(field, depth)))
        else:
            _set(message, field, draw(value(field, depth)))
    return message


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    name = descriptor.full_name
    if name == "google.protobuf.Timestamp":
        return timestamps(descriptor)
    if name == "google.type.Date":
        return dates(descriptor)
    return _plain_message(descriptor, depth)


def _set(message: Message, field: FieldDescriptor, found: Any) -> None:
    if field.is_repeated:
        container = getattr(message, field.name)
        del container[:]
        if field.type == F.TYPE_MESSAGE:
            for item in found:
                container.add().CopyFrom(item)
        else:
            container.extend(found)
    elif field.type == F.TYPE_MESSAGE:
        getattr(message, field.name).CopyFrom(found)
    else:
        setattr(message, field.name, found)


# ---------------------------------------------------------------- mutations


def _targets(message: Message, depth: int = 0) -> list[tuple[Message, Any]]:
    """Every field of the message and of its set sub-messages (and list elements)."""
    found: list[tuple[Message, Any]] = [(message, f) for f in message.DESCRIPTOR.fields]
    if depth > MAX_DEPTH:
        return found
    for field, current in message.ListFields():
        if field.type != F.TYPE_MESSAGE:
            continue
        items = current if field.is_repeated else [current]
        for item in list(items)[:3]:
            found += _targets(item, depth + 1)
    return found


def _mutate_string(data: st.DataObject, current: str) -> str:
    how = data.draw(st.sampled_from(["replace", "truncate", "extend", "blow-up", "control"]))
    if how == "truncate" and current:
        return current[: data.draw(st.integers(0, len(current) - 1))]
    if how == "extend":
        return current + data.draw(st.text(min_size=1, max_size=300))
    if how == "blow-up":
        times = data.draw(st.sampled_from([2, 10, 100, 5_000]))
        return (current or "x") * max(1, min(times, HUGE_STRING // max(1, len(current))))
    if how == "control":
        at = data.draw(st.integers(0, len(current)))
        return (
            current[:at]
            + data.draw(st.sampled_from(["\x00", "\n", "\x1d", "\x7f", "\t"]))
            + current[at:]
        )
    return data.draw(strings())


def _mutate_one(data: st.DataObject, message: Message, field: FieldDescriptor) -> None:
    if field.is_repeated:
        container = getattr(message, field.name)
        items = list(container)
        how = data.draw(st.sampled_from(["clear", "drop", "duplicate", "multiply", "replace"]))
        if how == "clear":
            items = []
        elif how == "drop" and items:
            items.pop(data.draw(st.integers(0, len(items) - 1)))
        elif how == "duplicate" and items:
            items.append(items[data.draw(st.integers(0, len(items) - 1))])
        elif how == "multiply" and items:
            items = copies(items, data.draw(st.sampled_from([2, 51, 501, 2001])))
        else:
            items = data.draw(_repeated(field, 0))
        _set(message, field, items)
        return
    if data.draw(st.integers(0, 4)) == 0:
        message.ClearField(field.name)
        return
    if field.type == F.TYPE_STRING:
        _set(message, field, _mutate_string(data, getattr(message, field.name)))
    elif field.type in INTS and data.draw(st.booleans()):
        current = getattr(message, field.name)
        low, high = INTS[field.type]
        flipped = data.draw(st.sampled_from([-current, current + 1, current - 1, current * 1000]))
        _set(message, field, min(max(flipped, low), high))
    else:
        _set(message, field, data.draw(value(field, 0)))


def mutate(data: st.DataObject, good: Message, rounds: Sequence[int] = (1, 1, 2, 3)) -> Message:
    """A copy of a good request with one to three of its fields broken."""
    message = type(good)()
    message.CopyFrom(good)
    for _ in range(data.draw(st.sampled_from(list(rounds)))):
        targets = _targets(message)
        if not targets:
            break
        owner, field = data.draw(st.sampled_from(targets))
        _mutate_one(data, owner, field)
    return message
