"""The knowledge base's local embedding: deterministic, unit length, ranks by shared words."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from llmgenie.core.storage.embedding import DIMENSIONS, embed


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.slow
def test_vectors_are_unit_length_and_the_same_in_every_process() -> None:
    [v] = embed(["kubectl rollout undo deployment/api"])
    assert len(v) == DIMENSIONS and math.isclose(math.fsum(x * x for x in v), 1.0)
    # Python salts str hashes per process: the embedding must not depend on them
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "from llmgenie.core.storage.embedding import embed;"
            "print(repr(embed(['kubectl rollout undo deployment/api'])[0][:64]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == repr(v[:64])


def test_shared_words_rank_closer() -> None:
    question, rollback, secrets = embed(
        [
            "how do I roll back the api",
            "How to roll back the api: kubectl rollout undo deployment/api",
            "AWS access key hard-coded in a ConfigMap",
        ]
    )
    assert _cos(question, rollback) > 0.3 > _cos(question, secrets)


def test_a_text_without_words_is_the_zero_vector() -> None:
    assert not any(embed(["  ?! the a  "])[0])
