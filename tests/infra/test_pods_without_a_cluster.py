"""Proof without a cluster: a task run as the Kubernetes work pool would run it, one process per
pod, sharing nothing but PostgreSQL, S3 and the Prefect API.

No Kubernetes API server can run here, so the test stands in for two things only: the cluster's
Services (their names are mapped to loopback addresses) and the kubelet (each Job's container
command runs as a local process with the manifest's environment — the image's ENV, then the
ConfigMap and Secret of `envFrom`, then `env` — and a home and temp folder of its own). Everything
else is the real thing: a real Prefect server, the work pool with the repository's base job
template, deployments registered by `register_deployments`, a real BOSS flow run, and each Job
manifest built by prefect-kubernetes's own job-configuration code and validated against the
Kubernetes schema. Not here: ChromaDB and the Pushgateway (their settings are left out).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from dockerfile_parse import DockerfileParser
from prefect.client.orchestration import get_client
from prefect.states import Pending

from llmgenie.core.models import StepStatus, TaskStatus
from llmgenie.core.settings import Settings
from llmgenie.core.storage import open_store
from llmgenie.flows.deploy import BOSS_DEPLOYMENT, register_deployments
from tests.flows.conftest import EXAMPLE, use_settings
from tests.infra.conftest import (
    DOCKERFILE,
    effective_argv,
    find,
    render,
    without_init,
)
from tests.infra.test_work_pool import strict_errors
from tests.support.s3 import S3_ENV, s3_environment

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api", "llmgenie_home")]

#: Settings for components this test does not run; a pod without them uses its own folder.
NOT_RUN_HERE = ("LLMGENIE_KNOWLEDGE_URL", "LLMGENIE_PUSHGATEWAY_URL")
IMAGE_HOME = "/home/llmgenie"
DEADLINE_SECONDS = 420


def test_a_task_runs_as_separate_pods_that_share_no_disk(
    tmp_path: Path,
    fresh_postgres_url: str,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dev = render("dev")
    settings_map = dict(find(dev, "ConfigMap", "llmgenie-settings")["data"])
    bucket = settings_map["LLMGENIE_ARTIFACTS_URL"].removeprefix("s3://").split("/")[0]
    # what docs/deploy.md has the operator put in the Secret `llmgenie-credentials`
    credentials = {
        "LLMGENIE_DATABASE_URL": fresh_postgres_url,
        "AWS_ACCESS_KEY_ID": S3_ENV["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": S3_ENV["AWS_SECRET_ACCESS_KEY"],
    }
    # the cluster's Services, at their loopback addresses here
    services = {
        "http://prefect-server:4200/api": os.environ["PREFECT_API_URL"],
        "http://minio:9000": s3_endpoint,
    }
    target = _upload_target(s3_endpoint, bucket, monkeypatch)

    pool = f"llmgenie-k8s-proof-{uuid.uuid4().hex[:6]}"
    use_settings(monkeypatch, image="registry.example.com/llmgenie:proof")
    asyncio.run(register_deployments(pool, pool_type="kubernetes"))
    task_id = uuid.uuid4().hex

    pods = asyncio.run(
        _run_as_the_cluster_would(
            pool,
            {"task": "audit and document the shop", "target": target, "task_id": task_id},
            lambda manifest, n: _start_pod(
                manifest, tmp_path / f"pod-{n}", settings_map, credentials, services
            ),
        )
    )

    states = asyncio.run(_final_states(list(pods)))
    failed = {
        str(i): (states[i], pod.log())
        for i, pod in pods.items()
        if pod.process.returncode != 0 or states[i] != "COMPLETED"
    }
    assert not failed, failed
    assert len(pods) == 5  # BOSS and its four specialists, each in a pod of its own
    assert len({pod.home for pod in pods.values()}) == 5

    # BOSS read every specialist's report through the store: the task is complete in it
    reader = Settings(
        home=tmp_path / "reader",
        database_url=fresh_postgres_url,
        artifacts_url=settings_map["LLMGENIE_ARTIFACTS_URL"],
    )
    store = open_store(reader)
    report = store.get_report(task_id)
    assert report is not None and report.status is TaskStatus.completed, report
    assert [s.status for s in report.steps] == [StepStatus.completed] * 4
    assert {s.flow_run_id for s in report.steps} <= {str(i) for i in pods}
    doc = next(s for s in report.steps if s.id == "documentation")
    assert "the reports of: devops, performance, security" in doc.output["catalogue_md"]
    assert any(f.agent == "security" for f in report.findings)

    # the report and every step's files are in the bucket
    names = {(a.step_id, a.name) for a in store.artifacts(task_id)}
    assert (None, "report.json") in names
    assert {s.id for s in report.steps} <= {step for step, name in names if name == "output.json"}
    keys = set(_keys(s3_endpoint, bucket))
    prefix = f"dev/tasks/{task_id}"
    assert f"{prefix}/_task/report.json" in keys, keys
    assert {f"{prefix}/{s.id}/output.json" for s in report.steps} <= keys, keys


class Pod:
    """One flow-run "pod": its process, its own home and temp volumes, its log."""

    def __init__(self, process: subprocess.Popen[bytes], folder: Path) -> None:
        self.process = process
        self.folder = folder
        self.home = folder / "home"

    def log(self) -> str:
        return (self.folder / "pod.log").read_text(errors="replace")[-3000:]


async def _final_states(flow_run_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    async with get_client() as client:
        runs = [await client.read_flow_run(i) for i in flow_run_ids]
    return {r.id: r.state.type.value if r.state else "NONE" for r in runs}


async def _run_as_the_cluster_would(
    pool_name: str, parameters: dict[str, Any], start: Any
) -> dict[uuid.UUID, Pod]:
    """Create the BOSS flow run, then do what the Kubernetes worker and the kubelet do: each
    scheduled run of the pool becomes the Job prefect-kubernetes builds for it, run as a pod."""
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    pods: dict[uuid.UUID, Pod] = {}
    async with get_client() as client:
        deployment = await client.read_deployment_by_name(f"boss/{BOSS_DEPLOYMENT}")
        boss = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
        work_pool = await client.read_work_pool(pool_name)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            for response in await client.get_scheduled_flow_runs_for_work_pool(pool_name):
                flow_run = response.flow_run
                if flow_run.id in pods:
                    continue
                config = await KubernetesWorkerJobConfiguration.resolve_for_flow_run(
                    flow_run, client=client, work_pool=work_pool, worker_name="proof"
                )
                assert strict_errors(config.job_manifest) == []
                await client.set_flow_run_state(flow_run.id, Pending())  # as the worker does
                pods[flow_run.id] = start(config.job_manifest, len(pods))
            if boss.id in pods and all(p.process.poll() is not None for p in pods.values()):
                return pods
            await asyncio.sleep(0.5)  # the worker's polling interval, shortened
    for pod in pods.values():
        pod.process.kill()
    raise AssertionError(
        f"not finished in {DEADLINE_SECONDS} s: {[p.log() for p in pods.values()]}"
    )


def _start_pod(
    manifest: dict[str, Any],
    folder: Path,
    settings_map: dict[str, str],
    credentials: dict[str, str],
    services: dict[str, str],
) -> Pod:
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    home, tmp = folder / "home", folder / "tmp"  # the pod's two emptyDir volumes
    home.mkdir(parents=True)
    tmp.mkdir()
    sources: dict[str, dict[str, str]] = {
        "llmgenie-settings": settings_map,
        "llmgenie-credentials": credentials,
    }
    env = dict(_image_env())
    for source in container.get("envFrom", []):  # the later source wins, as in Kubernetes
        ref = source.get("configMapRef") or source.get("secretRef")
        env.update(sources[ref["name"]])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    for name in NOT_RUN_HERE:
        env.pop(name, None)
    for name, value in env.items():
        for service, address in services.items():
            value = value.replace(service, address)
        env[name] = value.replace(IMAGE_HOME, str(home))  # the pod's own home volume
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        # the image's PATH: its virtualenv first
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
    )
    argv = without_init(effective_argv(container, env))
    assert argv == ["prefect", "flow-run", "execute"], argv
    argv[0] = shutil.which(argv[0], path=env["PATH"]) or argv[0]
    log = (folder / "pod.log").open("wb")
    # the image's WORKDIR is the home volume
    process = subprocess.Popen(argv, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    return Pod(process, folder)


def _image_env() -> dict[str, str]:
    """The ENV of the image's final stage."""
    parser = DockerfileParser(fileobj=DOCKERFILE.open("rb"))
    return {k: v for k, v in parser.envs.items() if k not in {"PATH"}}


def _upload_target(endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The example service in a bucket: a pod reaches targets over S3, not a shared folder."""
    with s3_environment(monkeypatch, endpoint):
        s3 = boto3.client("s3", endpoint_url=endpoint)
        for name in (bucket, "llmgenie-targets"):
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=name)
        prefix = f"shop-{uuid.uuid4().hex[:6]}"
        for path in EXAMPLE.rglob("*"):
            if path.is_file():
                key = f"{prefix}/{path.relative_to(EXAMPLE).as_posix()}"
                s3.put_object(Bucket="llmgenie-targets", Key=key, Body=path.read_bytes())
    return f"s3://llmgenie-targets/{prefix}/"


def _keys(endpoint: str, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]
