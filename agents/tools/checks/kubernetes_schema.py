"""Kubernetes schema checks, offline: objects against the official schemas, and removed APIs.

Validation uses the JSON schemas `kubernetes-validate` ships (strict variant: unknown fields such
as a misspelt `contianers` are errors), so nothing downloads. kubernetes-validate re-reads the
large `_definitions.json` on every call; here one validator per (version, kind, apiVersion) is
built once and reused, which keeps a scan of thousands of documents fast.

Kinds the schemas do not know (custom resources) are not findings. API versions that Kubernetes
has removed are `ops.deprecated-api` findings (from a table of removals) instead of schema errors.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema
import kubernetes_validate
import referencing
from kubernetes_validate.utils import all_versions, major_minor

from llmgenie.core.models import Severity

from ..parsing.kubernetes import K8sObject
from ..registry import Registry
from ..rules import Hit, RuleSet

__all__ = [
    "DEFAULT_K8S_VERSION",
    "REMOVED_APIS",
    "RemovedApi",
    "known_kind",
    "removed_api",
    "schema_errors",
    "schema_rules",
    "schema_version",
]

#: The Kubernetes version objects are validated against unless the settings name another
#: (`settings["k8s_version"]`). The newest minor kubernetes-validate ships at the time of writing;
#: newer fields validate, and removed APIs are reported by the table below either way.
DEFAULT_K8S_VERSION = "1.37"

#: Errors reported per object; one typo can cascade, the first few say enough.
MAX_ERRORS_PER_OBJECT = 5


@dataclass(frozen=True)
class RemovedApi:
    api_version: str
    kind: str
    removed_in: str
    replacement: str


def _removed(removed_in: str, replacement: str, api_version: str, *kinds: str) -> list[RemovedApi]:
    return [RemovedApi(api_version, k, removed_in, replacement) for k in kinds]


#: API versions Kubernetes removed (https://kubernetes.io/docs/reference/using-api/deprecation-guide/).
REMOVED_APIS: dict[tuple[str, str], RemovedApi] = {
    (r.api_version, r.kind): r
    for r in [
        *_removed("1.16", "apps/v1", "extensions/v1beta1", "Deployment", "DaemonSet", "ReplicaSet"),
        *_removed("1.16", "networking.k8s.io/v1", "extensions/v1beta1", "NetworkPolicy"),
        *_removed(
            "1.16",
            "policy/v1beta1 (itself removed in 1.25)",
            "extensions/v1beta1",
            "PodSecurityPolicy",
        ),
        *_removed("1.22", "networking.k8s.io/v1", "extensions/v1beta1", "Ingress"),
        *_removed(
            "1.16",
            "apps/v1",
            "apps/v1beta1",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "ControllerRevision",
        ),
        *_removed(
            "1.16",
            "apps/v1",
            "apps/v1beta2",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "ControllerRevision",
        ),
        *_removed(
            "1.22", "networking.k8s.io/v1", "networking.k8s.io/v1beta1", "Ingress", "IngressClass"
        ),
        *_removed(
            "1.22",
            "rbac.authorization.k8s.io/v1",
            "rbac.authorization.k8s.io/v1beta1",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
        ),
        *_removed(
            "1.22",
            "admissionregistration.k8s.io/v1",
            "admissionregistration.k8s.io/v1beta1",
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ),
        *_removed(
            "1.22",
            "apiextensions.k8s.io/v1",
            "apiextensions.k8s.io/v1beta1",
            "CustomResourceDefinition",
        ),
        *_removed(
            "1.22", "apiregistration.k8s.io/v1", "apiregistration.k8s.io/v1beta1", "APIService"
        ),
        *_removed(
            "1.22",
            "certificates.k8s.io/v1",
            "certificates.k8s.io/v1beta1",
            "CertificateSigningRequest",
        ),
        *_removed("1.22", "coordination.k8s.io/v1", "coordination.k8s.io/v1beta1", "Lease"),
        *_removed("1.22", "scheduling.k8s.io/v1", "scheduling.k8s.io/v1beta1", "PriorityClass"),
        *_removed(
            "1.22",
            "storage.k8s.io/v1",
            "storage.k8s.io/v1beta1",
            "CSIDriver",
            "CSINode",
            "StorageClass",
            "VolumeAttachment",
        ),
        *_removed("1.25", "batch/v1", "batch/v1beta1", "CronJob"),
        *_removed("1.25", "discovery.k8s.io/v1", "discovery.k8s.io/v1beta1", "EndpointSlice"),
        *_removed("1.25", "events.k8s.io/v1", "events.k8s.io/v1beta1", "Event"),
        *_removed("1.25", "autoscaling/v2", "autoscaling/v2beta1", "HorizontalPodAutoscaler"),
        *_removed("1.25", "policy/v1", "policy/v1beta1", "PodDisruptionBudget"),
        *_removed(
            "1.25",
            "Pod Security Admission (no replacement object)",
            "policy/v1beta1",
            "PodSecurityPolicy",
        ),
        *_removed("1.25", "node.k8s.io/v1", "node.k8s.io/v1beta1", "RuntimeClass"),
        *_removed("1.26", "autoscaling/v2", "autoscaling/v2beta2", "HorizontalPodAutoscaler"),
        *_removed(
            "1.26",
            "flowcontrol.apiserver.k8s.io/v1beta3",
            "flowcontrol.apiserver.k8s.io/v1beta1",
            "FlowSchema",
            "PriorityLevelConfiguration",
        ),
        *_removed("1.27", "storage.k8s.io/v1", "storage.k8s.io/v1beta1", "CSIStorageCapacity"),
        *_removed(
            "1.29",
            "flowcontrol.apiserver.k8s.io/v1",
            "flowcontrol.apiserver.k8s.io/v1beta2",
            "FlowSchema",
            "PriorityLevelConfiguration",
        ),
        *_removed(
            "1.32",
            "flowcontrol.apiserver.k8s.io/v1",
            "flowcontrol.apiserver.k8s.io/v1beta3",
            "FlowSchema",
            "PriorityLevelConfiguration",
        ),
    ]
}


def removed_api(api_version: str, kind: str) -> RemovedApi | None:
    return REMOVED_APIS.get((api_version, kind))


def _minor(version: str) -> tuple[int, int]:
    major, minor = major_minor(version.lstrip("v")).split(".")[:2]
    return int(major), int(minor)


@lru_cache(maxsize=8)
def schema_version(desired: str = DEFAULT_K8S_VERSION) -> str:
    """The shipped schema version used for `desired`: the newest not newer than it."""
    shipped = sorted({major_minor(v) for v in all_versions()}, key=_minor)
    usable = [v for v in shipped if _minor(v) <= _minor(desired)]
    return usable[-1] if usable else shipped[0]


_SCHEMAS = "kubernetes-json-schema"


@lru_cache(maxsize=8)
def _definitions(schema_dir: str) -> referencing.Resource:
    return referencing.Resource.from_contents(_load(f"{schema_dir}/_definitions.json"))


def _load(rel: str) -> Any:
    ref = kubernetes_validate.__spec__.submodule_search_locations[0]  # type: ignore[index]
    with open(f"{ref}/{_SCHEMAS}/{rel}", encoding="utf-8") as f:
        return json.load(f)


def _schema_dir(version: str) -> str:
    full = next(v for v in reversed(all_versions()) if major_minor(v) == version)
    return f"v{full}-local-strict"


def _schema_file(schema_dir: str, kind: str, api_version: str) -> str:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{schema_dir}/{kind.lower()}-{group_version}.json"


@lru_cache(maxsize=1024)
def known_kind(kind: str, api_version: str, version: str = DEFAULT_K8S_VERSION) -> bool:
    """Whether `kind` in `api_version` is one Kubernetes itself serves (its offline schemas
    know it, or it is an API Kubernetes has removed), not a custom resource."""
    if removed_api(api_version, kind) is not None:
        return True
    ref = kubernetes_validate.__spec__.submodule_search_locations[0]  # type: ignore[index]
    rel = _schema_file(_schema_dir(schema_version(version)), kind, api_version)
    return os.path.isfile(f"{ref}/{_SCHEMAS}/{rel}")


@lru_cache(maxsize=512)
def _validator(version: str, kind: str, api_version: str) -> jsonschema.Validator | None:
    """The validator of one kind, or None when the schemas do not know it (a custom resource)."""
    schema_dir = _schema_dir(version)
    try:
        schema = _load(_schema_file(schema_dir, kind, api_version))
    except (FileNotFoundError, IsADirectoryError):
        return None
    registry = referencing.Registry().with_resources(
        [("", referencing.Resource.from_contents(schema))]
    )
    registry = _definitions(schema_dir) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


#: Objects of one kind validated by jsonschema alone before the compiled check takes over
#: (compiling costs about as much as validating a few hundred objects with jsonschema).
FAST_AFTER = 300
_SEEN: Counter[tuple[str, str, str]] = Counter()


def _strip(value: Any, used: set[str]) -> Any:
    """The schema with refs made local, `format`s dropped; referenced definitions collected."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("format", "$schema", "$id", "description"):
                continue
            if k == "$ref" and isinstance(v, str):
                name = v.rsplit("/", 1)[-1]
                used.add(name)
                out[k] = f"#/$defs/{name}"
            else:
                out[k] = _strip(v, used)
        return out
    if isinstance(value, list):
        return [_strip(v, used) for v in value]
    return value


@lru_cache(maxsize=512)
def _fast_validator(version: str, kind: str, api_version: str) -> Callable[[Any], Any] | None:
    """A fastjsonschema-compiled check of one kind: a quick yes for the common valid object.

    jsonschema stays the authority: only objects this check rejects are validated by it (so a
    difference between the two costs time, never a wrong answer on an invalid object's errors).
    """
    try:
        import fastjsonschema
    except ImportError:  # pragma: no cover - optional speed-up
        return None
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = _schema_dir(version)
    try:
        schema = _load(f"{schema_dir}/{kind.lower()}-{group_version}.json")
    except (FileNotFoundError, IsADirectoryError):
        return None
    defs = _load(f"{schema_dir}/_definitions.json")["$defs"]
    used: set[str] = set()
    combined = _strip(schema, used)
    local: dict[str, Any] = {}
    pending = list(used)
    while pending:
        name = pending.pop()
        if name in local or name not in defs:
            continue
        more: set[str] = set()
        local[name] = _strip(defs[name], more)
        pending.extend(more - set(local))
    combined["$defs"] = local
    try:
        return fastjsonschema.compile(combined)
    except Exception:  # a construct it cannot compile: jsonschema alone then
        return None


def schema_errors(
    obj: dict[str, Any], version: str = DEFAULT_K8S_VERSION
) -> list[jsonschema.ValidationError] | None:
    """Schema errors of one object, most useful first; None when no schema knows its kind."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    resolved = schema_version(version)
    validator = _validator(resolved, kind, api_version)
    if validator is None:
        return None
    key = (resolved, kind, api_version)
    _SEEN[key] += 1
    # Compiling costs ~0.5s a kind: worth it only once a kind is common in the target.
    fast = _fast_validator(*key) if _SEEN[key] > FAST_AFTER else None
    if fast is not None:
        try:
            fast(obj)
            return []
        except Exception:  # invalid, or a check it cannot run: ask jsonschema
            pass
    errors = sorted(validator.iter_errors(obj), key=lambda e: (len(e.path), list(e.path)))
    return errors


def _is_patch(value: Any, depth: int = 0) -> bool:
    """A strategic-merge patch (kustomize) rather than an object: it carries `$patch` & co."""
    if depth > 12:
        return False
    if isinstance(value, dict):
        return any(
            (isinstance(k, str) and k.startswith(_PATCH_DIRECTIVES)) or _is_patch(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_is_patch(v, depth + 1) for v in value)
    return False


_PATCH_DIRECTIVES = ("$patch", "$setElementOrder", "$retainKeys", "$deleteFromPrimitiveList")


def _k8s_version(ctx: Any) -> str:
    settings = getattr(ctx, "settings", None)
    if isinstance(settings, dict) and settings.get("k8s_version"):
        return str(settings["k8s_version"])
    return DEFAULT_K8S_VERSION


def _error_text(e: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in e.path) or "(object)"
    message = e.message if len(e.message) <= 200 else e.message[:197] + "..."
    return f"{where}: {message}"


schema_rules: RuleSet[K8sObject] = RuleSet(agent="devops")


@schema_rules.rule(
    "LG-OPS-001",
    category="ops.schema-invalid",
    severity=Severity.high,
    title="Object does not match the Kubernetes schema",
    message=(
        "The API server will reject this object (or silently drop a misspelt field), so what is "
        "in the repository is not what runs."
    ),
    remediation="fix the field named in the evidence; `kubectl apply --dry-run=server` confirms",
    references=["kubeconform", "kubeval", "kubernetes-validate"],
)
def _schema_invalid(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    if removed_api(o.api_version, o.kind) is not None:
        return  # reported as ops.deprecated-api; no current schema knows it
    if _is_patch(o.obj):
        return  # a kustomize patch is partial by design; the rendered output is validated
    errors = schema_errors(o.obj, _k8s_version(ctx))
    if not errors:
        return
    for e in errors[:MAX_ERRORS_PER_OBJECT]:
        path = [p for p in e.path if isinstance(p, str | int)]
        yield Hit(
            file=o.file,
            line=o.line_near(*path) if path else o.line,
            resource=o.resource,
            evidence=_error_text(e),
        )


@schema_rules.rule(
    "LG-OPS-002",
    category="ops.deprecated-api",
    severity=Severity.high,
    title="Object uses an API version Kubernetes has removed",
    message=(
        "Clusters at or after the removal version reject this apiVersion: the next apply or "
        "upgrade fails."
    ),
    remediation="move the object to the replacement API version and adjust changed fields",
    references=["kube-score apiVersion", "pluto", "kubent"],
)
def _deprecated_api(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    removed = removed_api(o.api_version, o.kind)
    if removed is None:
        return
    target = _k8s_version(ctx)
    already = _minor(removed.removed_in) <= _minor(target)
    yield Hit(
        file=o.file,
        line=o.line_of("apiVersion") or o.line,
        resource=o.resource,
        evidence=f"apiVersion: {o.api_version} (kind {o.kind}) removed in Kubernetes "
        f"{removed.removed_in}",
        message=(
            f"{o.api_version} {o.kind} was removed in Kubernetes {removed.removed_in}"
            + (f"; clusters at {target} reject it." if already else "; plan the move now.")
        ),
        severity=None if already else Severity.medium,
        remediation=f"use {removed.replacement}",
    )


def iter_schema_findings(objects: Iterable[K8sObject], ctx: Any = None) -> Iterator[Any]:
    for o in objects:
        yield from schema_rules.run(o, ctx)


def register(registry: Registry) -> None:
    """The `kubernetes.schema` group: objects the API server would reject or has removed."""
    registry.rules("kubernetes.schema", "k8s", schema_rules)
