"""RPC and scan metrics kept cheap: what a scrape reads after some calls."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from services.common import metrics
from services.common.metrics import RpcStats


def _samples(stats: RpcStats) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(stats)
    found = {}
    for family in registry.collect():
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert generate_latest(registry)  # renders as the exposition format
    return found


def _key(name: str, code: str, **extra: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = {"grpc_service": "pkg.Svc", "grpc_method": "Get", "grpc_code": code, **extra}
    return name, tuple(sorted(labels.items()))


def test_counts_sums_and_buckets_by_method_and_code() -> None:
    stats = RpcStats()
    record = stats.recorder("/pkg.Svc/Get")
    for seconds in (0.001, 0.005, 0.0051, 0.3, 61.0):
        record("OK", seconds)
    record("NOT_FOUND", 0.002)
    found = _samples(stats)

    assert found[_key("grpc_server_handled_total", "OK")] == 5
    assert found[_key("grpc_server_handled_total", "NOT_FOUND")] == 1
    assert found[_key("grpc_server_handling_seconds_count", "OK")] == 5
    assert abs(found[_key("grpc_server_handling_seconds_sum", "OK")] - 61.3111) < 1e-9
    bucket = "grpc_server_handling_seconds_bucket"
    # A bound is inclusive ("le"): 0.005 is in its bucket, 0.0051 in the next.
    assert found[_key(bucket, "OK", le="0.005")] == 2
    assert found[_key(bucket, "OK", le="0.01")] == 3
    assert found[_key(bucket, "OK", le="0.25")] == 3
    assert found[_key(bucket, "OK", le="0.5")] == 4
    assert found[_key(bucket, "OK", le="60.0")] == 4
    assert found[_key(bucket, "OK", le="+Inf")] == 5


def test_two_recorders_of_one_method_share_their_series() -> None:
    stats = RpcStats()
    stats.recorder("/pkg.Svc/Get")("OK", 0.01)
    stats.recorder("/pkg.Svc/Get")("OK", 0.01)
    assert _samples(stats)[_key("grpc_server_handled_total", "OK")] == 2


def test_a_batch_of_scans_counts_every_scan_in_its_series() -> None:
    def count(result: str) -> float:
        labels = {"action": "UNPACK", "result": result}
        return REGISTRY.get_sample_value("muster_scans_total", labels) or 0.0

    before = count("ACCEPTED"), count("KIT_NOT_HERE")
    metrics.scans_answered([("UNPACK", "ACCEPTED")] * 3 + [("UNPACK", "KIT_NOT_HERE")])
    metrics.scans_answered([("UNPACK", "ACCEPTED")])  # the series, remembered, counts on
    assert (count("ACCEPTED"), count("KIT_NOT_HERE")) == (before[0] + 4, before[1] + 1)
