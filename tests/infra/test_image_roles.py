"""One image, two roles: the worker Deployment runs a worker in it, and the flow-run Jobs that
Prefect's Kubernetes worker creates run `prefect flow-run execute` in it (issue 21, defects 1-4)."""

from __future__ import annotations

import re
import tomllib
from collections import Counter

from llmgenie.flows.deploy import base_job_template
from tests.infra.conftest import (
    DOCKERFILE,
    ROOT,
    effective_argv,
    find,
    image_entry,
    job_manifest,
    render,
    without_init,
)


def test_the_image_imposes_no_role() -> None:
    entrypoint, _ = image_entry()
    assert entrypoint == ["/usr/bin/tini", "--"], "the ENTRYPOINT is an init, not a role"


def test_the_worker_deployment_starts_one_kubernetes_worker_with_each_flag_once() -> None:
    base = render("base")
    settings = find(base, "ConfigMap", "llmgenie-settings")["data"]
    worker = find(base, "Deployment", "llmgenie-worker")["spec"]["template"]["spec"]
    argv = without_init(effective_argv(worker["containers"][0], settings))

    assert argv[:3] == ["prefect", "worker", "start"], argv
    flags = Counter(a for a in argv if a.startswith("--"))
    assert all(n == 1 for n in flags.values()), f"repeated flags: {flags}"  # defect 1
    assert argv[argv.index("--type") + 1] == "kubernetes"
    assert argv[argv.index("--pool") + 1] == settings["LLMGENIE_WORK_POOL"] == "llmgenie"


def test_the_kubernetes_worker_is_installed_with_the_k8s_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(r.startswith("prefect-kubernetes") for r in extras["k8s"])
    installs = re.findall(r"pip install[^\n]*\"\.\[([a-z0-9,]+)\]\"", DOCKERFILE.read_text())
    assert installs and {"llm", "k8s"} <= set(installs[0].split(","))  # defect 2

    from prefect.plugins import load_prefect_collections
    from prefect.utilities.dispatch import lookup_type
    from prefect.workers.base import BaseWorker
    from prefect_kubernetes.worker import KubernetesWorker

    load_prefect_collections()  # how `prefect worker start --type kubernetes` finds it
    assert lookup_type(BaseWorker, "kubernetes") is KubernetesWorker


def test_flow_run_pods_run_prefect_flow_run_execute_in_the_same_image() -> None:
    job = job_manifest(base_job_template("kubernetes", "registry.example.com/llmgenie:1.2.3"))
    container = job["spec"]["template"]["spec"]["containers"][0]

    assert container["image"] == "registry.example.com/llmgenie:1.2.3"
    assert without_init(effective_argv(container)) == ["prefect", "flow-run", "execute"]  # 3


def test_flow_run_pods_get_the_settings_and_credentials_the_worker_has() -> None:
    base = render("base")
    worker = find(base, "Deployment", "llmgenie-worker")["spec"]["template"]["spec"]
    job = job_manifest(base_job_template("kubernetes"))
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]

    # defect 4: Prefect passes only PREFECT_* settings to a Job; envFrom brings the rest
    assert (
        container["envFrom"]
        == worker["containers"][0]["envFrom"]
        == [
            {"configMapRef": {"name": "llmgenie-settings"}},
            {"secretRef": {"name": "llmgenie-credentials"}},
        ]
    )
    find(base, "ConfigMap", "llmgenie-settings")  # the name the Jobs refer to, no hash suffix
    assert pod["serviceAccountName"] == "llmgenie-flow-run"
    find(base, "ServiceAccount", "llmgenie-flow-run")
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    find(base, "Service", "prefect-server")
