"""Blocking work (toolsets, model calls, file walks) off the event loop, without a low cap.

`asyncio.to_thread` uses the loop's default executor: min(32, cores + 4) threads, so six on
this two-core machine. Eight concurrent steps whose toolsets or model calls block would queue
behind each other there. Steps are mostly waiting (on models, on I/O), so they get a pool of
their own sized for concurrency, not for cores.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["MAX_BLOCKING_THREADS", "run_blocking"]

P = ParamSpec("P")
R = TypeVar("R")

MAX_BLOCKING_THREADS = 64
_POOL = ThreadPoolExecutor(max_workers=MAX_BLOCKING_THREADS, thread_name_prefix="llmgenie")


async def run_blocking(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Like `asyncio.to_thread` (context variables included), on llmgenie's own pool."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_POOL, call)
