"""Keep CrewAI's console output off the process's stdout, which carries `--format json`.

CrewAI prints warnings (event pairing, shutdown) with rich straight to stdout, whatever its
`verbose` flag says. While a model runs, stdout is a router: writes from threads running a crew,
and from CrewAI's own event threads, are dropped; every other write goes where it went before.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["crew_output_suppressed"]

_CREWAI_THREAD_PREFIXES = ("CrewAISyncHandler", "CrewAIEventsLoop")
_quiet_threads: set[int] = set()
_lock = threading.Lock()


class _RoutedStdout:
    def __init__(self, target: TextIO) -> None:
        self._target = target

    def _quiet(self) -> bool:
        thread = threading.current_thread()
        return thread.ident in _quiet_threads or thread.name.startswith(_CREWAI_THREAD_PREFIXES)

    def write(self, text: str) -> int:
        if self._quiet():
            return len(text)
        return self._target.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self._quiet():
            self._target.flush()

    def isatty(self) -> bool:
        return False if self._quiet() else self._target.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _install() -> None:
    with _lock:
        if not isinstance(sys.stdout, _RoutedStdout):
            sys.stdout = _RoutedStdout(sys.stdout)


def _silence_event_pairing_warnings() -> None:
    try:
        from crewai.events import event_context as ec

        ec._event_context_config.set(
            ec.EventContextConfig(
                mismatch_behavior=ec.MismatchBehavior.SILENT,
                empty_pop_behavior=ec.MismatchBehavior.SILENT,
            )
        )
    except (ImportError, AttributeError):
        pass


@contextmanager
def crew_output_suppressed() -> Iterator[None]:
    """Within this block, the current thread's (and CrewAI's threads') stdout writes vanish."""
    _install()
    _silence_event_pairing_warnings()
    ident = threading.get_ident()
    with _lock:
        _quiet_threads.add(ident)
    try:
        yield
    finally:
        with _lock:
            _quiet_threads.discard(ident)
