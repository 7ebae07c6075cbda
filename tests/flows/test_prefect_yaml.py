"""deployments/prefect.yaml names flows that exist, with parameters they take."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml
from prefect import Flow

PREFECT_YAML = Path(__file__).resolve().parents[2] / "deployments" / "prefect.yaml"


def test_every_deployment_names_a_flow_and_parameters_it_takes() -> None:
    deployments = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]
    assert {d["name"] for d in deployments} == {
        "llmgenie-boss",
        "llmgenie-specialist",
        "llmgenie-prune",
    }
    for deployment in deployments:
        module, _, name = deployment["entrypoint"].partition(":")
        flow = getattr(importlib.import_module(module), name)
        assert isinstance(flow, Flow), deployment["name"]
        taken = inspect.signature(flow.fn).parameters
        assert set(deployment.get("parameters", {})) <= set(taken), deployment["name"]
        for schedule in deployment.get("schedules", []):
            assert schedule["active"] is False  # schedules are the operator's to switch on


def test_job_variables_are_variables_of_the_pools_base_job_template() -> None:
    """They override only what differs; the image and the rest come from the template."""
    from llmgenie.flows.deploy import base_job_template

    known = set(base_job_template("kubernetes")["variables"]["properties"])
    for deployment in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]:
        variables = deployment["work_pool"].get("job_variables", {})
        assert set(variables) <= known - {"image"}, deployment["name"]
