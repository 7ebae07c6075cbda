"""Waiting in tests on what happens, not on the clock: every wait has a deadline and a message.

A wait that passes is as fast as the machine; one that does not fails after `timeout` seconds
saying what it waited for and what it saw last, instead of hanging or asserting too early.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["TIMEOUT", "wait_for_event", "wait_until"]

T = TypeVar("T")

#: Long enough for a loaded 2-core machine; a wait that passes never takes it.
TIMEOUT = 60.0


def wait_until(
    check: Callable[[], T],
    what: str,
    *,
    until: Callable[[T], object] = bool,
    timeout: float = TIMEOUT,
    every: float = 0.05,
) -> T:
    """Call `check` until `until(value)` holds and return that value.

    After `timeout` seconds, fail with `what` and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}; last seen: {value!r}")
        time.sleep(every)


def wait_for_event(event: threading.Event, what: str, *, timeout: float = TIMEOUT) -> None:
    """Block until `event` is set; after `timeout` seconds fail with `what`."""
    if not event.wait(timeout):
        raise AssertionError(f"waited {timeout:.0f} s for {what}")
