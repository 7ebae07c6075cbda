"""Kubernetes security rules (`k8s.*`, ids LG-K8S-001…), in groups by what they check.

Each rule is one small function over a `K8sObject` and the scan context. Per-container rules
give one finding per (rule, resource, container), the container named in the evidence; the
container's securityContext overrides the pod's wherever Kubernetes says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmgenie.agents.tools.checks.kubernetes_schema import known_kind
from llmgenie.agents.tools.parsing.image import parse_image_ref
from llmgenie.agents.tools.parsing.kubernetes import (
    ContainerRef,
    K8sObject,
    containers,
    pod_spec,
    pod_template_metadata,
    runtime_containers,
)
from llmgenie.agents.tools.registry import Registry
from llmgenie.agents.tools.rules import Hit, RuleSet
from llmgenie.agents.tools.scan_context import NAMESPACED_KINDS_EXEMPT, ScanContext
from llmgenie.core.models import Severity

__all__ = [
    "BASELINE_CAPABILITIES",
    "DANGEROUS_CAPABILITIES",
    "GROUPS",
    "SENSITIVE_HOST_PATHS",
    "register",
]

# The rule groups of this module, by what they check (the Security agent's rules).
SECURITY_CONTEXT: RuleSet[K8sObject] = RuleSet(agent="security")
HOST_ACCESS: RuleSet[K8sObject] = RuleSet(agent="security")
CREDENTIALS: RuleSet[K8sObject] = RuleSet(agent="security")
IMAGES: RuleSet[K8sObject] = RuleSet(agent="security")
RESOURCES: RuleSet[K8sObject] = RuleSet(agent="security")
PROBES: RuleSet[K8sObject] = RuleSet(agent="security")
NAMESPACES: RuleSet[K8sObject] = RuleSet(agent="security")

#: Capabilities the Pod Security Standards' baseline profile lets a container add; adding
#: any other one (SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_PTRACE, ALL, …) is what LG-K8S-008 reports.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
#: Well-known dangerous ones, for documentation; the rule reports anything outside the baseline.
DANGEROUS_CAPABILITIES = frozenset(
    {"ALL", "SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "BPF"}
)

#: hostPath mounts that hand a container the node (critical rather than high).
SENSITIVE_HOST_PATHS = (
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/root",
    "/boot",
    "/var/run",
    "/run",
    "/var/run/docker.sock",
    "/run/containerd",
    "/var/lib/docker",
    "/var/lib/kubelet",
    "/var/lib/containerd",
    "/etc/kubernetes",
)

_LEGACY_SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
_LEGACY_SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
_NO_PROBE_KINDS = frozenset({"Job", "CronJob"})


# -- helpers -------------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def _label(c: ContainerRef) -> str:
    return f'{c.kind} "{c.name}"'


def _pod_sc(o: K8sObject) -> dict[str, Any]:
    found = pod_spec(o)
    return _dict(found[0].get("securityContext")) if found else {}


def _effective(o: K8sObject, c: ContainerRef, key: str) -> tuple[Any, str]:
    """A securityContext field as it applies to the container, and where it was set."""
    csc = _dict(c.container.get("securityContext"))
    if csc.get(key) is not None:
        return csc[key], "container"
    psc = _pod_sc(o)
    if psc.get(key) is not None:
        return psc[key], "pod"
    return None, ""


def _c_hit(o: K8sObject, c: ContainerRef, evidence: str, *path: str | int, **kw: Any) -> Hit:
    return Hit(
        file=o.file,
        line=o.line_near(*c.path, *path),
        resource=o.resource,
        evidence=f"{_label(c)}: {evidence}",
        **kw,
    )


def _containers_whose_flag_is_not(o: K8sObject, flag: str, wanted: bool) -> Iterator[Hit]:
    """A hit for each container whose securityContext.<flag> is not set to `wanted`."""
    for c in containers(o):
        value = _dict(c.container.get("securityContext")).get(flag)
        if not (_is_true(value) if wanted else _is_false(value)):
            ev = (
                f"securityContext.{flag} not set"
                if value is None
                else f"securityContext.{flag}: {str(value).lower()}"
            )
            yield _c_hit(o, c, ev, "securityContext", flag)


def _pod_hit(o: K8sObject, evidence: str, *path: str | int, **kw: Any) -> Hit:
    found = pod_spec(o)
    base = found[1] if found else ()
    return Hit(
        file=o.file, line=o.line_near(*base, *path), resource=o.resource, evidence=evidence, **kw
    )


def _cap_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    out = []
    for v in value:
        name = str(v).strip().upper()
        out.append(name[4:] if name.startswith("CAP_") else name)
    return out


def _images(o: K8sObject) -> Iterator[tuple[ContainerRef, str]]:
    for c in containers(o):
        image = c.container.get("image")
        if isinstance(image, str) and image.strip():
            yield c, image.strip()


# -- securityContext -----------------------------------------------------------------------


@SECURITY_CONTEXT.rule(
    "LG-K8S-001",
    category="k8s.privileged",
    severity=Severity.critical,
    title="Container runs privileged",
    message="A privileged container has every capability and full access to the node's devices:"
    " a compromise of the container is a compromise of the node.",
    remediation="Remove securityContext.privileged or set it to false; grant only the specific"
    " capabilities the workload needs.",
    references=[
        "CIS Kubernetes 5.2.2",
        "CKV_K8S_16",
        "kube-linter privileged-container",
        "kube-score container-security-context-privileged",
        "kubesec Privileged",
    ],
)
def privileged(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c in containers(o):
        if _is_true(_dict(c.container.get("securityContext")).get("privileged")):
            yield _c_hit(o, c, "securityContext.privileged: true", "securityContext", "privileged")


@SECURITY_CONTEXT.rule(
    "LG-K8S-002",
    category="k8s.privilege-escalation",
    severity=Severity.high,
    title="Privilege escalation not disabled",
    message="Unless allowPrivilegeEscalation is false, a process in the container can gain more"
    " privileges than its parent (setuid binaries, file capabilities).",
    remediation="Set securityContext.allowPrivilegeEscalation: false on the container.",
    references=[
        "CIS Kubernetes 5.2.6",
        "CKV_K8S_20",
        "kube-linter privilege-escalation-container",
        "kubesec AllowPrivilegeEscalation",
    ],
)
def privilege_escalation(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _containers_whose_flag_is_not(o, "allowPrivilegeEscalation", False)


@SECURITY_CONTEXT.rule(
    "LG-K8S-003",
    category="k8s.run-as-root",
    severity=Severity.high,
    title="Container may run as root",
    message="Without runAsNonRoot: true (pod or container) the container runs as whatever user"
    " the image says, usually root; root in a container is one kernel bug away from root on"
    " the node. runAsUser: 0 asks for root explicitly.",
    remediation="Set securityContext.runAsNonRoot: true and a non-zero runAsUser (pod level, or"
    " on the container), and build the image with a non-root USER.",
    references=[
        "CIS Kubernetes 5.2.7",
        "CKV_K8S_23",
        "CKV_K8S_40",
        "kube-linter run-as-non-root",
        "kube-score container-security-context-user-group-id",
        "kubesec RunAsNonRoot",
    ],
)
def run_as_root(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c in containers(o):
        user, user_from = _effective(o, c, "runAsUser")
        non_root, _ = _effective(o, c, "runAsNonRoot")
        if user is not None and str(user).strip() == "0":
            where = "securityContext" if user_from == "container" else "pod securityContext"
            yield _c_hit(o, c, f"{where}.runAsUser: 0", "securityContext", "runAsUser")
        elif not _is_true(non_root):
            ev = (
                "runAsNonRoot: false"
                if _is_false(non_root)
                else "runAsNonRoot not set on pod or container"
            )
            yield _c_hit(o, c, ev, "securityContext", "runAsNonRoot")


@HOST_ACCESS.rule(
    "LG-K8S-004",
    category="k8s.host-network",
    severity=Severity.high,
    title="Pod shares the host network",
    message="hostNetwork puts the pod in the node's network namespace: it can bind node ports,"
    " reach node-local services and sniff traffic, bypassing NetworkPolicies.",
    remediation="Remove hostNetwork (or set it to false); expose the workload through a Service.",
    references=[
        "CIS Kubernetes 5.2.5",
        "CKV_K8S_19",
        "kube-linter host-network",
        "kubesec HostNetwork",
    ],
)
def host_network(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _host_ns(o, "hostNetwork")


@HOST_ACCESS.rule(
    "LG-K8S-005",
    category="k8s.host-pid",
    severity=Severity.high,
    title="Pod shares the host PID namespace",
    message="hostPID lets the pod see and signal every process on the node, and read their"
    " environment and memory with enough privilege.",
    remediation="Remove hostPID (or set it to false).",
    references=["CIS Kubernetes 5.2.3", "CKV_K8S_17", "kube-linter host-pid", "kubesec HostPID"],
)
def host_pid(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _host_ns(o, "hostPID")


@HOST_ACCESS.rule(
    "LG-K8S-006",
    category="k8s.host-ipc",
    severity=Severity.high,
    title="Pod shares the host IPC namespace",
    message="hostIPC gives the pod the node's shared memory and IPC objects, so it can read or"
    " tamper with other processes' IPC.",
    remediation="Remove hostIPC (or set it to false).",
    references=["CIS Kubernetes 5.2.4", "CKV_K8S_18", "kube-linter host-ipc", "kubesec HostIPC"],
)
def host_ipc(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _host_ns(o, "hostIPC")


def _host_ns(o: K8sObject, key: str) -> Iterator[Hit]:
    found = pod_spec(o)
    if found and _is_true(found[0].get(key)):
        yield _pod_hit(o, f"{_dotted((*found[1], key))}: true", key)


@HOST_ACCESS.rule(
    "LG-K8S-007",
    category="k8s.host-path",
    severity=Severity.high,
    title="Pod mounts a hostPath volume",
    message="A hostPath volume exposes the node's filesystem to the pod; writable or sensitive"
    " paths (the container runtime socket, /etc, /var/lib/kubelet) let it take over the node.",
    remediation="Use a PersistentVolumeClaim, ConfigMap, Secret or emptyDir instead; if a host"
    " path is unavoidable, mount it readOnly and as narrowly as possible.",
    references=[
        "CIS Kubernetes 5.2.12",
        "CKV_K8S_27",
        "kube-linter sensitive-host-mounts",
        "kube-linter docker-sock",
        "kubesec hostPath",
    ],
)
def host_path(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    found = pod_spec(o)
    if not found:
        return
    volumes = found[0].get("volumes")
    if not isinstance(volumes, list):
        return
    for i, vol in enumerate(volumes):
        hp = _dict(vol).get("hostPath") if isinstance(vol, dict) else None
        if not isinstance(hp, dict):
            continue
        path = str(hp.get("path", "")).rstrip("/") or "/"
        sensitive = any(
            path == p or (p != "/" and path.startswith(p + "/")) for p in SENSITIVE_HOST_PATHS
        )
        yield _pod_hit(
            o,
            f'volume "{vol.get("name", i)}": hostPath.path: {hp.get("path", "")}',
            "volumes",
            i,
            severity=Severity.critical if sensitive else None,
        )


@SECURITY_CONTEXT.rule(
    "LG-K8S-008",
    category="k8s.capabilities",
    severity=Severity.high,
    title="Container adds a dangerous capability",
    message="Capabilities beyond the Pod Security Standards baseline (SYS_ADMIN, NET_ADMIN,"
    " NET_RAW, SYS_PTRACE, ALL, …) give the container power over the node's kernel interfaces.",
    remediation="Remove the capability from securityContext.capabilities.add; add back only"
    " narrowly needed ones (e.g. NET_BIND_SERVICE).",
    references=[
        "CIS Kubernetes 5.2.9",
        "Pod Security Standards baseline: capabilities",
        "CKV_K8S_25",
        "CKV_K8S_39",
        "kubesec CapSysAdmin",
    ],
)
def capabilities_added(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c in containers(o):
        caps = _dict(_dict(c.container.get("securityContext")).get("capabilities"))
        bad = [n for n in _cap_names(caps.get("add")) if n not in BASELINE_CAPABILITIES]
        if bad:
            ev = f"securityContext.capabilities.add: [{', '.join(bad)}]"
            yield _c_hit(o, c, ev, "securityContext", "capabilities", "add")


@SECURITY_CONTEXT.rule(
    "LG-K8S-009",
    category="k8s.capabilities",
    severity=Severity.medium,
    title="Container does not drop ALL (or NET_RAW) capabilities",
    message="The default capability set includes NET_RAW (packet spoofing, ARP poisoning) and"
    " others the workload rarely needs; dropping ALL removes them.",
    remediation="Set securityContext.capabilities.drop: [ALL] and add back only what is needed.",
    references=[
        "CIS Kubernetes 5.2.8",
        "CIS Kubernetes 5.2.10",
        "CKV_K8S_28",
        "CKV_K8S_37",
        "kube-linter drop-net-raw-capability",
        "kubesec CapDropAll",
    ],
)
def capabilities_not_dropped(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c in containers(o):
        caps = _dict(_dict(c.container.get("securityContext")).get("capabilities"))
        drop = _cap_names(caps.get("drop"))
        if "ALL" not in drop and "NET_RAW" not in drop:
            ev = (
                f"securityContext.capabilities.drop: [{', '.join(drop)}]"
                if drop
                else "securityContext.capabilities.drop not set"
            )
            yield _c_hit(o, c, ev, "securityContext", "capabilities", "drop")


@SECURITY_CONTEXT.rule(
    "LG-K8S-010",
    category="k8s.read-only-root-fs",
    severity=Severity.medium,
    title="Root filesystem is writable",
    message="A writable root filesystem lets an attacker drop tools and persist changes inside"
    " the container; a read-only one confines writes to declared volumes.",
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where"
    " the application must write (e.g. /tmp).",
    references=[
        "CKV_K8S_22",
        "kube-linter no-read-only-root-fs",
        "kube-score container-security-context-readonlyrootfilesystem",
        "kubesec ReadOnlyRootFilesystem",
    ],
)
def read_only_root_fs(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _containers_whose_flag_is_not(o, "readOnlyRootFilesystem", True)


@SECURITY_CONTEXT.rule(
    "LG-K8S-011",
    category="k8s.seccomp",
    severity=Severity.medium,
    title="No seccomp profile",
    message="Without a seccomp profile (RuntimeDefault or Localhost) the container may call every"
    " syscall, including rarely needed ones that kernel exploits rely on.",
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod (or the"
    " container).",
    references=["CIS Kubernetes 5.7.2", "CKV_K8S_31", "kubesec SeccompAny"],
)
def seccomp(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    found = pod_spec(o)
    if not found:
        return
    ann = _dict(pod_template_metadata(o).get("annotations"))
    pod_profile = _dict(_pod_sc(o).get("seccompProfile")).get("type")
    legacy_pod = ann.get(_LEGACY_SECCOMP_POD)
    for c in containers(o):
        c_profile = _dict(_dict(c.container.get("securityContext")).get("seccompProfile")).get(
            "type"
        )
        legacy_c = ann.get(_LEGACY_SECCOMP_CONTAINER + c.name)
        if c_profile is not None:
            ok, ev = _seccomp_ok(c_profile), f"securityContext.seccompProfile.type: {c_profile}"
        elif legacy_c is not None:
            ok, ev = _legacy_ok(legacy_c), f"annotation {_LEGACY_SECCOMP_CONTAINER}{c.name}"
        elif pod_profile is not None:
            ok, ev = _seccomp_ok(pod_profile), f"pod seccompProfile.type: {pod_profile}"
        elif legacy_pod is not None:
            ok, ev = _legacy_ok(legacy_pod), f"annotation {_LEGACY_SECCOMP_POD}: {legacy_pod}"
        else:
            ok, ev = False, "no seccompProfile on pod or container"
        if not ok:
            yield _c_hit(o, c, ev, "securityContext", "seccompProfile")


def _seccomp_ok(profile: Any) -> bool:
    return str(profile).strip().lower() in {"runtimedefault", "localhost"}


def _legacy_ok(value: Any) -> bool:
    v = str(value).strip().lower()
    return v in {"runtime/default", "docker/default"} or v.startswith("localhost/")


@CREDENTIALS.rule(
    "LG-K8S-012",
    category="k8s.service-account-token",
    severity=Severity.medium,
    title="Service account token automounted",
    message="Every pod gets an API token for its service account unless told otherwise; a pod"
    " that never talks to the Kubernetes API hands an attacker free credentials.",
    remediation="Set automountServiceAccountToken: false on the pod spec (or on its"
    " ServiceAccount), and mount a projected token only where the API is needed.",
    references=["CIS Kubernetes 5.1.6", "CKV_K8S_38", "kubesec AutomountServiceAccountToken"],
)
def service_account_token(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    found = pod_spec(o)
    if not found:
        return
    spec = found[0]
    pod_value = spec.get("automountServiceAccountToken")
    if _is_false(pod_value):
        return
    sa = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
    if pod_value is None:
        if _is_false(ctx.service_account_automount(o.namespace, sa)):
            return
        if ctx.service_account_has_role(o.namespace, sa):
            return  # bound to a Role: the token is presumably needed
        ev = f'automountServiceAccountToken not set (service account "{sa}")'
    else:
        ev = f"automountServiceAccountToken: {str(pod_value).lower()}"
    yield _pod_hit(o, ev, "automountServiceAccountToken")


# -- images --------------------------------------------------------------------------------


@IMAGES.rule(
    "LG-K8S-013",
    category="k8s.image-latest-tag",
    severity=Severity.medium,
    title="Image has no tag or the tag latest",
    message="An untagged or `latest` image changes under you: two nodes may run different code,"
    " and a rollback does not roll back.",
    remediation="Pin the image to a version tag, or better to a digest (image@sha256:…).",
    references=[
        "CKV_K8S_14",
        "kube-linter latest-tag",
        "kube-score container-image-tag",
    ],
)
def image_latest(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c, image in _images(o):
        ref = parse_image_ref(image)
        if ref.digest is None and (ref.tag is None or ref.tag.lower() == "latest"):
            yield _c_hit(o, c, f"image: {image}", "image")


@IMAGES.rule(
    "LG-K8S-014",
    category="k8s.image-digest",
    severity=Severity.low,
    title="Image not pinned by digest",
    message="A tag can be moved to other content; only a digest guarantees the image that was"
    " reviewed and scanned is the one that runs.",
    remediation="Reference the image by digest (registry/app:1.2.3@sha256:…).",
    references=["CKV_K8S_43"],
)
def image_not_digest(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c, image in _images(o):
        if parse_image_ref(image).digest is None:
            yield _c_hit(o, c, f"image: {image}", "image")


# -- resources -----------------------------------------------------------------------------


def _resource_rule(o: K8sObject, section: str, res: str) -> Iterator[Hit]:
    for c in runtime_containers(o):
        value = _dict(_dict(c.container.get("resources")).get(section)).get(res)
        if value is None or str(value).strip() in {"", "0"}:
            ev = f"resources.{section}.{res} not set"
            yield _c_hit(o, c, ev, "resources", section)


@RESOURCES.rule(
    "LG-K8S-015",
    category="k8s.cpu-limits",
    severity=Severity.medium,
    title="No CPU limit",
    message="A container without a CPU limit can take every core of its node when it"
    " misbehaves, starving its neighbours.",
    remediation="Set resources.limits.cpu (or enforce a LimitRange default in the namespace).",
    references=[
        "CKV_K8S_11",
        "kube-linter unset-cpu-requirements",
        "kube-score container-resources",
        "kubesec LimitsCPU",
    ],
)
def cpu_limits(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _resource_rule(o, "limits", "cpu")


@RESOURCES.rule(
    "LG-K8S-016",
    category="k8s.memory-limits",
    severity=Severity.medium,
    title="No memory limit",
    message="A container without a memory limit can exhaust its node's memory and get other"
    " pods evicted or OOM-killed.",
    remediation="Set resources.limits.memory.",
    references=[
        "CKV_K8S_13",
        "kube-linter unset-memory-requirements",
        "kube-score container-resources",
        "kubesec LimitsMemory",
    ],
)
def memory_limits(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _resource_rule(o, "limits", "memory")


@RESOURCES.rule(
    "LG-K8S-017",
    category="k8s.cpu-requests",
    severity=Severity.low,
    title="No CPU request",
    message="Without a CPU request the scheduler places the pod blind and it gets the smallest"
    " share of CPU under contention.",
    remediation="Set resources.requests.cpu to the workload's usual usage.",
    references=[
        "CKV_K8S_10",
        "kube-linter unset-cpu-requirements",
        "kube-score container-resources",
        "kubesec RequestsCPU",
    ],
)
def cpu_requests(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _resource_rule(o, "requests", "cpu")


@RESOURCES.rule(
    "LG-K8S-018",
    category="k8s.memory-requests",
    severity=Severity.low,
    title="No memory request",
    message="Without a memory request the scheduler may overcommit the node, and the pod is"
    " among the first evicted under memory pressure.",
    remediation="Set resources.requests.memory to the workload's usual working set.",
    references=[
        "CKV_K8S_12",
        "kube-linter unset-memory-requirements",
        "kube-score container-resources",
        "kubesec RequestsMemory",
    ],
)
def memory_requests(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _resource_rule(o, "requests", "memory")


# -- probes --------------------------------------------------------------------------------


def _probe_rule(o: K8sObject, ctx: ScanContext, key: str) -> Iterator[Hit]:
    if o.kind in _NO_PROBE_KINDS:
        return
    behind = ctx.services_for(o) if hasattr(ctx, "services_for") else []
    for c in containers(o):
        if c.kind != "container":
            continue
        if not isinstance(c.container.get(key), dict):
            msg_extra = f" (selected by {', '.join(behind)})" if behind else ""
            yield _c_hit(
                o,
                c,
                f"no {key}{msg_extra}",
                "name",
                severity=Severity.medium if behind else Severity.low,
            )


@PROBES.rule(
    "LG-K8S-019",
    category="k8s.liveness-probe",
    severity=Severity.medium,
    title="No liveness probe",
    message="Without a liveness probe a hung process keeps its pod Running forever; the kubelet"
    " only restarts containers that exit.",
    remediation="Add a livenessProbe that fails only when the process cannot recover (not on"
    " dependency outages), with a startupProbe for slow starters.",
    references=["CKV_K8S_8", "kube-linter no-liveness-probe", "kube-score pod-probes"],
)
def liveness_probe(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _probe_rule(o, ctx, "livenessProbe")


@PROBES.rule(
    "LG-K8S-020",
    category="k8s.readiness-probe",
    severity=Severity.medium,
    title="No readiness probe",
    message="Without a readiness probe a Service sends traffic to the pod as soon as the"
    " container starts, before it can answer, and during rollouts.",
    remediation="Add a readinessProbe that checks the container can serve requests.",
    references=["CKV_K8S_9", "kube-linter no-readiness-probe", "kube-score pod-probes"],
)
def readiness_probe(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    yield from _probe_rule(o, ctx, "readinessProbe")


# -- placement and secrets -----------------------------------------------------------------


def object_scope(o: K8sObject, ctx: ScanContext | None) -> str | None:
    """ "Namespaced", "Cluster", or None when llmgenie cannot know: a custom resource's scope
    comes from its CustomResourceDefinition in the target, a built-in kind's from the offline
    schemas (which kinds Kubernetes serves) and the list of cluster-scoped ones."""
    group = o.api_version.rsplit("/", 1)[0] if "/" in o.api_version else ""
    crds = getattr(ctx, "crd_scopes", None) or {}
    if (group, o.kind) in crds:
        return crds[(group, o.kind)]
    if not known_kind(o.kind, o.api_version):
        return None
    return "Cluster" if o.kind in NAMESPACED_KINDS_EXEMPT else "Namespaced"


@NAMESPACES.rule(
    "LG-K8S-021",
    category="k8s.default-namespace",
    severity=Severity.low,
    title="Object in the default namespace",
    message="The default namespace mixes unrelated workloads under one set of RBAC rules,"
    " quotas and network policies; a namespace per application keeps them apart.",
    remediation="Set metadata.namespace to the application's own namespace (or let kustomize /"
    " the deploy tool set it).",
    references=["CIS Kubernetes 5.7.4", "CKV_K8S_21", "kube-linter use-namespace"],
)
def default_namespace(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    if object_scope(o, ctx) != "Namespaced":
        return  # cluster-scoped, or a custom resource whose definition is not in the target
    if o.namespace is None:
        yield Hit(
            file=o.file,
            line=o.line_near("metadata"),
            resource=o.resource,
            evidence="metadata.namespace not set",
        )
    elif o.namespace == "default":
        yield Hit(
            file=o.file,
            line=o.line_near("metadata", "namespace"),
            resource=o.resource,
            evidence="metadata.namespace: default",
        )


@CREDENTIALS.rule(
    "LG-K8S-022",
    category="k8s.secrets-in-env",
    severity=Severity.medium,
    title="Secret read into environment variables",
    message="Environment variables leak: into crash dumps, child processes, `kubectl describe`"
    " and logs that print the environment. Secrets mounted as files do not.",
    remediation="Mount the Secret as a volume (readOnly) and read the value from the file.",
    references=["CIS Kubernetes 5.4.1", "CKV_K8S_35", "kube-linter read-secret-from-env-var"],
)
def secrets_in_env(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c in containers(o):
        parts: list[str] = []
        first_path: tuple[str | int, ...] | None = None
        env = c.container.get("env")
        for i, e in enumerate(env if isinstance(env, list) else []):
            ref = _dict(_dict(_dict(e).get("valueFrom")).get("secretKeyRef"))
            if ref:
                parts.append(f"env {_dict(e).get('name')} from secret {ref.get('name')}")
                first_path = first_path or ("env", i)
        env_from = c.container.get("envFrom")
        for i, e in enumerate(env_from if isinstance(env_from, list) else []):
            ref = _dict(_dict(e).get("secretRef"))
            if ref:
                parts.append(f"envFrom secret {ref.get('name')}")
                first_path = first_path or ("envFrom", i)
        if parts:
            yield _c_hit(o, c, "; ".join(parts), *(first_path or ()))


#: Group name -> its rules (every Kubernetes object is their subject).
GROUPS: dict[str, RuleSet[K8sObject]] = {
    "kubernetes.security-context": SECURITY_CONTEXT,
    "kubernetes.host-access": HOST_ACCESS,
    "kubernetes.credentials": CREDENTIALS,
    "kubernetes.images": IMAGES,
    "kubernetes.resources": RESOURCES,
    "kubernetes.probes": PROBES,
    "kubernetes.namespaces": NAMESPACES,
}


def register(registry: Registry) -> None:
    """The Kubernetes security groups: security context, host access, credentials, images,
    resources, probes and namespaces."""
    for name, rules in GROUPS.items():
        registry.rules(name, "k8s", rules)
