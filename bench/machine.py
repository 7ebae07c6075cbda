"""How fast this machine runs Python today, printed beside every benchmark's table.

Machines of the same kind have measured the same benchmark up to twice apart on different days
(per-subflow overhead on the embedded API: 131 ms on 2026-11-23, 184-274 ms on 2026-11-24, same
code): orchestration is mostly interpreter time on two cores. Without a reference beside the
table, a slower machine reads as a regression.
"""

from __future__ import annotations

import time

__all__ = ["reference_row", "reference_seconds"]

_ITERATIONS = 5_000_000


def reference_seconds(repeats: int = 3) -> float:
    """Best of `repeats` runs of a fixed pure-Python loop (5 M additions)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for i in range(_ITERATIONS):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def reference_row() -> tuple[str, str, str]:
    """(measure, value, note) for a benchmark table."""
    return (
        "machine: pure-Python reference",
        f"{reference_seconds():.2f} s",
        "5 M additions, best of 3; lower is a faster machine",
    )
