"""User-facing errors: one line on stderr and exit 2, never a traceback (CONTRACTS.md)."""

from __future__ import annotations

__all__ = ["EXIT_FINDINGS", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UserError"]

EXIT_OK = 0
EXIT_FINDINGS = 1  # findings at or above --fail-on, or the task failed
EXIT_USAGE = 2  # the user's input was wrong
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class UserError(Exception):
    """The caller's input was wrong; the message names the input and what was expected."""
