"""Kubernetes security rules: each fires on a manifest that breaks it, and only there.

Every case starts from tests/fixtures/k8s/hardened.yaml (which must give no findings), breaks
one thing, scans the result with the real engine, and asserts the exact
(rule id, resource, container) set.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmgenie.agents.tools import scan
from llmgenie.core.models import ScanResult, Severity

FIXTURES = Path(__file__).parents[3] / "fixtures" / "k8s"
DIGEST = "sha256:" + "0123456789abcdef" * 4
API = "Deployment/shop/api"

_EVIDENCE_CONTAINER = re.compile(r'^(?:container|initContainer|ephemeralContainer) "([^"]+)":')


def _base() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((FIXTURES / "hardened.yaml").read_text()))


def _pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return docs[0]["spec"]["template"]["spec"]


def _c(docs: list[dict[str, Any]], i: int = 0) -> dict[str, Any]:
    return _pod(docs)["containers"][i]


def _scan(tmp_path: Path, docs: list[dict[str, Any]]) -> ScanResult:
    (tmp_path / "manifests.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return scan(tmp_path, ["security"])


def _keys(result: ScanResult) -> set[tuple[str, str | None, str | None]]:
    out = set()
    for f in result.findings:
        m = _EVIDENCE_CONTAINER.match(f.evidence or "")
        out.add((f.rule_id, f.resource, m.group(1) if m else None))
    return out


def test_hardened_workload_has_no_findings(tmp_path: Path) -> None:
    result = _scan(tmp_path, _base())
    assert result.findings == []
    assert result.summary.files_scanned == 1


Mutation = Callable[[list[dict[str, Any]]], None]


def _set(path: str, value: Any, container: int | None = 0) -> Mutation:
    """Set a dotted path under the pod spec (container >= 0: under that container)."""

    def apply(docs: list[dict[str, Any]]) -> None:
        cur = _c(docs, container) if container is not None else _pod(docs)
        keys = path.split(".")
        for k in keys[:-1]:
            cur = cur.setdefault(k, {})
        if value is _DELETE:
            cur.pop(keys[-1], None)
        else:
            cur[keys[-1]] = value

    return apply


_DELETE = object()


def _all(*ms: Mutation) -> Mutation:
    def apply(docs: list[dict[str, Any]]) -> None:
        for m in ms:
            m(docs)

    return apply


CASES: list[tuple[str, Mutation, set[tuple[str, str | None, str | None]]]] = [
    # privileged
    ("privileged", _set("securityContext.privileged", True), {("LG-K8S-001", API, "app")}),
    ("privileged-false", _set("securityContext.privileged", False), set()),
    # privilege escalation
    (
        "escalation-unset",
        _set("securityContext.allowPrivilegeEscalation", _DELETE),
        {("LG-K8S-002", API, "app")},
    ),
    (
        "escalation-true",
        _set("securityContext.allowPrivilegeEscalation", True),
        {("LG-K8S-002", API, "app")},
    ),
    # run as root: pod vs container
    (
        "nonroot-unset",
        _set("securityContext.runAsNonRoot", _DELETE, None),
        {("LG-K8S-003", API, "app")},
    ),
    (
        "nonroot-on-container-only",
        _all(
            _set("securityContext.runAsNonRoot", _DELETE, None),
            _set("securityContext.runAsNonRoot", True),
        ),
        set(),
    ),
    (
        "container-overrides-nonroot-false",
        _set("securityContext.runAsNonRoot", False),
        {("LG-K8S-003", API, "app")},
    ),
    ("container-runasuser-0", _set("securityContext.runAsUser", 0), {("LG-K8S-003", API, "app")}),
    ("pod-runasuser-0", _set("securityContext.runAsUser", 0, None), {("LG-K8S-003", API, "app")}),
    (
        "pod-runasuser-0-container-overrides",
        _all(_set("securityContext.runAsUser", 0, None), _set("securityContext.runAsUser", 1000)),
        set(),
    ),
    # host namespaces
    ("host-network", _set("hostNetwork", True, None), {("LG-K8S-004", API, None)}),
    ("host-network-false", _set("hostNetwork", False, None), set()),
    ("host-pid", _set("hostPID", True, None), {("LG-K8S-005", API, None)}),
    ("host-ipc", _set("hostIPC", True, None), {("LG-K8S-006", API, None)}),
    # host path
    (
        "host-path",
        _set("volumes", [{"name": "data", "hostPath": {"path": "/data"}}], None),
        {("LG-K8S-007", API, None)},
    ),
    ("empty-dir", _set("volumes", [{"name": "tmp", "emptyDir": {}}], None), set()),
    # capabilities
    (
        "cap-add-sys-admin",
        _set("securityContext.capabilities.add", ["SYS_ADMIN"]),
        {("LG-K8S-008", API, "app")},
    ),
    (
        "cap-add-prefixed-lowercase",
        _set("securityContext.capabilities.add", ["cap_net_admin"]),
        {("LG-K8S-008", API, "app")},
    ),
    (
        "cap-add-net-raw-after-drop-all",
        _set("securityContext.capabilities.add", ["NET_RAW"]),
        {("LG-K8S-008", API, "app")},
    ),
    ("cap-add-baseline-chown", _set("securityContext.capabilities.add", ["CHOWN"]), set()),
    ("cap-add-bind-service", _set("securityContext.capabilities.add", ["NET_BIND_SERVICE"]), set()),
    ("cap-drop-all-lowercase", _set("securityContext.capabilities.drop", ["all"]), set()),
    ("cap-drop-net-raw", _set("securityContext.capabilities.drop", ["NET_RAW"]), set()),
    (
        "cap-drop-other",
        _set("securityContext.capabilities.drop", ["CHOWN"]),
        {("LG-K8S-009", API, "app")},
    ),
    (
        "cap-drop-unset",
        _set("securityContext.capabilities", _DELETE),
        {("LG-K8S-009", API, "app")},
    ),
    # read-only root filesystem
    (
        "rofs-false",
        _set("securityContext.readOnlyRootFilesystem", False),
        {("LG-K8S-010", API, "app")},
    ),
    (
        "rofs-unset",
        _set("securityContext.readOnlyRootFilesystem", _DELETE),
        {("LG-K8S-010", API, "app")},
    ),
    # seccomp: pod or container, legacy annotation
    (
        "seccomp-unset",
        _set("securityContext.seccompProfile", _DELETE, None),
        {("LG-K8S-011", API, "app")},
    ),
    (
        "seccomp-container-only",
        _all(
            _set("securityContext.seccompProfile", _DELETE, None),
            _set("securityContext.seccompProfile", {"type": "RuntimeDefault"}),
        ),
        set(),
    ),
    (
        "seccomp-container-unconfined",
        _set("securityContext.seccompProfile", {"type": "Unconfined"}),
        {("LG-K8S-011", API, "app")},
    ),
    (
        "seccomp-localhost",
        _set(
            "securityContext.seccompProfile",
            {"type": "Localhost", "localhostProfile": "p.json"},
            None,
        ),
        set(),
    ),
    # service account token
    (
        "sa-token-unset",
        _set("automountServiceAccountToken", _DELETE, None),
        {("LG-K8S-012", API, None)},
    ),
    (
        "sa-token-true",
        _set("automountServiceAccountToken", True, None),
        {("LG-K8S-012", API, None)},
    ),
    # images
    (
        "image-untagged",
        _set("image", "nginx"),
        {("LG-K8S-013", API, "app"), ("LG-K8S-014", API, "app")},
    ),
    (
        "image-latest",
        _set("image", "nginx:latest"),
        {("LG-K8S-013", API, "app"), ("LG-K8S-014", API, "app")},
    ),
    (
        "image-registry-port-no-tag",
        _set("image", "registry:5000/app"),
        {("LG-K8S-013", API, "app"), ("LG-K8S-014", API, "app")},
    ),
    ("image-tagged", _set("image", "registry:5000/app:1.2.3"), {("LG-K8S-014", API, "app")}),
    ("image-digest-only", _set("image", f"app@{DIGEST}"), set()),
    ("image-latest-with-digest", _set("image", f"app:latest@{DIGEST}"), set()),
    # resources
    ("no-cpu-limit", _set("resources.limits.cpu", _DELETE), {("LG-K8S-015", API, "app")}),
    ("no-memory-limit", _set("resources.limits.memory", _DELETE), {("LG-K8S-016", API, "app")}),
    ("no-cpu-request", _set("resources.requests.cpu", _DELETE), {("LG-K8S-017", API, "app")}),
    ("no-memory-request", _set("resources.requests.memory", _DELETE), {("LG-K8S-018", API, "app")}),
    # probes
    ("no-liveness", _set("livenessProbe", _DELETE), {("LG-K8S-019", API, "app")}),
    ("no-readiness", _set("readinessProbe", _DELETE), {("LG-K8S-020", API, "app")}),
    # secrets in env
    (
        "env-secret-key-ref",
        _set("env", [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]),
        {("LG-K8S-022", API, "app")},
    ),
    (
        "env-from-secret",
        _set("envFrom", [{"secretRef": {"name": "db"}}]),
        {("LG-K8S-022", API, "app")},
    ),
    (
        "env-configmap-ref",
        _set("env", [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "x"}}}]),
        set(),
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_fires_exactly(
    tmp_path: Path, mutate: Mutation, expected: set[tuple[str, str | None, str | None]]
) -> None:
    docs = _base()
    mutate(docs)
    assert _keys(_scan(tmp_path, docs)) == expected


def test_default_namespace_by_omission_and_explicitly(tmp_path: Path) -> None:
    docs = _base()
    del docs[0]["metadata"]["namespace"]
    docs[1]["metadata"]["namespace"] = "default"
    docs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "reader"},
            "rules": [],
        }
    )
    keys = _keys(_scan(tmp_path, docs))
    # the Service no longer selects... it does: selectors ignore the namespace default/omitted
    # ...and the Deployment left the namespace its NetworkPolicy is in
    assert keys == {
        ("LG-K8S-021", "Deployment//api", None),
        ("LG-K8S-021", "Service/default/api", None),
        ("LG-ISO-001", "Deployment//api", None),
    }


def test_two_privileged_containers_give_two_findings_naming_each(tmp_path: Path) -> None:
    docs = _base()
    second = copy.deepcopy(_c(docs))
    second["name"] = "sidecar"
    _pod(docs)["containers"].append(second)
    for c in _pod(docs)["containers"]:
        c["securityContext"]["privileged"] = True
    result = _scan(tmp_path, docs)
    assert _keys(result) == {("LG-K8S-001", API, "app"), ("LG-K8S-001", API, "sidecar")}
    assert len({f.id for f in result.findings}) == 2
    assert all(f.severity is Severity.critical and f.line for f in result.findings)


def test_init_and_ephemeral_containers_are_checked_but_need_no_probes(tmp_path: Path) -> None:
    docs = _base()
    init = copy.deepcopy(_c(docs))
    init.update(name="migrate")
    del init["livenessProbe"], init["readinessProbe"]
    init["securityContext"]["privileged"] = True
    eph = {
        "name": "debugger",
        "image": f"busybox@{DIGEST}",
        "securityContext": copy.deepcopy(_c(docs)["securityContext"]),
    }
    _pod(docs)["initContainers"] = [init]
    _pod(docs)["ephemeralContainers"] = [eph]
    keys = _keys(_scan(tmp_path, docs))
    # ephemeral containers take no resources, so no resource findings for "debugger"
    assert keys == {("LG-K8S-001", API, "migrate")}


def test_jobs_and_cronjobs_need_no_probes_but_get_other_rules(tmp_path: Path) -> None:
    base = _base()
    pod_template = copy.deepcopy(base[0]["spec"]["template"])
    for c in pod_template["spec"]["containers"]:
        del c["livenessProbe"], c["readinessProbe"]
    cron_template = copy.deepcopy(pod_template)
    cron_template["spec"]["hostPID"] = True
    docs = [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": "shop"},
            "spec": {"template": pod_template},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "shop"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": cron_template}}},
        },
        *base[2:],  # the namespace and its NetworkPolicy
    ]
    assert _keys(_scan(tmp_path, docs)) == {("LG-K8S-005", "CronJob/shop/nightly", None)}


def test_host_path_to_runtime_socket_is_critical(tmp_path: Path) -> None:
    docs = _base()
    _pod(docs)["volumes"] = [
        {"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}},
        {"name": "data", "hostPath": {"path": "/srv/data"}},
    ]
    result = _scan(tmp_path, docs)
    sev = {f.evidence: f.severity for f in result.findings}
    assert sev == {
        'volume "sock": hostPath.path: /var/run/docker.sock': Severity.critical,
        'volume "data": hostPath.path: /srv/data': Severity.high,
    }


def test_seccomp_legacy_annotation_counts(tmp_path: Path) -> None:
    docs = _base()
    del _pod(docs)["securityContext"]["seccompProfile"]
    docs[0]["spec"]["template"]["metadata"]["annotations"] = {
        "seccomp.security.alpha.kubernetes.io/pod": "runtime/default"
    }
    assert _keys(_scan(tmp_path, docs)) == set()


def test_service_account_token_looks_at_the_service_account_and_its_bindings(
    tmp_path: Path,
) -> None:
    docs = _base()
    del _pod(docs)["automountServiceAccountToken"]
    _pod(docs)["serviceAccountName"] = "api"
    quiet = copy.deepcopy(docs[0])
    quiet["metadata"]["name"] = "worker"
    quiet["spec"]["template"]["spec"]["serviceAccountName"] = "worker"
    bound = copy.deepcopy(docs[0])
    bound["metadata"]["name"] = "operator"
    bound["spec"]["template"]["spec"]["serviceAccountName"] = "operator"
    docs += [
        quiet,
        bound,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "worker", "namespace": "shop"},
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "operator", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "op"},
            "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": "shop"}],
        },
    ]
    assert _keys(_scan(tmp_path, docs)) == {("LG-K8S-012", API, None)}


def test_ignore_annotation_suppresses_and_is_counted(tmp_path: Path) -> None:
    docs = _base()
    c = _c(docs)
    c["securityContext"]["privileged"] = True
    c["image"] = "nginx:latest"
    docs[0]["spec"]["template"]["metadata"]["annotations"] = {
        "llmgenie.io/ignore": "LG-K8S-001, lg-k8s-014"
    }
    result = _scan(tmp_path, docs)
    assert _keys(result) == {("LG-K8S-013", API, "app")}
    assert result.summary.suppressed == 2


def test_probe_severity_rises_when_a_service_selects_the_pod(tmp_path: Path) -> None:
    docs = _base()
    del _c(docs)["readinessProbe"]
    lonely = copy.deepcopy(docs[0])
    lonely["metadata"]["name"] = "batch"
    lonely["spec"]["template"]["metadata"]["labels"] = {"app": "batch"}
    lonely["spec"]["selector"]["matchLabels"] = {"app": "batch"}
    docs.append(lonely)
    result = _scan(tmp_path, docs)
    sev = {f.resource: f.severity for f in result.findings if f.rule_id == "LG-K8S-020"}
    assert sev == {API: Severity.medium, "Deployment/shop/batch": Severity.low}


def test_every_rule_has_complete_metadata() -> None:
    from llmgenie.agents.tools.checks.kubernetes import GROUPS

    rules = [r for group in GROUPS.values() for r in group.rules]
    ids = sorted(r.id for r in rules)
    assert ids == [f"LG-K8S-{i:03d}" for i in range(1, 23)]
    categories = {r.category for r in rules}
    assert categories == {
        "k8s.privileged",
        "k8s.privilege-escalation",
        "k8s.run-as-root",
        "k8s.host-network",
        "k8s.host-pid",
        "k8s.host-ipc",
        "k8s.host-path",
        "k8s.capabilities",
        "k8s.read-only-root-fs",
        "k8s.image-latest-tag",
        "k8s.image-digest",
        "k8s.cpu-limits",
        "k8s.memory-limits",
        "k8s.cpu-requests",
        "k8s.memory-requests",
        "k8s.liveness-probe",
        "k8s.readiness-probe",
        "k8s.default-namespace",
        "k8s.secrets-in-env",
        "k8s.service-account-token",
        "k8s.seccomp",
    }
    for r in rules:
        assert r.title and r.message and r.remediation and r.references, r.id
