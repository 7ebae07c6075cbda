"""Run every benchmark in turn, print their tables and record them in bench/RESULTS.md.

python bench/run_all.py [orchestration scan storage llm]   # `make bench` runs them all

What each benchmark printed replaces the section between the markers in RESULTS.md, with the
date; the rest of that file (measurements behind the decision records) is left as it is.
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("orchestration", "scan", "storage", "llm")
RESULTS = HERE / "RESULTS.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def run(name: str) -> tuple[str, bool]:
    """The benchmark's output (shown as it comes) and whether it succeeded."""
    print(f"\n== bench_{name} ==", flush=True)
    proc = subprocess.Popen(
        [sys.executable, str(HERE / f"bench_{name}.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return "".join(lines), proc.wait() == 0


def record(outputs: dict[str, str]) -> None:
    """Replace the results section of RESULTS.md with `outputs`."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [BEGIN, f"Last run: {when}, {platform.machine()}, Python {platform.python_version()}."]
    for name, text in outputs.items():
        parts.append(f"\n### bench_{name}\n\n```\n{text.rstrip()}\n```")
    parts.append(END)
    page = RESULTS.read_text(encoding="utf-8")
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    RESULTS.write_text(head + "\n".join(parts) + tail, encoding="utf-8")


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHES)
    outputs: dict[str, str] = {}
    failed = 0
    for name in chosen:
        text, ok = run(name)
        outputs[name] = text
        failed += not ok
    record(outputs)
    print(f"\nrecorded in {RESULTS.relative_to(HERE.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
