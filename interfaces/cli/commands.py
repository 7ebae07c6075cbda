"""Imports every command module so each registers itself on the app, in --help order."""

from __future__ import annotations

# isort: off
from llmgenie.interfaces.cli import run  # noqa: F401
from llmgenie.interfaces.cli import scan  # noqa: F401
from llmgenie.interfaces.cli import ask  # noqa: F401
from llmgenie.interfaces.cli import history  # noqa: F401
from llmgenie.interfaces.cli import audit  # noqa: F401
from llmgenie.interfaces.cli import artifacts  # noqa: F401
from llmgenie.interfaces.cli import db  # noqa: F401
from llmgenie.interfaces.cli import orchestration  # noqa: F401
from llmgenie.interfaces.cli import api  # noqa: F401
from llmgenie.interfaces.cli import token  # noqa: F401
from llmgenie.interfaces.cli import mcp  # noqa: F401
# isort: on
