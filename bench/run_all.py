"""Run every benchmark in turn and print their tables (`make bench`).

python bench/run_all.py [orchestration scan storage llm]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("orchestration", "scan", "storage", "llm")


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHES)
    failed = 0
    for name in chosen:
        print(f"\n== bench_{name} ==", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / f"bench_{name}.py")]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
