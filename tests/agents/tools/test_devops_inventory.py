"""Inventory: workloads, Services, compose services, Dockerfiles and images, env names only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmgenie.agents.tools.devops.inventory import collect_inventory
from llmgenie.core.context import analyze

FIXTURE = Path(__file__).parents[2] / "fixtures" / "devops" / "inventory"


@pytest.fixture(scope="module")
def inventory() -> dict:
    context = analyze(str(FIXTURE))
    return collect_inventory(Path(context.root), context)


def _workload(inv: dict, resource: str) -> dict:
    return next(w for w in inv["workloads"] if w["resource"] == resource)


def test_counts(inventory: dict) -> None:
    assert inventory["counts"] == {
        "workloads": 3,
        "services": 2,
        "compose_services": 2,
        "dockerfiles": 1,
        "images": 6,
    }


def test_workload_details(inventory: dict) -> None:
    api = _workload(inventory, "Deployment/shop/api")
    assert api["owner"] == "payments (team)"
    assert api["replicas"] == 1 and api["replicas_set"] is False
    assert api["autoscaler"] == {
        "minReplicas": 2,
        "maxReplicas": 6,
        "hpa": "HorizontalPodAutoscaler/shop/api",
    }
    assert api["disruption_budget"] is True
    assert api["services"] == ["Service/shop/api"]
    assert api["service_account"] == "api"
    assert api["volumes"] == [{"name": "tmp", "type": "emptyDir"}]
    (c,) = api["containers"]
    assert (c["repository"], c["tag"], c["digest"]) == ("registry:5000/shop/api", "2.4.1", None)
    assert c["ports"] == [{"name": "http", "containerPort": 8080}]
    assert c["env"] == ["DB_PASSWORD", "DB_HOST"]
    assert c["env_from"] == ["configMapRef:api-config"]
    assert c["probes"]["liveness"] == {
        "type": "httpGet",
        "path": "/healthz",
        "port": 8080,
        "periodSeconds": 20,
    }
    assert c["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}


def test_env_values_never_appear(inventory: dict) -> None:
    text = json.dumps(inventory)
    assert "hunter2" not in text
    assert "example" not in text.replace("example.com", "")


def test_statefulset_cronjob_and_owner_annotation(inventory: dict) -> None:
    db = _workload(inventory, "StatefulSet/shop/db")
    assert db["containers"][0]["digest"].startswith("sha256:4aea")
    assert db["containers"][0]["tag"] == "16.2"
    assert db["owner"] is None and db["services"] == []
    cron = _workload(inventory, "CronJob/shop/nightly-report")
    assert cron["schedule"] == "0 2 * * *"
    assert cron["owner"] == "data-team@example.com (owner)"
    assert cron["containers"][0]["tag"] is None


def test_services_and_what_they_select(inventory: dict) -> None:
    by_res = {s["resource"]: s for s in inventory["services"]}
    assert by_res["Service/shop/api"]["selects"] == ["Deployment/shop/api"]
    assert by_res["Service/shop/orphan"]["selects"] == []
    assert by_res["Service/shop/api"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http"}
    ]


def test_compose_and_dockerfile(inventory: dict) -> None:
    compose = {s["name"]: s for s in inventory["compose_services"]}
    assert compose["api"]["build"] == "." and compose["api"]["env"] == ["DB_HOST", "DB_PASSWORD"]
    assert compose["api"]["depends_on"] == ["db"]
    assert compose["db"]["env"] == ["POSTGRES_PASSWORD"]
    assert compose["db"]["volumes"] == ["dbdata:/var/lib/postgresql/data"]
    (d,) = inventory["dockerfiles"]
    assert [s["image"] for s in d["stages"]] == ["golang:1.22", "gcr.io/distroless/static:nonroot"]
    assert d["stages"][0]["name"] == "build"
    assert d["exposed_ports"] == ["8080"] and d["user"] == "nonroot"
    assert d["base_image"] == "gcr.io/distroless/static:nonroot"


def test_toolsets_never_write_outside_their_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dockerfile-parse writes `./Dockerfile` when given content without a path; a toolset must
    # leave the caller's working folder (and the target) exactly as they were.
    from llmgenie.agents.tools import TOOLSETS
    from llmgenie.agents.tools.base import ToolsetInput
    from llmgenie.core.context import analyze

    example = Path(__file__).resolve().parents[3] / "examples" / "shop"
    before = sorted(p.relative_to(example) for p in example.rglob("*"))
    monkeypatch.chdir(tmp_path)
    ctx = analyze(str(example))
    for toolset in TOOLSETS.values():
        toolset.run(ToolsetInput(root=example, context=ctx))
    assert list(tmp_path.iterdir()) == []
    assert sorted(p.relative_to(example) for p in example.rglob("*")) == before
