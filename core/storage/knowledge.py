"""The knowledge base: passages about targets in ChromaDB, found by the words of a question.

A ChromaDB folder under `LLMGENIE_HOME/knowledge` by default; a ChromaDB server when
`LLMGENIE_KNOWLEDGE_URL` names one. ChromaDB is never asked to embed: its default embedding
function downloads a model on first use. Vectors come from `embedding.embed`, local and
deterministic, and the collection's name says which embedding filled it.

Publishing replaces what the knowledge base held about that target, kind by kind: a runbook
rewritten or a finding fixed since the last task does not linger as a stale answer.

In a folder, ChromaDB keeps each process's vector index in memory: a long-lived process (the
REST API, the MCP server) would not find what a `llmgenie run` published after it opened. Every
write stamps `generation` in the folder; a process whose stamp is out of date reopens (~10 ms).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from llmgenie.core.models import Passage, PassageKind
from llmgenie.core.redact import redact, redact_model
from llmgenie.core.settings import Settings, get_settings
from llmgenie.core.storage.embedding import EMBEDDING_NAME, embed

__all__ = ["KnowledgeBase", "KnowledgeUnavailable", "open_knowledge", "target_key"]

T = TypeVar("T")

_COLLECTION = f"llmgenie-passages-{EMBEDDING_NAME}"
_BATCH = 500
_bases: dict[str, KnowledgeBase] = {}
_lock = threading.Lock()


class KnowledgeUnavailable(RuntimeError):
    """The knowledge base could not be opened, read or written; the message is one line."""


def target_key(location: str) -> str:
    """One name per target however it was written: `./shop/`, `shop` and `/abs/shop` agree."""
    if location.startswith("s3://"):
        return location.rstrip("/")
    return str(Path(location).expanduser().resolve())


class KnowledgeBase:
    """Passages about targets; thread-safe, one per location and process (`open_knowledge`)."""

    def __init__(self, location: str, connect: Callable[[], Any], folder: Path | None) -> None:
        self.location = location
        self._connect = connect
        self._folder = folder  # a folder (not a server): other processes' writes need a reopen
        self._client: Any = None
        self._collection: Any = None
        self._opened_at: str | None = None  # the folder's generation when it was opened
        self._lock = threading.Lock()

    def publish(
        self, target: str, passages: list[Passage], kinds: Iterable[PassageKind] | None = None
    ) -> int:
        """Replace what is known about `target` with `passages`; returns how many were kept.

        Only passages of `kinds` are replaced (default: the kinds of `passages`): a task that
        wrote documents but audited nothing leaves the last audit's findings in place."""
        key = target_key(target)
        kept = [
            redact_model(p.model_copy(update={"target": key})) for p in passages if p.text.strip()
        ]
        kinds = kinds if kinds is not None else (p.kind for p in kept)
        replaced = sorted({k.value for k in kinds})

        def write(col: Any) -> int:
            held: dict[str, tuple[str, dict[str, Any]]] = {}
            if replaced:
                found = col.get(
                    where={"$and": [{"target": key}, {"kind": {"$in": replaced}}]},
                    include=["documents", "metadatas"],
                )
                held = {
                    pid: (doc, meta)
                    for pid, doc, meta in zip(
                        found["ids"], found["documents"], found["metadatas"], strict=True
                    )
                }
            gone = sorted(set(held) - {p.id for p in kept})
            if gone:
                col.delete(ids=gone)
            # a passage that reads as it did keeps its row: an unchanged target writes nothing
            changed = [p for p in kept if p.id not in held or not _same(held[p.id], p)]
            for start in range(0, len(changed), _BATCH):
                batch = changed[start : start + _BATCH]
                col.upsert(
                    ids=[p.id for p in batch],
                    documents=[p.text for p in batch],
                    embeddings=embed([f"{p.title}\n{p.text}" for p in batch]),
                    metadatas=[_metadata(p) for p in batch],
                )
            if gone or changed:
                self._stamp()
            return len(kept)

        return self._with_collection(write, "written")

    def search(
        self, question: str, k: int = 5, target: str | None = None
    ) -> list[tuple[Passage, float]]:
        """The `k` passages closest to `question` (of `target` only, when given), closest first,
        each with a score from 0 (nothing shared) to 1."""
        [vector] = embed([question])
        if not any(vector) or k < 1:
            return []
        where = {"target": target_key(target)} if target else None

        def read(col: Any) -> list[tuple[Passage, float]]:
            found = col.query(
                query_embeddings=[vector],
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
            rows = zip(
                found["ids"][0], found["documents"][0], found["metadatas"][0],
                found["distances"][0], strict=True,
            )  # fmt: skip
            return [
                (_passage(pid, text, meta), round(max(0.0, 1.0 - float(distance)), 4))
                for pid, text, meta, distance in rows
            ]

        return self._with_collection(read, "read")

    def count(self, target: str | None = None) -> int:
        """How many passages are held (about `target` only, when given)."""

        def counted(col: Any) -> int:
            if target is None:
                return int(col.count())
            return len(col.get(where={"target": target_key(target)}, include=[])["ids"])

        return self._with_collection(counted, "read")

    def warm_up(self) -> None:
        """Connect now (ChromaDB's import and open take ~0.5 s), so a publish later does not
        wait; a failure is left for that publish to report."""
        with contextlib.suppress(KnowledgeUnavailable):
            self._with_collection(lambda col: None, "opened")

    def _with_collection(self, call: Callable[[Any], T], doing: str) -> T:
        # one call at a time per knowledge base: publishes replace, and searches are quick
        with self._lock:
            try:
                if self._collection is not None and self._generation() != self._opened_at:
                    self._close()  # another process wrote since: its passages need a reopen
                if self._collection is None:
                    self._opened_at = self._generation()
                    self._client = self._connect()
                    self._collection = self._client.get_or_create_collection(
                        _COLLECTION,
                        embedding_function=None,
                        configuration={"hnsw": {"space": "cosine"}},
                    )
                return call(self._collection)
            except KnowledgeUnavailable:
                raise
            except Exception as exc:
                self._close()  # a server that comes back is reconnected next time
                reason = " ".join(str(exc).split())[:300] or type(exc).__name__
                raise KnowledgeUnavailable(
                    f"the knowledge base at {self.location} could not be {doing}: {reason}"
                ) from exc

    def _generation(self) -> str | None:
        if self._folder is None:
            return None
        try:
            return (self._folder / "generation").read_text()
        except OSError:
            return ""

    def _stamp(self) -> None:
        """Say that the folder changed; this process too reopens before its next call."""
        if self._folder is None:
            return
        stamp = self._folder / f"generation.{os.getpid()}.{threading.get_ident()}"
        stamp.write_text(f"{time.time_ns()} {os.getpid()}")
        stamp.replace(self._folder / "generation")

    def _close(self) -> None:
        client, self._client, self._collection = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


def open_knowledge(settings: Settings | None = None) -> KnowledgeBase:
    """The process's knowledge base for these settings (connected on first use)."""
    settings = settings or get_settings()
    url, folder = settings.knowledge_url, settings.home / "knowledge"
    location = url or str(folder)
    with _lock:
        base = _bases.get(location)
        if base is None:
            base = KnowledgeBase(location, lambda: _client(url, folder), None if url else folder)
            _bases[location] = base
        return base


def _client(url: str | None, folder: Path) -> Any:
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError as exc:  # a broken install: chromadb is a core dependency
        raise KnowledgeUnavailable(f"chromadb cannot be imported: {exc}") from exc
    quiet = ChromaSettings(anonymized_telemetry=False)  # no telemetry, whatever the version
    if url is None:
        folder.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(folder), settings=quiet)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise KnowledgeUnavailable(
            f"LLMGENIE_KNOWLEDGE_URL={url!r} is not a ChromaDB server URL, e.g. http://host:8000"
        )
    return chromadb.HttpClient(
        host=parsed.hostname,
        port=parsed.port or (443 if parsed.scheme == "https" else 8000),
        ssl=parsed.scheme == "https",
        settings=quiet,
    )


def _metadata(p: Passage) -> dict[str, str | int]:
    meta: dict[str, str | int] = {
        "target": p.target,
        "kind": p.kind.value,
        "source": p.source,
        "title": p.title,
    }
    if p.file is not None:
        meta["file"] = p.file
    if p.line is not None:
        meta["line"] = p.line
    if p.task_id is not None:
        meta["task_id"] = p.task_id
    return meta


def _same(held: tuple[str, dict[str, Any]], p: Passage) -> bool:
    """Whether a held row reads as `p` does (the task that taught it aside)."""
    doc, meta = held
    mine = _metadata(p)
    return doc == p.text and {k: v for k, v in meta.items() if k != "task_id"} == {
        k: v for k, v in mine.items() if k != "task_id"
    }


def _passage(pid: str, text: str, meta: dict[str, Any]) -> Passage:
    return Passage(
        id=pid,
        target=str(meta["target"]),
        kind=PassageKind(meta["kind"]),
        source=str(meta["source"]),
        title=str(meta.get("title", "")),
        text=redact(text),  # a passage stored before redaction existed does not leak either
        file=meta.get("file"),
        line=meta.get("line"),
        task_id=meta.get("task_id"),
    )
