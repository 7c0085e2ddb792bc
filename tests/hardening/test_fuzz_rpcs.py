"""Every RPC of every service, fed generated and mutated requests: a clean answer, always.

For each RPC the protos declare (read from the descriptors, so a new RPC is
covered the day it is added), hypothesis sends

- requests generated from the request message's descriptor (`strategies.messages`),
- good requests (`requests.table`) with one to three fields broken (`strategies.mutate`),
- random bytes as the serialized request,
- for mutating RPCs, good requests with generated `x-request-id`, `x-device`
  and `x-caller` metadata (what goes into the audit log and every log line),

each with an admin token. Every answer must be a status the API promises:
never INTERNAL or UNKNOWN, and the service must still answer health SERVING
afterwards. For every mutating RPC, a refused request must leave every table
of the inventory and routing schemas as it found it (counted before and
after); the one exception is `scan_refusals`, where a refused scan's answer
is kept so that a re-sent copy gets the same refusal.

The number of examples per RPC and kind is `MUSTER_FUZZ_EXAMPLES` (default
below, tuned for `make test`); when it is set the run is also randomized (a
new seed each run), otherwise derandomized, so CI sees the same requests every
time.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from muster.routing.v1 import routing_service_pb2 as rt

from services.common.database import async_engine
from services.common.server import MAX_MESSAGE_BYTES
from tests.hardening import requests, rows
from tests.hardening.calls import every_rpc, method
from tests.hardening.conftest import World
from tests.hardening.strategies import messages, mutate

LONG_RUN = int(os.environ.get("MUSTER_FUZZ_EXAMPLES", "0") or 0)
EXAMPLES = LONG_RUN or 30
# RPCs that read all of inventory's stock (and solve) for every request: one example in N sends.
THINNED = {"PlanDelivery": 3, "EstimateDeliveryTimes": 2}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not LONG_RUN,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
NEVER = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
# Codes a dying server would give: after one, the service must still say SERVING.
SUSPECT = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
)
MUTATING = ("Create", "Update", "Set", "Upsert", "Record", "Start", "Close", "Plan", "Commit")
# A refused scan's answer is kept, so that a re-sent copy is refused the same way.
REFUSAL_MEMORY = {"inventory.scan_refusals"}
RPCS = every_rpc()
# Requests sent per service in this run (tests/hardening/conftest.py reports them).
SENT: Counter[str] = Counter()


_TICKS: dict[str, int] = {}


def _tick(name: str) -> int:
    _TICKS[name] = _TICKS.get(name, 0) + 1
    return _TICKS[name]


def mutating(name: str) -> bool:
    return name.startswith(MUTATING)


class Tables:
    def __init__(self, url: str) -> None:
        self.engine = async_engine(url)
        self.names: list[str] = []

    def __repr__(self) -> str:
        return "Tables()"

    async def snapshot(self) -> dict[str, int]:
        if not self.names:
            self.names = await rows.tables(self.engine)
        return await rows.counts(self.engine, self.names)


@pytest.fixture(scope="module")
async def tables(world: World) -> AsyncIterator[Tables]:
    found = Tables(world.url)
    yield found
    await found.engine.dispose()


@pytest.fixture(autouse=True)
async def still_serving(world: World) -> AsyncIterator[None]:
    """After each RPC's examples, every service still answers health SERVING."""
    yield
    for service in world.caller.addresses:
        assert await world.caller.serving(service), f"{service} is not SERVING"


@pytest.fixture(scope="module")
async def good(world: World) -> dict[tuple[str, str], object]:
    seeded = await requests.discover(world.caller)
    return requests.table(seeded)  # type: ignore[return-value]


def bounded(name: str, request: Message) -> Message:
    """Keep a valid plan's solve short: the budget is the solver's wall time (up to 30 s)."""
    if isinstance(request, rt.PlanDeliveryRequest):
        budget = request.time_budget_s
        if math.isfinite(budget) and budget > 0.5:
            request.time_budget_s = 0.3
    return request


def _refused(name: str, code: grpc.StatusCode, response: bytes) -> bool:
    if code != grpc.StatusCode.OK:
        return True
    if name == "RecordScans":
        from muster.inventory.v1 import inventory_service_pb2 as inv

        return not any(r.accepted for r in inv.RecordScansResponse.FromString(response).results)
    return False


def _size(request: Message | bytes) -> int:
    return len(request) if isinstance(request, bytes) else request.ByteSize()


def _show(request: Message | bytes) -> str:
    text = repr(request) if isinstance(request, bytes) else str(request)
    return text if len(text) < 2000 else text[:2000] + f"... ({len(text)} characters)"


async def exchange(
    world: World,
    tables: Tables,
    service: str,
    name: str,
    request: Message | bytes,
    extra: tuple[tuple[str, str], ...] = (),
) -> grpc.StatusCode:
    """Send one request; check the answer, the server's health and, if refused, the tables."""
    if name in THINNED and _tick(name) % THINNED[name]:
        return grpc.StatusCode.OK  # not sent: a slow RPC gets a share of the examples
    watch = mutating(name)
    before = await tables.snapshot() if watch else {}
    answer = await world.caller.call(service, name, request, extra)
    SENT[service] += 1
    said = f"{name} -> {answer.code.name}: {answer.details}\n{_show(request)}"
    assert answer.code not in NEVER, said
    if answer.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        # Only for a request past the server's limit; not for an answer past the client's.
        assert _size(request) > MAX_MESSAGE_BYTES, said
    if answer.code in SUSPECT:
        assert await world.caller.serving(service), f"{service} stopped serving after {name}"
    if watch and _refused(name, answer.code, answer.response):
        after = await tables.snapshot()
        changed = {
            t: (before[t], after[t])
            for t in before
            if before[t] != after[t] and t not in REFUSAL_MEMORY
        }
        assert not changed, f"{name} refused ({answer.code.name}) yet wrote {changed}"
    return answer.code


@pytest.mark.parametrize(("service", "name"), RPCS)
@FUZZ
@given(data=st.data())
async def test_generated_requests_get_a_clean_answer(
    world: World, tables: Tables, service: str, name: str, data: st.DataObject
) -> None:
    request = data.draw(messages(method(service, name).input_type), label="request")
    await exchange(world, tables, service, name, bounded(name, request))


@pytest.mark.parametrize(("service", "name"), RPCS)
@FUZZ
@given(data=st.data())
async def test_mutated_good_requests_get_a_clean_answer(
    world: World,
    tables: Tables,
    good: dict[tuple[str, str], object],
    service: str,
    name: str,
    data: st.DataObject,
) -> None:
    make = good[(service, name)]
    base = data.draw(st.sampled_from(make()), label="good")  # type: ignore[operator]
    request = mutate(data, base)
    await exchange(world, tables, service, name, bounded(name, request))


# What a client may put beside its token: grpc sends printable ASCII only.
HEADER_VALUES = st.one_of(
    st.sampled_from(["", " ", "x" * 128, "x" * 129, "a b", "-", "~" * 300]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=3000),
)


@pytest.mark.parametrize(("service", "name"), [r for r in RPCS if mutating(r[1])])
@FUZZ
@given(data=st.data())
async def test_generated_call_metadata_gets_a_clean_answer(
    world: World,
    tables: Tables,
    good: dict[tuple[str, str], object],
    service: str,
    name: str,
    data: st.DataObject,
) -> None:
    """The request ids, devices and callers that go into the audit log and every log line."""
    make = good[(service, name)]
    request = data.draw(st.sampled_from(make()), label="good")  # type: ignore[operator]
    headers = data.draw(
        st.lists(st.sampled_from(["x-request-id", "x-device", "x-caller"]), unique=True),
        label="headers",
    )
    extra = tuple((h, data.draw(HEADER_VALUES, label=h)) for h in headers)
    await exchange(world, tables, service, name, bounded(name, request), extra)


@pytest.mark.parametrize(("service", "name"), RPCS)
@FUZZ
@given(data=st.binary(max_size=400))
async def test_random_bytes_get_a_clean_answer(
    world: World, tables: Tables, service: str, name: str, data: bytes
) -> None:
    await exchange(world, tables, service, name, data)


def test_the_good_requests_cover_every_rpc() -> None:
    table = requests.table(None)  # type: ignore[arg-type]
    assert sorted(table) == sorted(RPCS)
