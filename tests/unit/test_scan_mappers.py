"""A scan's fast validation accepts only what the full one accepts, with the same command."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from muster.inventory.v1 import inventory_service_pb2 as pb

from services.common.errors import InvalidArgument
from services.inventory.api import scan_mappers as m
from services.inventory.domain.model import ScanAction

# Characters that sit on the edges of the checks: spaces and line ends that are
# stripped, GS (FNC1), DEL and other controls, non-ASCII, the code characters.
EDGES = " \t\r\n\x1d\x7f\x00\x1fé\u200bAz09-_/.:+"
texts = st.one_of(
    st.text(alphabet=EDGES, max_size=8),
    st.text(max_size=8),
    st.builds(
        lambda pad, body, end: pad + body + end,
        st.sampled_from(["", " ", "\r\n", "\n"]),
        st.text(alphabet="ABC-_/.019", min_size=1, max_size=70),
        st.sampled_from(["", " ", "\r", "\x1d"]),
    ),
    st.sampled_from([1, 31, 32, 33, 63, 64, 65, 199, 200, 201]).map(lambda n: "A" * n),
)
timestamps = st.one_of(
    st.none(),
    st.builds(
        lambda seconds, nanos: Timestamp(seconds=seconds, nanos=nanos),
        st.integers(min_value=-(2**40), max_value=2**40),
        st.integers(min_value=-5, max_value=1_000_000_005),
    ),
)


NAMES = (
    "scan_id",
    "code",
    "depot_code",
    "bin_code",
    "kit_code",
    "operator",
    "device",
    "override_reason",
    "count_id",
)
# A valid value for each, so that a change to one or two of them is what decides.
VALID = ("id-1", "0106950000000347", "JL-01", "", "", "li", "HH-07", "", "")


@st.composite
def scans(draw: st.DrawFn) -> pb.Scan:
    fields = dict(zip(NAMES, VALID, strict=True))
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=2)):
        fields[name] = draw(texts)
    action = draw(st.sampled_from([*pb.ScanAction.values(), 0, 99]))
    quantity = draw(st.sampled_from([0, 5]) | st.integers(-3, 1_000_003))
    scan = pb.Scan(action=action, quantity=quantity, **fields)
    device_time = draw(timestamps)
    if device_time is not None:
        scan.device_time.CopyFrom(device_time)
    return scan


@settings(max_examples=3000, deadline=None)
@given(scans())
def test_a_scan_the_fast_check_accepts_is_accepted_alike_by_the_full_one(scan: pb.Scan) -> None:
    fast = m._plain_scan(scan)
    try:
        full = m._checked_scan(scan, "scan")
    except InvalidArgument:
        assert fast is None
        return
    assert fast is None or fast == full


def test_a_usual_scan_takes_the_fast_check() -> None:
    scan = pb.Scan(
        scan_id="3f1c0d9e-5b0a-4b8e-9a43-2c2f8a1e6b7d",
        code="0106950000000347\x1d21SN-1",
        action=pb.SCAN_ACTION_PACK,
        depot_code="JL-01",
        kit_code="800469500000K00000042",
        operator="li.wei",
        device="HH-07",
    )
    scan.device_time.FromDatetime(datetime(2026, 11, 29, 8, 30, tzinfo=UTC))
    scan.code = "0106950000000347" + "21SN-1"  # GS sends a code to the full check
    fast = m._plain_scan(scan)
    assert fast is not None and fast.action is ScanAction.PACK
    assert fast == m._checked_scan(scan, "scan")
