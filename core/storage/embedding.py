"""The knowledge base's embedding: local, deterministic, and nothing to download.

Words and word pairs are hashed into a fixed number of signed dimensions (feature hashing), each
weighted 1 + log(count), and the vector scaled to length 1, so cosine distance ranks passages by
the words they share with the question. It runs offline, in microseconds, the same on every
machine. It finds "roll back the api" in a runbook section about rolling back the api; it does
not know that "restart" and "bounce" mean the same (decision 0019).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter

__all__ = ["EMBEDDING_NAME", "embed"]

DIMENSIONS = 1024
#: Part of the collection's name: passages embedded another way go to another collection.
EMBEDDING_NAME = f"hash{DIMENSIONS}"

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    }
)


def _terms(text: str) -> Counter[str]:
    words = [w for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP]
    terms = Counter(words)
    terms.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return terms


def _slot(term: str) -> tuple[int, float]:
    digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % DIMENSIONS, (1.0 if value >> 63 else -1.0)


def embed(texts: list[str]) -> list[list[float]]:
    """One unit vector per text (all zeros for a text with no words)."""
    vectors = []
    for text in texts:
        vector = [0.0] * DIMENSIONS
        for term, count in _terms(text).items():
            index, sign = _slot(term)
            weight = 1.0 + math.log(count)
            vector[index] += sign * (weight * 0.5 if " " in term else weight)
        norm = math.sqrt(sum(v * v for v in vector))
        vectors.append([v / norm for v in vector] if norm else vector)
    return vectors
