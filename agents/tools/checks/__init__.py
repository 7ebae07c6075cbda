"""The rules, grouped by what they check; `register_all` adds every group to a registry.

Kubernetes (`kubernetes.*`: security context, host access, credentials, images, resources,
probes, namespaces, schema, resource sizing, availability, probe timing), Dockerfiles,
compose files, Terraform, secrets and dependencies; Kubernetes RBAC, exposure and isolation;
GitHub Actions workflows (`ci.*`). Which agent runs which group is the agent
spec's `rule_groups:`; a group's rules keep the agent they report as (`Rule.agent`).
"""

from __future__ import annotations

from collections.abc import Callable

from llmgenie.agents.tools.registry import Registry

from . import (
    ci_workflows,
    compose,
    dependencies,
    docker,
    docker_build,
    kubernetes,
    kubernetes_capacity,
    kubernetes_exposure,
    kubernetes_rbac,
    kubernetes_schema,
    secrets,
    terraform,
    terraform_cloud,
)

__all__ = ["ALL_CHECKS", "register_all"]

#: Every module of rule groups, each with its `register(registry)`: add new ones here.
ALL_CHECKS: tuple[Callable[[Registry], None], ...] = (
    kubernetes.register,
    kubernetes_schema.register,
    kubernetes_capacity.register,
    kubernetes_rbac.register,
    kubernetes_exposure.register,
    docker.register,
    docker_build.register,
    compose.register,
    terraform.register,
    terraform_cloud.register,
    secrets.register,
    dependencies.register,
    ci_workflows.register,
)


def register_all(registry: Registry) -> None:
    """Register every rule group of the product (and the parsers of their subjects)."""
    for register in ALL_CHECKS:
        register(registry)
