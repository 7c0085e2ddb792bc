"""The deploy folder, checked offline: Kubernetes manifests against the Kubernetes schemas
(kubernetes-validate ships them), the compose file against the compose specification's
schema (check-jsonschema ships it), and the rules the guide promises operators."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES = "1.32"  # the oldest release the manifests promise (native sleep in preStop)
SERVICES = {"inventory": 50051, "routing": 50052, "gateway": 50053}
Doc = dict[str, Any]


def _docs(text: str) -> list[Doc]:
    return [d for d in yaml.safe_load_all(text) if d]


def _base_files() -> list[Path]:
    base = K8S / "base"
    return sorted(p for p in base.glob("*.yaml") if p.name != "kustomization.yaml")


def _render(folder: Path) -> list[Doc]:
    """kustomize's output for a folder: `kubectl kustomize` (kubectl ships kustomize)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with kustomize) is not installed; the base files are still checked")
    done = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return _docs(done.stdout)


def _invalid(doc: Doc) -> str | None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        return f"{doc['kind']}/{doc['metadata']['name']}: {path}: {error.message}"
    return None


@pytest.fixture(scope="module")
def production() -> list[Doc]:
    return _render(K8S / "overlays" / "production")


def _find(docs: list[Doc], kind: str, name: str) -> Doc:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("path", _base_files(), ids=lambda p: p.name)
def test_every_base_manifest_is_valid_kubernetes(path: Path) -> None:
    docs = _docs(path.read_text())
    assert docs
    assert [e for e in map(_invalid, docs) if e] == []


@pytest.mark.parametrize("overlay", ["base", "overlays/production"])
def test_every_rendered_kustomization_is_valid_kubernetes(overlay: str) -> None:
    docs = _render(K8S / overlay)
    assert [e for e in map(_invalid, docs) if e] == []
    assert len({(d["kind"], d["metadata"]["name"]) for d in docs}) == len(docs)


def test_a_broken_manifest_is_refused() -> None:
    deployment = _docs((K8S / "base" / "inventory.yaml").read_text())[0]
    broken = copy.deepcopy(deployment)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["grpc"]["port"] = "grpc"  # must be a number
    container["resourcez"] = container.pop("resources")  # a misspelt field
    assert _invalid(deployment) is None
    assert _invalid(broken) is not None


def test_production_runs_the_released_image_in_its_namespace(production: list[Doc]) -> None:
    for doc in production:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "muster"
            assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "muster"
    images = {
        c["image"]
        for d in production
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"registry.example.gov.cn/muster/muster:0.1.0"}
    assert _find(production, "HorizontalPodAutoscaler", "inventory")["spec"]["minReplicas"] == 3


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_probed_limited_restricted_scaled_and_budgeted(
    production: list[Doc], service: str
) -> None:
    pod = _find(production, "Deployment", service)["spec"]["template"]["spec"]
    [container] = pod["containers"]
    port = SERVICES[service]
    assert container["args"] == [service]
    assert container["readinessProbe"]["grpc"] == {"port": port}
    assert container["livenessProbe"]["grpc"] == {"port": port, "service": "liveness"}
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > container["lifecycle"]["preStop"]["sleep"]["seconds"] + 20
    target = _find(production, "HorizontalPodAutoscaler", service)["spec"]["scaleTargetRef"]
    assert target["name"] == service
    budget = _find(production, "PodDisruptionBudget", service)["spec"]
    assert budget["selector"]["matchLabels"] == {"app.kubernetes.io/name": service}


def test_only_gateway_and_routing_reach_inventory_and_only_the_services_reach_postgres(
    production: list[Doc],
) -> None:
    inventory = _find(production, "NetworkPolicy", "inventory")["spec"]["ingress"]
    api = next(rule for rule in inventory if rule["ports"] == [{"port": "grpc"}])
    callers = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in api["from"]}
    assert callers == {"gateway", "routing"}
    [db_rule] = _find(production, "NetworkPolicy", "postgres")["spec"]["ingress"]
    label = db_rule["from"][0]["podSelector"]["matchLabels"]
    clients = {
        d["metadata"]["name"]
        for d in production
        if d["kind"] in ("Deployment", "Job")
        and label.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    }
    assert clients == {"inventory", "routing", "muster-migrate"}
    deny = _find(production, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny["podSelector"] == {} and "ingress" not in deny


def test_the_secret_holds_only_documented_placeholders(production: list[Doc]) -> None:
    secret = _find(production, "Secret", "muster-secrets")["stringData"]
    assert set(secret) == {
        "database-url",
        "auth-public-keys.pem",
        "gateway-token",
        "postgres-password",
    }
    assert all("REPLACE-ME" in value for value in secret.values())


# ------------------------------------------------------------------ compose


def _compose_schema() -> Doc:
    vendored = resources.files("check_jsonschema").joinpath(
        "builtin_schemas/vendor/compose-spec.json"
    )
    return json.loads(vendored.read_text())


def _compose_errors(doc: Doc) -> list[str]:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module")
def compose() -> Doc:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_compose_file_meets_the_compose_specification(compose: Doc) -> None:
    assert _compose_errors(compose) == []
    broken = copy.deepcopy(compose)
    broken["services"]["routing"]["depends_on"]["migrate"]["condition"] = "service_done"
    broken["services"]["inventory"]["helthcheck"] = {}
    assert len(_compose_errors(broken)) >= 2


def test_compose_migrates_first_and_checks_health_over_grpc(compose: Doc) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, port in SERVICES.items():
        test = services[name]["healthcheck"]["test"]
        assert test[-2:] == ["health", f"127.0.0.1:{port}"]
        assert services[name]["read_only"] is True and services[name]["cap_drop"] == ["ALL"]
    for name in ("inventory", "routing"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert any(str(p).endswith(":8080") for p in services["gateway"]["ports"])
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
