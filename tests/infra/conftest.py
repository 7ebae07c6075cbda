"""Helpers for the infrastructure tests: rendered overlays, the image's entrypoint, the argv a
container really runs, and the Job manifest Prefect's Kubernetes worker would submit."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "infra" / "kubernetes"
DOCKERFILE = ROOT / "infra" / "docker" / "Dockerfile"
OVERLAYS = ("dev", "prod")


@functools.cache
def render(folder: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize` of `base` or an overlay name, as objects."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (it renders kustomizations offline)")
    path = KUBERNETES / folder if folder == "base" else KUBERNETES / "overlays" / folder
    out = subprocess.run(
        ["kubectl", "kustomize", str(path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def find(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind}/{name} in the rendered objects")


def image_entry() -> tuple[list[str], list[str]]:
    """ENTRYPOINT and CMD of the image's final stage (exec form), [] when absent."""
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(fileobj=DOCKERFILE.open("rb"))
    stages: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append(instruction)

    def last(name: str) -> list[str]:
        values = [i["value"] for i in stages[-1] if i["instruction"] == name]
        return yaml.safe_load(values[-1]) if values else []

    return last("ENTRYPOINT"), last("CMD")


def effective_argv(container: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    """What the container runs, as Kubernetes composes it with the image: `command` replaces
    ENTRYPOINT, `args` replaces CMD; `$(VAR)` expands from `env`."""
    entrypoint, cmd = image_entry()
    command = container.get("command")
    args = container.get("args")
    argv = (command if command is not None else entrypoint) + (
        args if args is not None else ([] if command is not None else cmd)
    )
    env = env or {}
    return [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), a) for a in argv]


def without_init(argv: list[str]) -> list[str]:
    """argv without the init process in front of it (tini)."""
    return argv[2:] if argv[:2] == ["/usr/bin/tini", "--"] else argv


def job_manifest(template: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Job prefect-kubernetes builds from a base job template for a flow run (its own
    configuration code: template values, then `prepare_for_flow_run`)."""
    import asyncio

    from prefect.client.schemas.objects import FlowRun
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    async def build() -> dict[str, Any]:
        config = await KubernetesWorkerJobConfiguration.from_template_and_values(
            template, values or {}
        )
        config.prepare_for_flow_run(FlowRun(flow_id=uuid.uuid4(), name="calm-otter"))
        return config.job_manifest

    return asyncio.run(build())
