"""Kubernetes beyond the pod (LG-RBAC-*, LG-EXPO-*, LG-ISO-*): each rule fires where a manifest
breaks it and stays silent on its near misses (tests/fixtures/k8s_cluster)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from llmgenie.agents.tools import scan
from llmgenie.agents.tools.checks.kubernetes_exposure import EXPOSURE, ISOLATION
from llmgenie.agents.tools.checks.kubernetes_rbac import RBAC_RULES
from llmgenie.agents.tools.registry import default_registry

FIXTURES = Path(__file__).parents[3] / "fixtures" / "k8s_cluster"
CONTRACTS = Path(__file__).parents[4] / "docs" / "contracts.md"
OURS = ("LG-RBAC-", "LG-EXPO-", "LG-ISO-")
RULES = [*RBAC_RULES.rules, *EXPOSURE.rules, *ISOLATION.rules]


def _found(path: Path) -> set[tuple[str, str | None, int | None, str | None]]:
    return {
        (f.rule_id, f.file, f.line, f.resource)
        for f in scan(path, ["security"]).findings
        if f.rule_id.startswith(OURS)
    }


def test_every_rule_fires_where_it_should() -> None:
    assert _found(FIXTURES / "fires") == {
        ("LG-RBAC-001", "rbac.yaml", 8, "ClusterRoleBinding//ops-admin"),
        ("LG-RBAC-002", "rbac.yaml", 20, "ClusterRole//everything"),
        ("LG-RBAC-002", "rbac.yaml", 24, "ClusterRole//everything"),
        ("LG-RBAC-003", "rbac.yaml", 33, "Role/tools/secret-reader"),
        ("LG-RBAC-004", "rbac.yaml", 43, "Role/tools/debugger"),
        ("LG-RBAC-005", "rbac.yaml", 53, "ClusterRole//rbac-manager"),
        ("LG-RBAC-005", "rbac.yaml", 56, "ClusterRole//rbac-manager"),
        ("LG-RBAC-006", "rbac.yaml", 69, "RoleBinding/tools/default-reads"),
        ("LG-RBAC-006", "rbac.yaml", 83, "Deployment/tools/shared-identity"),
        ("LG-ISO-001", "rbac.yaml", 74, "Deployment/tools/shared-identity"),
        ("LG-ISO-002", "exposure.yaml", 3, "Namespace//edge"),
        ("LG-EXPO-001", "exposure.yaml", 12, "Service/edge/public-lb"),
        ("LG-EXPO-001", "exposure.yaml", 23, "Service/edge/open-lb"),
        ("LG-EXPO-002", "exposure.yaml", 35, "Service/edge/node-port"),
        ("LG-EXPO-004", "exposure.yaml", 48, "Service/edge/captured"),
        ("LG-EXPO-003", "exposure.yaml", 57, "Ingress/edge/plain-http"),
        ("LG-ISO-001", "exposure.yaml", 69, "DaemonSet/edge/web"),
        ("LG-ISO-004", "exposure.yaml", 79, "DaemonSet/edge/web"),
        ("LG-ISO-005", "exposure.yaml", 83, "DaemonSet/edge/web"),
        ("LG-EXPO-005", "exposure.yaml", 90, "DaemonSet/edge/web"),
        ("LG-ISO-003", "exposure.yaml", 92, "DaemonSet/edge/web"),
        ("LG-ISO-004", "exposure.yaml", 93, "DaemonSet/edge/web"),
    }


def test_near_misses_stay_silent() -> None:
    assert _found(FIXTURES / "quiet") == set()


def test_every_rule_has_a_case_that_fires() -> None:
    fired = {f[0] for f in _found(FIXTURES / "fires")}
    assert fired == {r.id for r in RULES}


def test_default_service_account_speaks_only_when_it_has_permissions(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((FIXTURES / "fires" / "rbac.yaml").read_text()))
    workload = [d for d in docs if d["metadata"]["name"] == "shared-identity"]
    binding = [d for d in docs if d["metadata"]["name"] == "default-reads"]
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all(workload + binding))
    ids = {(f.rule_id, f.resource) for f in scan(tmp_path, ["security"]).findings}
    assert ("LG-RBAC-006", "Deployment/tools/shared-identity") in ids
    # nothing bound to `default`: the automounted token alone is LG-K8S-012's to report
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all(workload))
    ids = {(f.rule_id, f.resource) for f in scan(tmp_path, ["security"]).findings}
    assert ("LG-K8S-012", "Deployment/tools/shared-identity") in ids
    assert not any(rule == "LG-RBAC-006" for rule, _ in ids)


def test_a_network_policy_in_the_namespace_covers_its_workloads(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "fires" / "exposure.yaml", tmp_path / "exposure.yaml")
    assert ("LG-ISO-001", "DaemonSet/edge/web") in {(f[0], f[3]) for f in _found(tmp_path)}
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "edge"},
        "spec": {"podSelector": {}},
    }
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    assert not any(f[0] == "LG-ISO-001" for f in _found(tmp_path))


def test_rules_are_the_security_agents_and_documented() -> None:
    registry = default_registry()
    security = {id(rs) for rs in registry.rulesets(["security"])}
    assert {id(RBAC_RULES), id(EXPOSURE), id(ISOLATION)} <= security
    others = {id(rs) for rs in registry.rulesets(["devops", "performance", "documentation"])}
    assert not others & {id(RBAC_RULES), id(EXPOSURE), id(ISOLATION)}
    documented = set(re.findall(r"k8s\.[a-z-]+", CONTRACTS.read_text()))
    for rule in RULES:
        assert rule.agent == "security"
        assert rule.category in documented, rule.category
        assert rule.references and rule.remediation and rule.title


def test_kube_linter_cases_checked_by_hand() -> None:
    # one file per kube-linter check (tests/fixtures/k8s_cluster/kube-linter); objects named
    # dont-fire… must not fire, the others must where our semantics agree with kube-linter's
    assert _found(FIXTURES / "kube-linter") == {
        ("LG-RBAC-003", "access-to-secrets.yml", 19, "Role/namespace-dev/role1"),
        (
            "LG-RBAC-001",
            "cluster-admin-role-binding.yml",
            28,
            "ClusterRoleBinding/namespace-dev/role-binding1",
        ),
        ("LG-EXPO-002", "exposed-services.yml", 19, "Service//app"),
        ("LG-ISO-003", "unsafe-proc-mount.yml", 13, "Deployment//app1"),
        ("LG-ISO-003", "unsafe-proc-mount.yml", 26, "DeploymentConfig//app2"),
        ("LG-RBAC-003", "wildcard-in-rules.yml", 19, "Role/namespace-dev/role1"),
        ("LG-RBAC-002", "wildcard-in-rules.yml", 20, "Role/namespace-dev/role1"),
    }


def test_online_boutique_public_frontend_is_the_one_exposure() -> None:
    # the copy holds kubernetes-manifests/ only, without the network-policies component
    found = _found(FIXTURES.parent / "corpus" / "microservices-demo")
    assert {f for f in found if not f[0].startswith("LG-ISO-001")} == {
        (
            "LG-EXPO-001",
            "kubernetes-manifests/frontend.yaml",
            130,
            "Service//frontend-external",
        )
    }
    isolated = {f[3] for f in found if f[0] == "LG-ISO-001"}
    assert len(isolated) == 12  # the eleven services and redis-cart
    assert all((r or "").startswith("Deployment//") for r in isolated)
