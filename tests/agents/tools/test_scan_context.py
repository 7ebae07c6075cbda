"""The scan context: the cross-resource index rules consult (Services, HPAs, PDBs, accounts)."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools.parsing.kubernetes import K8sObject, iter_k8s_text
from llmgenie.agents.tools.scan_context import ScanContext

TREE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      serviceAccountName: web
      containers: [{name: app, image: nginx:1.25}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: other}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: []}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: tier, operator: In, values: [front]}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
automountServiceAccountToken: false
"""


def _ctx() -> tuple[ScanContext, list[K8sObject]]:
    ctx = ScanContext(root=Path("."))
    objs = [o for o in iter_k8s_text(TREE, "t.yaml") if isinstance(o, K8sObject)]
    for o in objs:
        ctx.index(o)
    return ctx, objs


def test_cross_resource_questions_respect_namespaces() -> None:
    ctx, objs = _ctx()
    shop, other = objs[0], objs[1]
    assert ctx.services_for(shop) == ["Service/shop/web"]
    assert ctx.services_for(other) == []
    assert ctx.has_hpa(shop) and not ctx.has_hpa(other)
    assert ctx.has_pdb(shop) and not ctx.has_pdb(other)
    assert ctx.service_account_automount("shop", "web") is False
    assert ctx.service_account_automount("other", "web") is None
    assert len(ctx.objects) == 6
    summary = ctx.objects[0]
    assert (summary.kind, summary.pod_labels, summary.service_account) == (
        "Deployment",
        {"app": "web", "tier": "front"},
        "web",
    )


def test_pdb_match_expressions_must_hold() -> None:
    ctx, objs = _ctx()
    o = objs[0]
    o.obj["spec"]["template"]["metadata"]["labels"]["tier"] = "back"
    assert not ctx.has_pdb(o)
