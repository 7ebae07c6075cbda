"""The knowledge base over a real ChromaDB: a folder (the embedded default), another process
writing while one reads, and a ChromaDB server started by the test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgenie.core.models import Passage, PassageKind
from llmgenie.core.settings import Settings
from llmgenie.core.storage.knowledge import (
    KnowledgeBase,
    KnowledgeUnavailable,
    open_knowledge,
    target_key,
)


def _passage(pid: str, text: str, target: str = "shop", **kw: object) -> Passage:
    return Passage(
        id=pid, target=target, kind=PassageKind.runbook, source="runbooks/api.md", text=text, **kw
    )


def _ids(hits: list[tuple[Passage, float]]) -> list[str]:
    return [p.id for p, _ in hits]


@pytest.fixture
def knowledge(tmp_path: Path) -> KnowledgeBase:
    return open_knowledge(Settings(home=tmp_path / "home"))


def test_publish_then_search_by_the_words_of_a_question(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    shop = str(tmp_path / "shop")
    count = knowledge.publish(
        shop,
        [
            _passage("rollback", "How to roll back: kubectl rollout undo deployment/api", shop,
                     title="How to roll back", file="deploy/api.yaml", line=3),
            _passage("secrets", "AWS access key in deploy/configmap.yaml", shop),
            _passage("blank", "   ", shop),
        ],
    )  # fmt: skip
    assert count == 2  # a passage with no text is not kept
    hits = knowledge.search("how do I roll back the api?", 2, shop)
    assert _ids(hits)[0] == "rollback"
    first, score = hits[0]
    assert 0 < score <= 1 and first.title == "How to roll back"
    assert (first.file, first.line, first.target) == ("deploy/api.yaml", 3, target_key(shop))
    assert knowledge.search("?!", 3) == []  # no words, nothing to look for


def test_publishing_a_target_again_replaces_what_was_known(knowledge: KnowledgeBase) -> None:
    knowledge.publish("/t/shop", [_passage("old", "the api listens on port 8080")])
    knowledge.publish("/t/other", [_passage("other", "the api of another service", "/t/other")])
    knowledge.publish("/t/shop", [_passage("new", "the api listens on port 9090")])
    assert knowledge.count("/t/shop") == 1 and knowledge.count() == 2
    assert _ids(knowledge.search("api port", 5, "/t/shop")) == ["new"]
    assert set(_ids(knowledge.search("api", 5))) == {"new", "other"}


def test_teaching_an_unchanged_target_again_writes_nothing(
    knowledge: KnowledgeBase, tmp_path: Path
) -> None:
    passages = [_passage(f"p{i}", f"runbook section {i}", task_id="t1") for i in range(3)]
    knowledge.publish("/t/shop", passages)
    stamp = tmp_path / "home" / "knowledge" / "generation"
    before = stamp.read_text()
    again = [p.model_copy(update={"task_id": "t2"}) for p in passages]
    assert knowledge.publish("/t/shop", again) == 3
    assert stamp.read_text() == before  # nothing written, nobody needs to reopen
    edited = [*again[:2], again[2].model_copy(update={"text": "runbook section 2, edited"})]
    knowledge.publish("/t/shop", edited)
    assert stamp.read_text() != before
    [(hit, _)] = knowledge.search("edited", 1, "/t/shop")
    assert (hit.id, hit.task_id) == ("p2", "t2")


def test_only_the_kinds_a_task_published_are_replaced(knowledge: KnowledgeBase) -> None:
    finding = _passage("f", "container runs privileged").model_copy(
        update={"kind": PassageKind.finding}
    )
    knowledge.publish("/t/shop", [finding, _passage("old-runbook", "old runbook")])
    # a documents-only task: its runbooks replace the old ones; the audit's finding stays
    knowledge.publish("/t/shop", [_passage("new-runbook", "new runbook")], [PassageKind.runbook])
    assert {p.id for p, _ in knowledge.search("runbook privileged", 5, "/t/shop")} == {
        "f",
        "new-runbook",
    }


def test_one_target_however_it_is_written(
    knowledge: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shop").mkdir()
    monkeypatch.chdir(tmp_path)
    knowledge.publish("./shop/", [_passage("p", "redis runbook")])
    assert knowledge.count("shop") == knowledge.count(str(tmp_path / "shop")) == 1


_READER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from llmgenie.core.settings import Settings
    from llmgenie.core.storage.knowledge import open_knowledge
    kb = open_knowledge(Settings(home=Path(sys.argv[1])))
    print([p.id for p, _ in kb.search("zebra rollback", 1)], flush=True)
    sys.stdin.readline()  # the test publishes meanwhile
    print([p.id for p, _ in kb.search("zebra rollback", 1)], flush=True)
    """
)


@pytest.mark.slow
def test_a_long_lived_reader_finds_what_another_process_published(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mine = open_knowledge(Settings(home=home))
    mine.publish("/t/a", [_passage(f"apple-{i}", f"apple pie {i}", "/t/a") for i in range(20)])
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdin is not None and reader.stdout is not None
    before = reader.stdout.readline()
    mine.publish("/t/z", [_passage("zebra", "How to rollback the zebra service", "/t/z")])
    out, _ = reader.communicate("go\n", timeout=60)
    assert "zebra" not in before
    assert out.strip() == "['zebra']"  # ChromaDB alone answers from its stale in-memory index


def test_a_wrong_server_url_or_a_dead_server_is_one_line(tmp_path: Path) -> None:
    wrong = open_knowledge(Settings(home=tmp_path, knowledge_url="chroma.internal:8000"))
    with pytest.raises(KnowledgeUnavailable, match="not a ChromaDB server URL"):
        wrong.count()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    dead = open_knowledge(Settings(home=tmp_path, knowledge_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(KnowledgeUnavailable) as caught:
        dead.publish("/t/shop", [_passage("p", "text")])
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}" in message and "\n" not in message


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("chroma run did not listen within 30 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.slow
def test_a_chromadb_server_serves_every_process_alike(chroma_server: str, tmp_path: Path) -> None:
    one = open_knowledge(Settings(home=tmp_path / "a", knowledge_url=chroma_server))
    two = KnowledgeBase(chroma_server, one._connect, None)  # as another process would
    one.publish("/t/shop", [_passage("rollback", "How to roll back the api")])
    assert _ids(two.search("roll back api", 1, "/t/shop")) == ["rollback"]
    assert one.location == chroma_server and not (tmp_path / "a" / "knowledge").exists()
