"""The same wrong request gets the same refusal from the CLI, the REST API and the MCP server:
each asks the one task service, and shows its line as it shows a caller's mistake."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from llmgenie.core.models import AGENT_NAMES
from tests.support.api import serve_api
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "shop"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


@asynccontextmanager
async def _mcp(home: Path, env: dict[str, str]) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "llmgenie", "mcp"],
        env={**os.environ, "LLMGENIE_HOME": str(home), **env},
        cwd=str(ROOT),
    )
    with open(home.parent / "mcp-stderr.log", "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


async def test_three_wrong_requests_are_refused_alike_by_cli_api_and_mcp(
    llmgenie_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from llmgenie.core.settings import get_settings

    absent = str(tmp_path.resolve() / "absent")
    roots = f"{EXAMPLE}:{tmp_path.resolve()}"
    monkeypatch.setenv("LLMGENIE_TARGET_ROOTS", roots)
    requests = [  # (what is wrong, target, agents, LLMGENIE_LLM)
        ("unknown agent", str(EXAMPLE), ["wizard"], None),
        ("unknown provider", str(EXAMPLE), None, "nosuch/model"),
        ("missing target", absent, None, None),
    ]
    expected = {
        "unknown agent": f"agents: unknown agent 'wizard'; expected some of "
        f"{', '.join(AGENT_NAMES)}",
        "unknown provider": "LLMGENIE_LLM='nosuch/model': 'nosuch/model' names no provider",
        "missing target": f"target {absent!r} does not exist",
    }

    said: dict[str, dict[str, str]] = {what: {} for what, *_ in requests}
    with serve_api() as api:
        for what, target, agents, llm in requests:
            if llm:
                monkeypatch.setenv("LLMGENIE_LLM", llm)
            get_settings.cache_clear()
            argv = ["run", "audit", "--target", target, *(["--agents", *agents] if agents else [])]
            code, out, err = run_cli(capsys, *argv)
            assert code == 2 and out == "", err
            [line] = err.strip().splitlines()
            said[what]["cli"] = line.removeprefix("llmgenie: error: ")

            answer = api.post(
                "/v1/tasks", json={"task": "audit", "target": target, "agents": agents}
            )
            assert answer.status_code == 422, answer.text
            said[what]["api"] = answer.json()["detail"]
            monkeypatch.delenv("LLMGENIE_LLM", raising=False)
        assert api.get("/v1/tasks").json() == []  # nothing was started

    for llm in (None, "nosuch/model"):
        env = {"LLMGENIE_TARGET_ROOTS": roots, **({"LLMGENIE_LLM": llm} if llm else {})}
        async with _mcp(tmp_path / "mcp-home", env) as mcp:
            for what, target, agents, wanted in requests:
                if wanted != llm:
                    continue
                arguments = {"task": "audit", "target": target, "agents": agents}
                answer = await mcp.call_tool("run_task", arguments)
                assert answer.isError
                text = " ".join(c.text for c in answer.content)
                said[what]["mcp"] = text.removeprefix("Error executing tool run_task: ")

    for what, by_interface in said.items():
        assert set(by_interface) == {"cli", "api", "mcp"}, what
        assert len(set(by_interface.values())) == 1, (what, by_interface)
        assert by_interface["cli"].startswith(expected[what]), (what, by_interface)
