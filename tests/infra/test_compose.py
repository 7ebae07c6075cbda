"""The local stack (infra/compose/compose.yaml) is a valid Compose file, by the Compose
specification's JSON schema shipped beside it, with every service the README promises."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from tests.infra.conftest import ROOT

COMPOSE = ROOT / "infra" / "compose"


def _compose() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE / "compose.yaml").read_text())


def _errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads((COMPOSE / "compose-spec.schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_stack_validates_against_the_compose_specification() -> None:
    assert _errors(_compose()) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["services"]["api"].update(portz=["8600:8600"]),
        lambda d: d["services"]["worker"].update(depends_on="postgres"),
    ],
)
def test_the_schema_check_catches_a_broken_file(break_it: Any) -> None:
    document = _compose()
    break_it(document)
    assert _errors(document)


def test_the_stack_has_what_the_readme_promises() -> None:
    services = _compose()["services"]
    assert {
        "postgres",
        "minio",
        "minio-bucket",
        "prefect-server",
        "api",
        "worker",
        "pushgateway",
        "prometheus",
        "grafana",
    } <= set(services)
    assert "--type" in services["worker"]["command"]
    assert services["worker"]["command"][services["worker"]["command"].index("--type") + 1] == (
        "process"
    )
    assert "mc mb --ignore-existing local/llmgenie-artifacts" in " ".join(
        services["minio-bucket"]["command"]
    )
    assert services["prefect-server"]["environment"][
        "PREFECT_API_DATABASE_CONNECTION_URL"
    ].startswith("postgresql+asyncpg://")
    for name, service in services.items():  # nothing listens beyond this machine
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)

    scrape = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())["scrape_configs"]
    targets = {t for job in scrape for c in job["static_configs"] for t in c["targets"]}
    assert targets == {"api:8600", "pushgateway:9091"}
    datasource = yaml.safe_load(
        (COMPOSE / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"


def test_the_dashboard_and_alert_rules_are_provisioned_from_infra_observability() -> None:
    services = _compose()["services"]
    mounts = {
        name: [str(v).split(":")[0] for v in service.get("volumes", [])]
        for name, service in services.items()
    }
    for name, sources in mounts.items():  # every bind mount names a file of the repository
        for source in sources:
            if source.startswith("."):
                assert (COMPOSE / source).exists(), (name, source)
    assert "../observability/dashboards" in mounts["grafana"]
    assert "../observability/prometheus/llmgenie-rules.yaml" in mounts["prometheus"]
    assert yaml.safe_load((COMPOSE / "prometheus.yml").read_text())["rule_files"]
    provider = yaml.safe_load(
        (COMPOSE / "grafana" / "provisioning" / "dashboards" / "llmgenie.yaml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/llmgenie"
