"""Imports every command module so each registers itself on the app."""

from __future__ import annotations

from llmgenie.cli import run  # noqa: F401  (first: the main job heads --help)
from llmgenie.cli import orchestration  # noqa: F401
from llmgenie.cli import artifacts, audit, db, history  # noqa: F401
from llmgenie.cli import scan  # noqa: F401
