"""The scripted model server and the settings that point llmgenie at it, for the model-path tests
here (issue 19, points 10-11); they are the LLM tests' own fixtures."""

from tests.agents.llm.conftest import (  # noqa: F401 - fixtures, found by pytest by name
    _log_to_the_live_stderr,
    model_server,
    use_model,
)
