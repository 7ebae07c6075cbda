"""The console script keeps the collector off its start-up imports; `main()` in-process does not."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmgenie.interfaces.cli import heap
from tests.support.openai_server import ScriptedModelServer

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shop"

_OWNED = """
import gc, json
from llmgenie.interfaces.cli import heap
heap.own_process()
with heap.startup():
    during = gc.isenabled()
    import email.mime.text  # something new to import
print(json.dumps({"during": during, "after": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def _python(code: str, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.mark.slow
def test_start_up_imports_are_not_collected_and_are_frozen_after() -> None:
    import json

    seen = json.loads(_python(_OWNED).strip().splitlines()[-1])
    assert seen["during"] is False
    assert seen["after"] is True
    assert seen["frozen"] > 10_000


def test_a_process_the_console_script_does_not_own_keeps_collecting() -> None:
    """Tests and benchmarks call main() in a process that goes on."""
    before = gc.get_freeze_count()
    with heap.startup():
        assert gc.isenabled()
    assert gc.get_freeze_count() == before


_RUN = """
import sys
from contextlib import contextmanager
from llmgenie.interfaces.cli import heap
from llmgenie.interfaces.cli.main import entry

startup = heap.startup

@contextmanager
def watched():
    with startup():
        yield
    print("crewai loaded at start-up:", "crewai" in sys.modules, file=sys.stderr)

heap.startup = watched
sys.argv = ["llmgenie", *sys.argv[1:]]
entry()
"""


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_a_model_run_loads_crewai_at_start_up_not_in_the_run(llmgenie_home: Path) -> None:
    with ScriptedModelServer() as server:
        env = {
            **os.environ,
            "LLMGENIE_HOME": str(llmgenie_home),
            "LLMGENIE_LLM": "openai/scripted",
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test-0123456789abcdefghij",
        }
        args = ["run", "find secrets", "--target", str(EXAMPLE), "--agents", "security"]
        run = subprocess.run(
            [sys.executable, "-c", _RUN, *args, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    assert run.returncode in (0, 1), run.stderr[-3000:]
    assert "crewai loaded at start-up: True" in run.stderr
    assert '"mode": "llm"' in run.stdout
