"""Inventory of a target as structured data: workloads, Services, compose services, Dockerfiles.

What runs, from which image and tag, on which ports, with which env var *names* (never values),
volumes, replicas, probes and resources, and which Services select it. The report and the
Documentation agent read this instead of re-parsing the target.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from llmgenie.core.models import Context, FileKind

from ..parsing.dockerfile import Dockerfile, parse_dockerfile
from ..parsing.image import parse_image_ref
from ..parsing.kubernetes import (
    K8sObject,
    containers,
    pod_spec,
    pod_template_metadata,
)
from ..scanning import build_scan

__all__ = [
    "OWNER_KEYS",
    "collect_inventory",
    "image_fields",
    "inventory_of_objects",
]

#: Labels and annotations read as ownership, most specific first.
OWNER_KEYS = (
    "owner",
    "team",
    "app.kubernetes.io/owner",
    "llmgenie.io/owner",
    "contact",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
)

_LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}


def image_fields(ref: str) -> dict[str, str | None]:
    """The inventory's image columns: repository (with its registry), tag, digest."""
    image = parse_image_ref(ref)
    return {"repository": image.name, "tag": image.tag, "digest": image.digest}


def _names(items: Any, key: str = "name") -> list[str]:
    return [str(i[key]) for i in items or [] if isinstance(i, dict) and i.get(key) is not None]


def _probe(probe: Any) -> dict[str, Any] | None:
    if not isinstance(probe, dict):
        return None
    kind = next((k for k in ("httpGet", "tcpSocket", "exec", "grpc") if k in probe), "unknown")
    out: dict[str, Any] = {"type": kind}
    action = probe.get(kind)
    if kind == "httpGet" and isinstance(action, dict):
        out["path"] = action.get("path", "/")
        out["port"] = action.get("port")
    elif kind in ("tcpSocket", "grpc") and isinstance(action, dict):
        out["port"] = action.get("port")
    for k in ("initialDelaySeconds", "periodSeconds", "failureThreshold", "timeoutSeconds"):
        if k in probe:
            out[k] = probe[k]
    return out


def _volume_type(v: dict[str, Any]) -> str:
    return next((k for k in v if k != "name"), "unknown")


def _owner(labels: dict[str, Any], annotations: dict[str, Any]) -> str | None:
    for key in OWNER_KEYS:
        for source in (annotations, labels):
            if source.get(key):
                return f"{source[key]} ({key})"
    return None


def _container(c: Any) -> dict[str, Any]:
    raw = c.container
    image = str(raw.get("image") or "")
    env = raw.get("env")
    resources = raw.get("resources") if isinstance(raw.get("resources"), dict) else {}
    return {
        "name": c.name,
        "kind": c.kind,
        "image": image,
        **image_fields(image),
        "ports": [
            {k: p[k] for k in ("name", "containerPort", "protocol") if k in p}
            for p in raw.get("ports") or []
            if isinstance(p, dict)
        ],
        "env": _names(env),
        "env_from": [
            next((f"{k}:{v.get('name')}" for k, v in e.items() if isinstance(v, dict)), "?")
            for e in raw.get("envFrom") or []
            if isinstance(e, dict)
        ],
        "volume_mounts": [
            {"name": m.get("name"), "mountPath": m.get("mountPath")}
            for m in raw.get("volumeMounts") or []
            if isinstance(m, dict)
        ],
        "probes": {
            name: p
            for name, p in (
                ("liveness", _probe(raw.get("livenessProbe"))),
                ("readiness", _probe(raw.get("readinessProbe"))),
                ("startup", _probe(raw.get("startupProbe"))),
            )
            if p is not None
        },
        "resources": {
            k: dict(resources[k])
            for k in ("requests", "limits")
            if isinstance(resources.get(k), dict)
        },
    }


def _labels(md: dict[str, Any], key: str) -> dict[str, str]:
    value = md.get(key)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def inventory_of_objects(objects: Iterable[K8sObject]) -> dict[str, Any]:
    """The Kubernetes part of the inventory: workloads, Services and everything else by kind."""
    workloads: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    hpas: list[tuple[str, str, str, dict[str, Any]]] = []
    pdbs: list[tuple[str, dict[str, str]]] = []
    others: list[dict[str, Any]] = []
    for o in objects:
        md = o.metadata
        ns = o.namespace or ""
        base = {"kind": o.kind, "namespace": ns, "name": o.name, "resource": o.resource}
        base |= {"file": o.file, "line": o.line}
        spec = o.obj.get("spec") if isinstance(o.obj.get("spec"), dict) else {}
        found = pod_spec(o)
        if found is not None:
            pod, _ = found
            tmpl = pod_template_metadata(o)
            labels, annotations = _labels(md, "labels"), _labels(md, "annotations")
            pod_labels = _labels(tmpl, "labels")
            replicas = spec.get("replicas") if o.kind in _LONG_RUNNING or o.kind == "Pod" else None
            workloads.append(
                base
                | {
                    "labels": labels,
                    "pod_labels": pod_labels,
                    "owner": _owner(
                        labels | pod_labels, annotations | _labels(tmpl, "annotations")
                    ),
                    "replicas": replicas
                    if replicas is not None
                    else (1 if o.kind in {"Deployment", "StatefulSet", "ReplicaSet"} else None),
                    "replicas_set": "replicas" in spec,
                    "schedule": spec.get("schedule") if o.kind == "CronJob" else None,
                    "service_account": pod.get("serviceAccountName") or pod.get("serviceAccount"),
                    "containers": [_container(c) for c in containers(o)],
                    "volumes": [
                        {"name": v.get("name"), "type": _volume_type(v)}
                        for v in pod.get("volumes") or []
                        if isinstance(v, dict)
                    ],
                    "services": [],
                    "autoscaler": None,
                    "disruption_budget": False,
                }
            )
        elif o.kind == "Service":
            selector = {str(k): str(v) for k, v in (spec.get("selector") or {}).items()}
            services.append(
                base
                | {
                    "type": spec.get("type", "ClusterIP"),
                    "selector": selector,
                    "ports": [
                        {
                            k: p[k]
                            for k in ("name", "port", "targetPort", "protocol", "nodePort")
                            if k in p
                        }
                        for p in spec.get("ports") or []
                        if isinstance(p, dict)
                    ],
                    "selects": [],
                }
            )
        else:
            if o.kind == "HorizontalPodAutoscaler":
                ref = (
                    spec.get("scaleTargetRef")
                    if isinstance(spec.get("scaleTargetRef"), dict)
                    else {}
                )
                hpas.append(
                    (
                        o.namespace or "default",
                        str(ref.get("kind")),
                        str(ref.get("name")),
                        {k: spec.get(k) for k in ("minReplicas", "maxReplicas")}
                        | {"hpa": o.resource},
                    )
                )
            elif o.kind == "PodDisruptionBudget":
                sel = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
                ml = sel.get("matchLabels") if isinstance(sel.get("matchLabels"), dict) else {}
                pdbs.append((o.namespace or "default", {str(k): str(v) for k, v in ml.items()}))
            others.append(base)
    for w in workloads:
        wns = w["namespace"] or "default"
        for s in services:
            if (s["namespace"] or "default") == wns and _selects(s["selector"], w["pod_labels"]):
                w["services"].append(s["resource"])
                s["selects"].append(w["resource"])
        for hns, kind, name, info in hpas:
            if hns == wns and kind == w["kind"] and name == w["name"]:
                w["autoscaler"] = info
        w["disruption_budget"] = any(
            pns == wns and _selects(sel, w["pod_labels"]) for pns, sel in pdbs
        )
    return {"workloads": workloads, "services": services, "other_objects": others}


def _compose_services(root: Path, rel: str) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load((root / rel).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError, MemoryError):
        return []
    services = data.get("services") if isinstance(data, dict) else None
    out = []
    for name, svc in (services or {}).items() if isinstance(services, dict) else []:
        if not isinstance(svc, dict):
            continue
        env = svc.get("environment")
        if isinstance(env, dict):
            env_names = [str(k) for k in env]
        else:
            env_names = [str(e).split("=", 1)[0] for e in env or []]
        image = svc.get("image")
        build = svc.get("build")
        out.append(
            {
                "file": rel,
                "name": str(name),
                "image": image,
                **(image_fields(str(image)) if image else {}),
                "build": build
                if isinstance(build, str)
                else (build or {}).get("context")
                if isinstance(build, dict)
                else None,
                "ports": [str(p) if not isinstance(p, dict) else p for p in svc.get("ports") or []],
                "env": env_names,
                "volumes": [
                    v if isinstance(v, str) else v.get("source") or v.get("target")
                    for v in svc.get("volumes") or []
                    if isinstance(v, str | dict)
                ],
                "depends_on": list(svc.get("depends_on") or []),
            }
        )
    return out


def _dockerfile(root: Path, rel: str) -> dict[str, Any] | None:
    parsed = parse_dockerfile(root / rel, rel)
    if not isinstance(parsed, Dockerfile):
        return None
    stages = [{"image": st.base, "name": st.name, "line": st.line} for st in parsed.stages]
    final = parsed.final_stage
    exposed = [p for ins in final.of("EXPOSE") for p in ins.args.split()]
    users = [ins.args.strip() for ins in final.of("USER")]
    checks = [ins.args.strip() for ins in final.of("HEALTHCHECK")]
    base = final.base
    return {
        "file": rel,
        "stages": stages,
        "base_image": base,
        **(image_fields(base) if base else {}),
        "exposed_ports": exposed,
        "user": users[-1] if users else None,
        "healthcheck": bool(checks) and not checks[-1].upper().startswith("NONE"),
    }


def collect_inventory(
    root: Path, context: Context, objects: Iterable[K8sObject] | None = None
) -> dict[str, Any]:
    """The inventory of the target; `objects` defaults to the Kubernetes objects of its scan
    (rendered kustomizations and charts included), the ones the rules judged."""
    root = Path(root)
    if objects is None:
        objects = build_scan(root, context).k8s_objects()
    inv = inventory_of_objects(objects)
    inv["compose_services"] = [
        s for f in context.files_of(FileKind.compose) for s in _compose_services(root, f.path)
    ]
    inv["dockerfiles"] = [
        d for f in context.files_of(FileKind.dockerfile) if (d := _dockerfile(root, f.path))
    ]
    images: dict[str, list[str]] = {}
    for w in inv["workloads"]:
        for c in w["containers"]:
            if c["image"]:
                images.setdefault(c["image"], []).append(f"{w['resource']} ({c['name']})")
    for s in inv["compose_services"]:
        if s.get("image"):
            images.setdefault(str(s["image"]), []).append(f"compose {s['file']}:{s['name']}")
    for d in inv["dockerfiles"]:
        for stage in d["stages"]:
            images.setdefault(stage["image"], []).append(f"FROM in {d['file']}")
    inv["images"] = [
        {"image": image, **image_fields(image), "used_by": used}
        for image, used in sorted(images.items())
    ]
    inv["counts"] = {
        "workloads": len(inv["workloads"]),
        "services": len(inv["services"]),
        "compose_services": len(inv["compose_services"]),
        "dockerfiles": len(inv["dockerfiles"]),
        "images": len(inv["images"]),
    }
    return inv
