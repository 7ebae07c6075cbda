"""The MCP server over real stdio: `llmgenie mcp` in a child process, driven by the MCP SDK's own
client (and, for stdout hygiene, by raw JSON-RPC lines), against the session's Prefect API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[3]
SHOP = ROOT / "examples" / "shop"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


@asynccontextmanager
async def mcp_session(home: Path, *args: str) -> AsyncIterator[ClientSession]:
    env = {**os.environ, "LLMGENIE_HOME": str(home)}  # PREFECT_API_URL: the session's API
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "llmgenie", "mcp", *args], env=env, cwd=str(ROOT)
    )
    with open(home.parent / "mcp-stderr.log", "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def _text(result: Any) -> str:
    return " ".join(c.text for c in result.content if getattr(c, "text", None))


async def test_scan_explain_and_bad_input(tmp_path: Path) -> None:
    async with mcp_session(tmp_path / "home") as mcp:
        tools = {t.name: t for t in (await mcp.list_tools()).tools}
        assert set(tools) == {
            "scan",
            "run_task",
            "list_tasks",
            "get_task",
            "ask",
            "explain_rule",
        }
        assert "path" in tools["scan"].inputSchema["properties"]
        read_only = {n for n, t in tools.items() if t.annotations and t.annotations.readOnlyHint}
        assert read_only == {"scan", "list_tasks", "get_task", "ask", "explain_rule"}
        listed = json.dumps([t.model_dump(mode="json", exclude_none=True) for t in tools.values()])
        assert len(listed) < 8000  # was 18.5 KB, most of it output schemas no model needs

        compact = await mcp.call_tool("scan", {"path": str(SHOP)})
        assert not compact.isError and compact.structuredContent is None, _text(compact)
        said = _text(compact).splitlines()
        assert said[0].endswith("files") and "critical" in said[0], said  # counts, all of them
        assert said[1] == "most severe (10 of " + said[0].split()[0] + "):", said
        assert said[2].startswith("- critical LG-"), said  # one line each, worst first
        assert len(_text(compact)) < 2000

        scanned = await mcp.call_tool(
            "scan", {"path": str(SHOP), "max_findings": 3, "detail": "full"}
        )
        assert not scanned.isError, _text(scanned)
        result = scanned.structuredContent
        assert len(result["findings"]) == 3
        assert result["findings"][0]["severity"] == "critical"  # most severe first
        assert sum(result["summary"]["by_severity"].values()) > 3  # the summary counts all
        assert {f["file"] for f in result["findings"]} <= {
            str(p.relative_to(SHOP)) for p in SHOP.rglob("*") if p.is_file()
        }

        only_docker = await mcp.call_tool(
            "scan", {"path": str(SHOP / "Dockerfile"), "detail": "full"}
        )
        assert {f["category"].split(".")[0] for f in only_docker.structuredContent["findings"]} == {
            "docker"
        }

        explained = await mcp.call_tool("explain_rule", {"rule_id": "lg-k8s-001"})
        assert not explained.isError, _text(explained)
        assert explained.structuredContent["category"] == "k8s.privileged"
        assert explained.structuredContent["remediation"]

        for name, arguments, says in [
            ("scan", {"path": "/nonexistent/deploy"}, "/nonexistent/deploy"),
            ("scan", {"path": str(SHOP), "agents": ["secruity"]}, "secruity"),
            ("explain_rule", {"rule_id": "LG-NOPE-1"}, "LG-NOPE-1"),
            ("get_task", {"task_id": "deadbeef"}, "deadbeef"),
            ("run_task", {"task": "audit", "target": str(tmp_path / "absent")}, "absent"),
            # confined to the folder the server started in: tmp_path exists, and is outside
            ("scan", {"path": str(tmp_path)}, "is not under LLMGENIE_TARGET_ROOTS"),
            ("run_task", {"task": "audit", "target": str(tmp_path)}, "is not under"),
            ("ask", {"question": "how do I deploy?"}, "name the target to ask about"),
        ]:
            answer = await mcp.call_tool(name, arguments)
            assert answer.isError, f"{name} {arguments}: {_text(answer)}"
            line = _text(answer)
            assert says in line and "\n" not in line and "Traceback" not in line, line


async def test_a_task_runs_as_flows_and_is_read_back(tmp_path: Path) -> None:
    async with mcp_session(tmp_path / "home", "--role", "operator") as mcp:
        ran = await mcp.call_tool(
            "run_task",
            {"task": "audit the shop", "target": str(SHOP), "max_findings": 5, "detail": "full"},
        )
        assert not ran.isError, _text(ran)
        report = ran.structuredContent
        assert report["status"] == "completed"
        assert {s["id"] for s in report["steps"]} == {
            "devops",
            "security",
            "performance",
            "documentation",
        }
        assert {s["mode"] for s in report["steps"]} == {"tool-only"}
        assert len(report["findings"]) == 5 < report["findings_total"]
        assert any(a["name"] == "report.md" for a in report["artifacts"])

        # the run taught the knowledge base, which `ask` answers from
        asked = await mcp.call_tool(
            "ask",
            {"question": "how do I roll back the api?", "target": str(SHOP), "top": 2},
        )
        assert asked.structuredContent is None and "[1] runbooks/api.md" in _text(asked)
        asked = await mcp.call_tool(
            "ask",
            {
                "question": "how do I roll back the api?",
                "target": str(SHOP),
                "top": 2,
                "detail": "full",
            },
        )
        assert not asked.isError, _text(asked)
        first = asked.structuredContent["citations"][0]["passage"]
        assert (first["source"], first["task_id"]) == ("runbooks/api.md", report["task_id"])

        brief = await mcp.call_tool("get_task", {"task_id": report["task_id"][:10]})
        assert brief.structuredContent is None, "the structure only on request"
        said = _text(brief)
        assert said.startswith(f"task {report['task_id']} completed") and len(said) < 3000, said
        assert f"most severe (10 of {report['findings_total']}):" in said
        assert "report: " in said and "report.md" in said  # where the full report is
        read = await mcp.call_tool(
            "get_task", {"task_id": report["task_id"][:10], "detail": "full"}
        )
        assert read.structuredContent["task_id"] == report["task_id"]
        assert len(read.structuredContent["findings"]) == 10
        assert read.structuredContent["findings_total"] == report["findings_total"]

        listed = await mcp.call_tool("list_tasks", {"limit": 5, "detail": "full"})
        lines = listed.structuredContent["result"]
        assert [t["task_id"] for t in lines] == [report["task_id"]]
        assert lines[0]["status"] == "completed"

    # a whole session, a task run included, says nothing on stderr below a warning (it said
    # 226 lines of HTTP request logs before)
    stderr = (tmp_path / "mcp-stderr.log").read_text()
    assert not [
        line
        for line in stderr.splitlines()
        if any(m in line for m in ("INFO", "DEBUG", "HTTP Request", "Processing request"))
    ], stderr[:2000]
    assert len(stderr.splitlines()) < 10, stderr[:2000]


_NOISY_SERVER = textwrap.dedent(
    """
    import os, subprocess, sys
    from llmgenie.interfaces.mcp.server import build_server, serve_stdio

    server = build_server()

    @server.tool()
    def noisy() -> str:
        print("a library's print")
        os.write(1, b"a raw write to fd 1\\n")
        subprocess.run(["echo", "a subprocess's stdout"], check=True)
        return "still clean"

    serve_stdio(server)
    """
)


def test_stdout_carries_protocol_messages_only(tmp_path: Path) -> None:
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "noisy"}},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {
                "name": "scan",
                "arguments": {"path": str(SHOP), "max_findings": 1, "detail": "full"},
            },
        },
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", _NOISY_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LLMGENIE_HOME": str(tmp_path / "home")},
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
    proc.stdin.flush()
    lines: list[str] = []
    answers: dict[int, dict[str, Any]] = {}
    try:
        while not {2, 3} <= set(answers):  # stdin stays open: EOF would end the session
            line = proc.stdout.readline()
            assert line, f"the server ended early: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line)
            message = json.loads(line)  # every line is a protocol message
            assert message.get("jsonrpc") == "2.0", line
            if "id" in message:
                answers[message["id"]] = message
    finally:
        stdout_rest, stderr = proc.communicate(timeout=60)  # closes stdin: the session ends
    assert not stdout_rest.strip(), stdout_rest
    assert answers[1]["result"]["serverInfo"]["name"] == "llmgenie"
    assert answers[1]["result"]["serverInfo"]["version"] == version("llmgenie")
    assert answers[2]["result"]["content"][0]["text"] == "still clean"
    assert answers[3]["result"]["structuredContent"]["findings"]
    for noise in ("a library's print", "a raw write to fd 1", "a subprocess's stdout"):
        assert noise in stderr


def test_a_wrong_role_is_exit_2_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llmgenie", "mcp", "--role", "king"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "LLMGENIE_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "llmgenie: error: role: 'king' is not one of viewer, operator, maintainer, admin"
    ]
    assert done.stdout == ""
