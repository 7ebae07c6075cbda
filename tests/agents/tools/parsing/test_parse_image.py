"""Image references: one parser for Kubernetes, compose, Dockerfiles, the inventory and patches."""

from __future__ import annotations

import pytest

from llmgenie.agents.tools.parsing.image import parse_image_ref

DIGEST = "sha256:" + "a" * 64

# ref -> (registry, repository, name, tag, digest); rows moved here from the three parsers'
# tests (Dockerfile, inventory, Kubernetes) that each had their own parser before.
CASES: list[tuple[str, str | None, str, str, str | None, str | None]] = [
    # library images
    ("ubuntu", None, "ubuntu", "ubuntu", None, None),
    ("ubuntu:24.04", None, "ubuntu", "ubuntu", "24.04", None),
    ("nginx", None, "nginx", "nginx", None, None),
    ("nginx:1.25", None, "nginx", "nginx", "1.25", None),
    ("library/nginx:1.25", None, "library/nginx", "library/nginx", "1.25", None),
    # an empty tag is no tag
    ("nginx:", None, "nginx", "nginx", None, None),
    # a registry with a port: the port is never a tag
    ("registry:5000/app", "registry:5000", "app", "registry:5000/app", None, None),
    ("registry:5000/app:1.0", "registry:5000", "app", "registry:5000/app", "1.0", None),
    (
        "registry:5000/team/app:1.2",
        "registry:5000",
        "team/app",
        "registry:5000/team/app",
        "1.2",
        None,
    ),
    (
        "registry:5000/team/app:2.0",
        "registry:5000",
        "team/app",
        "registry:5000/team/app",
        "2.0",
        None,
    ),
    ("localhost/app", "localhost", "app", "localhost/app", None, None),
    # digests: what follows @ is never a tag
    ("app@sha256:abc", None, "app", "app", None, "sha256:abc"),
    (f"app@{DIGEST}", None, "app", "app", None, DIGEST),
    (f"nginx@{DIGEST}", None, "nginx", "nginx", None, DIGEST),
    ("ghcr.io/acme/app@sha256:abc", "ghcr.io", "acme/app", "ghcr.io/acme/app", None, "sha256:abc"),
    # tag and digest
    ("acme/app:1.0@sha256:abc", None, "acme/app", "acme/app", "1.0", "sha256:abc"),
    (f"ghcr.io/o/app:1.0@{DIGEST}", "ghcr.io", "o/app", "ghcr.io/o/app", "1.0", DIGEST),
    # surrounding whitespace is not part of the reference
    ("  nginx:1.25 ", None, "nginx", "nginx", "1.25", None),
]


@pytest.mark.parametrize(("ref", "registry", "repository", "name", "tag", "digest"), CASES)
def test_image_refs(
    ref: str,
    registry: str | None,
    repository: str,
    name: str,
    tag: str | None,
    digest: str | None,
) -> None:
    img = parse_image_ref(ref)
    assert (img.registry, img.repository, img.name, img.tag, img.digest) == (
        registry,
        repository,
        name,
        tag,
        digest,
    )


@pytest.mark.parametrize(
    ("ref", "latest"),
    [("nginx", True), ("nginx:latest", True), ("nginx:", True), ("nginx:1", False),
     (f"nginx@{DIGEST}", False), (f"nginx:latest@{DIGEST}", False)],
)  # fmt: skip
def test_latest_or_untagged(ref: str, latest: bool) -> None:
    assert parse_image_ref(ref).is_latest_or_untagged is latest
