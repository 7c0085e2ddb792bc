"""deploy/prometheus/alerts.yaml: rule groups Prometheus accepts, on metrics the services export."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from services.common import metrics

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yaml"
EXPORTED = {
    "up",
    "grpc_server_handled_total",
    "grpc_server_handling_seconds_bucket",
    "muster_scans_total",
    "muster_plan_solve_seconds_bucket",
    "muster_plan_solve_seconds_count",
    "muster_db_pool_checked_out",
    "muster_db_pool_size",
    "muster_readiness_stale",
    "muster_readiness_level",
}


def _rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    rules = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        rules += group["rules"]
    return rules


def test_every_rule_has_what_prometheus_and_an_operator_need() -> None:
    rules = _rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)) >= 8
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert rule["alert"][0].isupper() and rule["expr"].strip()
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["expr"].count("(") == rule["expr"].count(")")


def test_rules_use_only_metrics_the_services_export() -> None:
    used = set()
    for rule in _rules():
        used |= set(
            re.findall(r"\b(up|grpc_server_\w+|muster_\w+)\b(?=\s*[{\[)]|\s*[=<>])", rule["expr"])
        )
    assert used and used <= EXPORTED
    families = {family.name for family in metrics.REGISTRY.collect()}
    assert {"grpc_server_handled", "grpc_server_handling_seconds", "muster_scans"} <= families
