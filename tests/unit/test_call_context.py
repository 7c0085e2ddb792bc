"""What every log line learns of the call being served, and what the audit keeps of it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from services.common import calls
from services.common import logging as muster_logging
from services.common.settings import SettingsError


class _LazyCall:
    """Stands in for the server's record: counts how often its request id is drawn."""

    def __init__(self) -> None:
        self.drawn = 0
        self.actor = ""
        self.caller = "ipv4:10.0.0.9:5100"
        self.device = "HH-3"

    @property
    def request_id(self) -> str:
        self.drawn += 1
        return "r-1"


@pytest.fixture
def serving() -> Iterator[_LazyCall]:
    call = _LazyCall()
    token = calls.current.set(call)
    yield call
    calls.current.reset(token)


def test_a_line_written_while_serving_names_the_request_caller_and_subject(
    serving: _LazyCall,
) -> None:
    assert serving.drawn == 0  # nothing asked for it yet
    line = calls.add_call_fields(None, "info", {"event": "x"})
    assert line == {"event": "x", "request_id": "r-1", "caller": "ipv4:10.0.0.9:5100"}
    serving.actor = "li.wei"  # once the token is verified
    assert calls.add_call_fields(None, "info", {})["subject"] == "li.wei"
    # What the line itself says wins.
    assert calls.add_call_fields(None, "info", {"request_id": "mine"})["request_id"] == "mine"


def test_outside_a_call_lines_and_audit_rows_name_the_process() -> None:
    assert calls.add_call_fields(None, "info", {"event": "x"}) == {"event": "x"}
    assert calls.now_serving() == calls.Call("", "system", "")


def test_the_audit_keeps_a_settled_record_of_the_call(serving: _LazyCall) -> None:
    serving.actor = "li.wei"
    settled = calls.now_serving()
    assert settled == calls.Call("r-1", "li.wei", "HH-3", "ipv4:10.0.0.9:5100")
    assert isinstance(settled, tuple)  # no reference to the call's live objects


def test_the_level_gates_lines_and_an_unknown_level_stops_the_process() -> None:
    try:
        muster_logging.configure_logging("info", json=True)
        assert muster_logging.enabled_for(logging.INFO)
        assert not muster_logging.enabled_for(logging.DEBUG)
        muster_logging.configure_logging("DEBUG", json=True)
        assert muster_logging.enabled_for(logging.DEBUG)
        with pytest.raises(SettingsError, match="MUSTER_LOG_LEVEL: 'loud' is not a level"):
            muster_logging.configure_logging("loud", json=True)
    finally:
        muster_logging.configure_logging("WARNING", json=True)  # as tests/conftest.py sets it
