"""The console entry: the command runs, then the interpreter's exit skips the collector's walk."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from llmgenie.interfaces.cli.main import main

_ENTRY = """
import atexit, gc, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
sys.argv = ["llmgenie", "--help"]
from llmgenie.interfaces.cli.main import entry
entry()
"""


@pytest.mark.slow
def test_the_command_freezes_the_heap_before_the_interpreter_exits() -> None:
    run = subprocess.run([sys.executable, "-c", _ENTRY], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Usage" in run.stdout  # the command itself ran
    assert run.stdout.strip().endswith("frozen at exit: True")


def test_main_in_process_leaves_the_collector_alone() -> None:
    """Tests and benchmarks call main() in a process that goes on collecting."""
    before = gc.get_freeze_count()
    with pytest.raises(SystemExit):
        main(["--help"])
    assert gc.get_freeze_count() == before
