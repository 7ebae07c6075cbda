"""Schema validation (offline, shipped schemas) and the removed-API table."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from llmgenie.agents.tools.checks.kubernetes_schema import (
    DEFAULT_K8S_VERSION,
    FAST_AFTER,
    _fast_validator,
    removed_api,
    schema_errors,
    schema_rules,
    schema_version,
)
from llmgenie.agents.tools.parsing.kubernetes import K8sObject, iter_k8s_objects
from llmgenie.core.models import Finding

FIXTURES = Path(__file__).parents[3] / "fixtures" / "devops"


def _scan(ctx: object = None) -> list[Finding]:
    objects = [
        o
        for o in iter_k8s_objects(FIXTURES / "schema.yaml", "schema.yaml")
        if isinstance(o, K8sObject)
    ]
    return [f for o in objects for f in schema_rules.run(o, ctx)]


def test_exact_findings() -> None:
    got = {(f.rule_id, f.resource) for f in _scan()}
    assert got == {
        ("LG-OPS-001", "Deployment/shop/misspelt"),
        ("LG-OPS-001", "Service/shop/bad-port"),
        ("LG-OPS-002", "Deployment/shop/ancient"),
        ("LG-OPS-002", "CronJob/shop/nightly"),
        ("LG-OPS-002", "HorizontalPodAutoscaler/shop/api"),
        ("LG-OPS-002", "PodSecurityPolicy//restricted"),
    }


def test_schema_errors_name_the_field_and_line() -> None:
    by_res = {}
    for f in _scan():
        by_res.setdefault(f.resource, []).append(f)
    misspelt = by_res["Deployment/shop/misspelt"]
    evidence = " | ".join(f.evidence or "" for f in misspelt)
    assert "'contianers' was unexpected" in evidence
    assert "'containers' is a required property" in evidence
    assert {f.category for f in misspelt} == {"ops.schema-invalid"}
    port = by_res["Service/shop/bad-port"][0]
    assert port.evidence and port.evidence.startswith("spec.ports.0.port:")
    assert port.line == 44  # the `- port: "eighty"` line


def test_removed_apis_say_when_and_what_instead() -> None:
    by_res = {f.resource: f for f in _scan() if f.rule_id == "LG-OPS-002"}
    cron = by_res["CronJob/shop/nightly"]
    assert cron.category == "ops.deprecated-api"
    assert cron.severity.value == "high"
    assert "1.25" in (cron.evidence or "") and cron.remediation == "use batch/v1"
    assert by_res["HorizontalPodAutoscaler/shop/api"].remediation == "use autoscaling/v2"
    assert removed_api("apps/v1", "Deployment") is None
    assert removed_api("extensions/v1beta1", "Ingress").removed_in == "1.22"  # type: ignore[union-attr]


def test_an_older_target_version_softens_future_removals() -> None:
    ctx = SimpleNamespace(settings={"k8s_version": "1.24"})
    by_res = {f.resource: f for f in _scan(ctx) if f.rule_id == "LG-OPS-002"}
    assert by_res["CronJob/shop/nightly"].severity.value == "medium"  # removed in 1.25
    assert by_res["Deployment/shop/ancient"].severity.value == "high"  # removed in 1.16


def test_custom_resources_and_valid_objects_pass() -> None:
    assert schema_errors({"apiVersion": "example.com/v1", "kind": "Widget"}) is None
    ok = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"k": "v"},
    }
    assert schema_errors(ok) == []


def test_default_version_is_shipped() -> None:
    assert schema_version(DEFAULT_K8S_VERSION) == DEFAULT_K8S_VERSION
    assert schema_version("1.99") == DEFAULT_K8S_VERSION or schema_version("1.99") > "1.37"


def test_compiled_check_for_common_kinds_keeps_the_same_answers() -> None:
    def secret(i: int, data: object) -> dict:
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}"}, "data": data}

    for i in range(FAST_AFTER + 5):  # past the threshold: the compiled check takes over
        assert schema_errors(secret(i, {"k": "dg=="})) == []
    assert _fast_validator(schema_version(), "Secret", "v1") is not None
    errors = schema_errors(secret(99, ["not", "a", "map"]))
    assert errors and errors[0].message.startswith("['not', 'a', 'map'] is not of type")
    errors = schema_errors(secret(100, {"k": "dg=="}) | {"tyep": "Opaque"})
    assert errors and "'tyep' was unexpected" in errors[0].message
