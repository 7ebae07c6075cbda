"""A scripted model server on loopback speaking the OpenAI chat-completions protocol
(`/v1/chat/completions`) and the Anthropic messages protocol (`/v1/messages`).

llmgenie talks to it through the real CrewAI and the real `openai` client over real HTTP. A
`responder(request) -> Reply` decides each answer: text, tool calls, a delay, an HTTP error, a
malformed body or a connection that never answers. Every request is recorded with the time it
arrived and the time its answer was sent, so tests can assert that calls overlapped.

`single_slot=True` makes it behave like a local server on a CPU (llama.cpp's `llama-server`,
llama-cpp-python): one generation at a time, the others queued behind it, and a generation goes
on to its end after the client gave up on it.

A reply can be held back (`Reply(hold=...)`) until something has happened, most often until
other requests have arrived (`server.wait_for(3, ...)`): "hold the planner's answer until three
step requests are in" proves overlap on any machine, where a delay only makes it likely. A hold
that never passes fails the test when the server stops, saying what it waited for.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Recorded",
    "Reply",
    "ScriptedModelServer",
    "final_answer",
    "is_planner",
    "last_user_text",
    "rules_like_plan",
    "step_of",
]


@dataclass
class Reply:
    """One scripted answer. `status` ≠ 200 sends an OpenAI-style error body."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    delay: float = 0.0
    status: int = 200
    malformed: bool = False
    hang: bool = False
    message: str | None = None
    prompt_tokens: int = 100
    completion_tokens: int = 20
    #: False: the answer carries no `usage` (some local servers send none)
    usage: bool = True
    #: the Retry-After header of a 429; None sends none (as many servers do)
    retry_after: str | None = "0"
    #: called before the answer is sent, in the request's thread: blocks until it returns
    hold: Callable[[], object] | None = None

    @classmethod
    def text(cls, content: str, **kw: Any) -> Reply:
        return cls(content=content, **kw)

    @classmethod
    def tool(cls, name: str, args: dict[str, Any], **kw: Any) -> Reply:
        return cls(tool_calls=[(name, args)], **kw)

    @classmethod
    def error(cls, status: int, **kw: Any) -> Reply:
        return cls(status=status, **kw)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    started: float
    finished: float = 0.0
    status: int = 0

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.body.get("tools") or []]


Responder = Callable[[dict[str, Any]], Reply]


def last_user_text(body: dict[str, Any]) -> str:
    """The text of every message of the request, joined (what the model was shown)."""
    parts = []
    for m in body.get("messages", []):
        c = m.get("content")
        if isinstance(c, list):
            c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        parts.append(str(c or ""))
    return "\n".join(parts)


def final_answer(summary: str = "The model's narrative.", findings: list | None = None) -> str:
    return json.dumps({"summary": summary, "findings": findings or []})


def is_planner(body: dict[str, Any]) -> bool:
    """Whether a request is BOSS's planner call (not a specialist's)."""
    return "You are BOSS" in json.dumps(body.get("messages", []))


_STEP_ROLES = {
    "security": "Security and compliance",
    "devops": "DevOps",
    "performance": "erformance",
    "documentation": "ocumentation",
}


def step_of(body: dict[str, Any]) -> str | None:
    """Which specialist's step a request is for (by the role in its prompt); None for others."""
    head = json.dumps(body.get("messages", [])).split("Task from the user")[0]
    if is_planner(body):
        return None
    return next((name for name, role in _STEP_ROLES.items() if role in head), None)


def rules_like_plan() -> str:
    """A plan answer with every specialist, documentation after the other three."""
    return json.dumps(
        {
            "steps": [
                {"id": "security", "agent": "security"},
                {"id": "devops", "agent": "devops"},
                {"id": "performance", "agent": "performance"},
                {
                    "id": "documentation",
                    "agent": "documentation",
                    "depends_on": ["security", "devops", "performance"],
                },
            ],
            "notes": ["every specialist, documentation last"],
        }
    )


class ScriptedModelServer:
    """`with ScriptedModelServer(responder) as server:` — `server.base_url` ends in /v1."""

    def __init__(self, responder: Responder | None = None, *, single_slot: bool = False) -> None:
        self.responder: Responder = responder or (lambda body: Reply.text(final_answer()))
        self.requests: list[Recorded] = []
        #: holds that never passed, raised when the server stops
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a request arrived or was answered
        self._release = threading.Event()
        #: held for a whole generation when the server has a single slot
        self._slot = threading.Lock() if single_slot else None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self) -> None:
                started = time.time()
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                rec = Recorded(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, started
                )
                with outer._changed:
                    outer.requests.append(rec)
                    outer._changed.notify_all()
                if self.path.endswith("/messages/count_tokens"):  # Anthropic's pre-flight
                    rec.status = 200
                    self._send(200, {"input_tokens": len(json.dumps(body)) // 4})
                    outer._finish(rec)
                    return
                if outer._slot is not None:
                    with outer._slot:  # queued behind the generation under way
                        reply = outer.responder(body)
                        if reply.delay:  # generates to the end, whoever is still listening
                            outer._release.wait(reply.delay)
                else:
                    reply = outer.responder(body)
                    if reply.delay:
                        time.sleep(reply.delay)
                if reply.hold is not None:
                    try:
                        reply.hold()
                    except Exception as exc:  # the test fails at stop(), saying why
                        with outer._lock:
                            outer.failures.append(f"a held reply was never released: {exc}")
                        reply = Reply.error(500, message=f"scripted hold failed: {exc}")
                if reply.hang:
                    outer._release.wait(600)
                    self.close_connection = True
                    return
                rec.status = reply.status
                self.retry_after = reply.retry_after
                if reply.status != 200:
                    self._send(
                        reply.status,
                        {
                            "error": {
                                "message": reply.message or f"scripted {reply.status}",
                                "type": "invalid_request_error"
                                if reply.status < 500
                                else "server_error",
                            }
                        },
                    )
                elif reply.malformed:
                    self._send_raw(200, b'{"id": "x", "choices": [ {"mess')
                elif self.path.endswith("/messages"):
                    self._send(200, outer._anthropic_message(body, reply))
                else:
                    self._send(200, outer._completion(body, reply))
                outer._finish(rec)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self._send_raw(status, json.dumps(payload).encode())

            def _send_raw(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    retry_after = getattr(self, "retry_after", "0")
                    if status == 429 and retry_after is not None:
                        self.send_header("retry-after", retry_after)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up on this answer
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @staticmethod
    def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if reply.tool_calls:
            finish = "tool_calls"
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
                for name, args in reply.tool_calls
            ]
        completion: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if reply.usage:
            completion["usage"] = {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            }
        return completion

    @staticmethod
    def _anthropic_message(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.content:
            content.append({"type": "text", "text": reply.content})
        for name, args in reply.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:12]}",
                    "name": name,
                    "input": args,
                }
            )
        return {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "scripted"),
            "content": content,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.prompt_tokens,
                "output_tokens": reply.completion_tokens,
            },
        }

    @property
    def root_url(self) -> str:
        """The base URL for Anthropic's client (it adds /v1/messages itself)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chat_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if _is_chat(r)]

    def _finish(self, rec: Recorded) -> None:
        with self._changed:
            rec.finished = time.time()
            self._changed.notify_all()

    def wait_for(
        self,
        count: int,
        match: Callable[[Recorded], bool] = lambda r: True,
        what: str = "requests",
        *,
        answered: bool = False,
        timeout: float = 60.0,
    ) -> list[Recorded]:
        """Block until `count` chat requests that `match` have arrived (with `answered`: have
        been answered); return them. After `timeout` seconds, fail saying what was seen."""

        def matching() -> list[Recorded]:
            chats = [r for r in self.requests if _is_chat(r)]
            return [r for r in chats if match(r) and (r.finished or not answered)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                seen = [(r.path, step_of(r.body) or "planner?") for r in self.requests]
                raise AssertionError(
                    f"waited {timeout:.0f} s for {count} {what}"
                    f"{' answered' if answered else ''}; {len(matching())} so far, of {seen}"
                )
            return matching()

    def start(self) -> ScriptedModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.failures and exc[0] is None:
            raise AssertionError("; ".join(self.failures))


def _is_chat(r: Recorded) -> bool:
    return r.path.endswith("/chat/completions") or r.path.endswith("/messages")
