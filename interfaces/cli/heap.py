"""The `llmgenie` process's heap: the collector kept off the objects a command imports.

A `llmgenie run` imports Prefect and the flows and, with a model configured, CrewAI: some
500,000 objects that live as long as the process. Python's cyclic collector walks all of them
again each time the heap has grown by a quarter: seven full collections in a model run on this
machine, up to 0.2 s each, most of them while the run is under way. Imports made inside
`startup()` run with the collector off; their objects are then frozen (moved where the collector
never looks) and later collections walk only what the run itself allocates.
(docs/decisions/0015-cli-fixed-costs.md)

Only a process the console script owns is changed (`own_process()`): tests and benchmarks that
call `main()` go on collecting as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["freeze_for_exit", "own_process", "startup"]

_owned = False


def own_process() -> None:
    """Called by the console script: this process ends when its command does."""
    global _owned
    _owned = True


@contextmanager
def startup() -> Iterator[None]:
    """Imports made here are not collected while they happen, and are frozen after."""
    if not _owned or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def freeze_for_exit() -> None:
    """Skip the collector's walk of every live object as the interpreter exits (0.6-0.75 s
    after a run here); exit handlers still run, and the memory goes back with the process."""
    gc.freeze()
