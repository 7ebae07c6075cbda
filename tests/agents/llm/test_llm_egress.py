"""Zero unwanted egress: a task with a model configured connects only to the model endpoint and
the loopback Prefect API; tool-only runs never import CrewAI.

Each check runs in a fresh interpreter with the telemetry switches *removed* from its
environment, so it proves that llmgenie sets them itself before CrewAI is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from llmgenie.agents.llm.telemetry import TELEMETRY_SWITCHES
from tests.agents.llm.conftest import API_KEY, EXAMPLE
from tests.support.openai_server import ScriptedModelServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]

#: what the recording run prints before its verdict on CrewAI
_MARK = "egress-test-marker: "

_RECORDING_RUN = """
import json, socket, sys
log = open(sys.argv[1], "w")
_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo

def connect(self, address):
    if isinstance(address, tuple):
        log.write(json.dumps({"connect": list(address[:2])}) + "\\n"); log.flush()
    return _connect(self, address)

def getaddrinfo(host, *args, **kwargs):
    log.write(json.dumps({"resolve": str(host)}) + "\\n"); log.flush()
    return _getaddrinfo(host, *args, **kwargs)

socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
from llmgenie.interfaces.cli.main import main
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
verdict = json.dumps({"crewai_imported": "crewai" in sys.modules})
print("egress-test-marker: " + verdict, file=sys.stderr)
sys.exit(code)
"""


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_SWITCHES}
    for key in ("LLMGENIE_LLM", "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY"):
        env.pop(key, None)
    env.update(LLMGENIE_HOME=str(home), PYTHONPATH=str(ROOT), **extra)
    return env


def _run(tmp_path: Path, env: dict[str, str], *argv: str) -> tuple[int, str, str, list[dict]]:
    log = tmp_path / "connections.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", _RECORDING_RUN, str(log), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return proc.returncode, proc.stdout, proc.stderr, events


def _crewai_imported(err: str) -> bool:
    """The marker the run printed as it ended (libraries may still write while exiting)."""
    marks = [line[len(_MARK) :] for line in err.splitlines() if line.startswith(_MARK)]
    assert marks, f"the run printed no marker; stderr ends: {err[-2000:]}"
    return bool(json.loads(marks[-1])["crewai_imported"])


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.slow
def test_a_model_run_connects_only_to_the_model_endpoint_and_prefect(
    tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    env = _clean_env(
        tmp_path / "home",
        LLMGENIE_LLM="openai/scripted",
        OPENAI_BASE_URL=model_server.base_url,
        OPENAI_API_KEY=API_KEY,
    )
    code, out, err, events = _run(
        tmp_path, env, "run", "audit the shop", "--target", str(EXAMPLE), "--format", "json"
    )
    assert code == 0, err[-2000:]
    report = json.loads(out)
    modes = {s["id"]: (s["mode"], s["attempts"]) for s in report["steps"]}
    assert all(mode == "llm" for mode, _ in modes.values()), modes
    assert _crewai_imported(err)
    # ChromaDB (which has telemetry of its own) was used too: Documentation taught the base
    doc = next(s for s in report["steps"] if s["id"] == "documentation")
    assert any(n.startswith("knowledge base: ") for n in doc["notes"]), doc["notes"]

    prefect = urlsplit(os.environ["PREFECT_API_URL"])
    allowed = {("127.0.0.1", model_server.port), (prefect.hostname, prefect.port)}
    allowed |= {("localhost", prefect.port), ("::1", prefect.port)}
    connects = {tuple(e["connect"]) for e in events if "connect" in e}
    assert ("127.0.0.1", model_server.port) in connects
    assert connects <= allowed, f"unexpected connections: {connects - allowed}"
    resolved = {e["resolve"] for e in events if "resolve" in e}
    assert resolved <= {"127.0.0.1", "localhost", "::1", prefect.hostname}, resolved
    assert API_KEY not in out and API_KEY not in err


def test_scan_never_imports_crewai_nor_touches_the_network(tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "home")
    code, _, err, events = _run(tmp_path, env, "scan", str(EXAMPLE), "--format", "json")
    assert code in (0, 1), err[-2000:]
    assert not _crewai_imported(err)
    assert not [e for e in events if "connect" in e]


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.slow
def test_a_tool_only_run_never_imports_crewai(tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "home")
    code, out, err, _ = _run(
        tmp_path, env, "run", "audit the shop", "--target", str(EXAMPLE), "--format", "json"
    )
    assert code == 0, err[-2000:]
    assert all(s["mode"] == "tool-only" for s in json.loads(out)["steps"])
    assert not _crewai_imported(err)
