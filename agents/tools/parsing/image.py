"""Container image references (`registry:5000/team/app:1.2@sha256:…`), parsed one way everywhere."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ImageRef", "parse_image_ref"]


@dataclass(frozen=True)
class ImageRef:
    """An image reference split per the Docker reference grammar.

    `repository` is the path without the registry (`team/app`); `name` is the whole reference
    without tag and digest (`registry:5000/team/app`). An empty tag (`nginx:`) or digest is None.
    """

    raw: str
    registry: str | None
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """Registry and repository: what a tag or digest pins (`registry:5000/team/app`)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def is_latest_or_untagged(self) -> bool:
        """No digest, and no tag or the tag `latest`."""
        return self.digest is None and (self.tag is None or self.tag == "latest")


def parse_image_ref(ref: str) -> ImageRef:
    """`registry:5000/team/app:1.2@sha256:…` → registry, repository, tag, digest.

    A `:` before the last `/` belongs to the registry host (a port), never to the tag; what
    follows `@` is the digest, never a tag. The first path part is a registry when it has a
    `.` or a `:` or is `localhost` (Docker's rule).
    """
    ref = ref.strip()
    rest, _, digest = ref.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    registry = None
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    return ImageRef(ref, registry, rest, tag or None, digest or None)
