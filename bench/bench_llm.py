"""Benchmark: a full `llmgenie run` on a model that answers after 1 s, against its critical path
and against a plain sequential CrewAI crew making the same model calls.

    .venv/bin/python bench/bench_llm.py [--delay 1.0] [--runs 3] [--target examples/shop]

Prints a table. The critical path is planner + slowest independent specialist + documentation,
each measured on the run itself (the step's own start-to-finish). Targets: full run ≤ 1.3× the
critical path; full run ≤ half the sequential crew. The independent specialists start while the
model plans (docs/decisions/0013-speculative-start.md), so the run can beat that critical path.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import reference_row  # noqa: E402
from tests.support.openai_server import (  # noqa: E402
    Reply,
    ScriptedModelServer,
    final_answer,
    is_planner,
    rules_like_plan,
)


def _responder(delay: float) -> Any:
    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            return Reply.text(rules_like_plan(), delay=delay)
        return Reply.text(final_answer("Bench narrative."), delay=delay)

    return respond


def _seconds(a: str, b: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def _full_run(target: str) -> tuple[float, dict[str, Any]]:
    from llmgenie.interfaces.cli.main import main

    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        try:
            main(["run", "audit the shop", "--target", target, "--format", "json"])
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise RuntimeError(f"llmgenie run exited {exc.code}") from None
    wall = time.perf_counter() - started
    report = json.loads(out.getvalue())
    modes = {s["id"]: s["mode"] for s in report["steps"]}
    if set(modes.values()) != {"llm"}:
        raise RuntimeError(f"not every step ran on the model: {modes}")
    return wall, report


def _critical_path(report: dict[str, Any], server: ScriptedModelServer, since: float) -> float:
    planner = [
        r.finished - r.started
        for r in server.chat_requests()
        if r.started >= since and is_planner(r.body)
    ]
    steps = {s["id"]: _seconds(s["started_at"], s["finished_at"]) for s in report["steps"]}
    slowest = max(steps[n] for n in ("security", "devops", "performance"))
    return sum(planner) + slowest + steps["documentation"]


def _sequential_crew(base_url: str, key: str) -> float:
    """Five CrewAI agents, one task each, Process.sequential: the same five model calls."""
    from crewai import LLM, Agent, Crew, Process, Task

    from llmgenie.agents.llm.quiet import crew_output_suppressed
    from llmgenie.agents.specs import load_specs

    specs = load_specs()
    agents, tasks = [], []
    for name in ("boss", "security", "devops", "performance", "documentation"):
        spec = specs.get(name)
        llm = LLM(model="bench", provider="openai", base_url=base_url, api_key=key, max_retries=0)
        agent = Agent(
            role=spec.role if spec else "Coordinator",
            goal=spec.goal if spec else "plan the work",
            backstory=spec.backstory if spec else "You are BOSS.",
            llm=llm,
            max_iter=2,
            verbose=False,
        )
        agents.append(agent)
        description = "You are BOSS: plan the work" if name == "boss" else f"{name} step"
        tasks.append(Task(description=description, expected_output="JSON", agent=agent))
    crew = Crew(agents=agents, tasks=tasks, process=Process.sequential, verbose=False)
    started = time.perf_counter()
    with crew_output_suppressed():
        crew.kickoff()
    return time.perf_counter() - started


def _stop_embedded_api(home: str) -> None:
    from llmgenie.core.settings import Settings
    from llmgenie.flows.runtime import stop_embedded_server

    stop_embedded_server(Settings(home=Path(home)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0, help="model answer delay, seconds")
    parser.add_argument("--runs", type=int, default=3, help="measured runs (after one warm-up)")
    parser.add_argument("--target", default=str(ROOT / "examples" / "shop"))
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="llmgenie-bench-llm-")
    key = "sk-bench-0123456789abcdefghij"
    with ScriptedModelServer(_responder(args.delay)) as server:
        os.environ.update(
            LLMGENIE_HOME=home,
            LLMGENIE_LLM="openai/bench",
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY=key,
        )
        _full_run(args.target)  # warm-up: Prefect API, CrewAI import, first-time caches
        walls, paths = [], []
        for _ in range(args.runs):
            since = time.time()
            wall, report = _full_run(args.target)
            walls.append(wall)
            paths.append(_critical_path(report, server, since))
        _sequential_crew(server.base_url, key)  # warm-up
        sequential = [_sequential_crew(server.base_url, key) for _ in range(args.runs)]
    _stop_embedded_api(home)

    wall, path, seq = (statistics.median(x) for x in (walls, paths, sequential))
    rows = [
        reference_row(),
        ("model answer delay", f"{args.delay:.2f} s", ""),
        ("full run (median)", f"{wall:.2f} s", f"runs: {', '.join(f'{w:.2f}' for w in walls)}"),
        ("critical path (median)", f"{path:.2f} s", "planner + slowest specialist + docs"),
        ("  of which model latency", f"{3 * args.delay:.2f} s", "3 dependent calls"),
        (
            "model latency floor",
            f"{2 * args.delay:.2f} s",
            "specialists start while the model plans: 2 dependent calls",
        ),
        ("sequential CrewAI crew", f"{seq:.2f} s", "5 agents, Process.sequential"),
        ("run / critical path", f"{wall / path:.2f}x", "target <= 1.30x"),
        ("run / sequential crew", f"{wall / seq:.2f}x", "target <= 0.50x (model floor 0.40x)"),
        ("run - model latency floor", f"{wall - 2 * args.delay:.2f} s", "orchestration overhead"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>9}  note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>9}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
