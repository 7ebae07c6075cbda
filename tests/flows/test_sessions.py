"""The session registry: what BOSS registers, its steps find, until BOSS drops it."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.core.models import Context, Target, TargetKind
from llmgenie.flows import sessions
from llmgenie.flows.sessions import TaskSession


def test_a_registered_session_is_found_until_dropped(tmp_path: Path) -> None:
    target = Target(location=str(tmp_path), kind=TargetKind.folder)
    session = TaskSession(root=tmp_path, context=Context(root=str(tmp_path), target=target))
    assert sessions.get("t1") is None  # a worker elsewhere: no session here
    assert sessions.register("t1", session) is session
    try:
        assert sessions.get("t1") is session and sessions.get("t2") is None
        with pytest.raises(ValueError, match="task t1 already runs in this process"):
            sessions.register("t1", TaskSession(root=tmp_path, context=session.context))
        assert sessions.get("t1") is session
    finally:
        sessions.drop("t1")
    assert sessions.get("t1") is None
    sessions.drop("t1")  # dropping twice is harmless: BOSS drops in a finally
