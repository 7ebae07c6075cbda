"""Imports every command module so each registers itself on the app, in --help order."""

from __future__ import annotations

# isort: off
from llmgenie.cli import run  # noqa: F401
from llmgenie.cli import scan  # noqa: F401
from llmgenie.cli import ask  # noqa: F401
from llmgenie.cli import history  # noqa: F401
from llmgenie.cli import audit  # noqa: F401
from llmgenie.cli import artifacts  # noqa: F401
from llmgenie.cli import db  # noqa: F401
from llmgenie.cli import orchestration  # noqa: F401
from llmgenie.cli import api  # noqa: F401
from llmgenie.cli import mcp  # noqa: F401
# isort: on
