"""The specialist's request names its prior steps; their reports come from the session or the
artifact store, never through Prefect's parameters."""

from __future__ import annotations

import pytest

from llmgenie.core.models import AgentReport, Context, Step, StepStatus
from llmgenie.flows import sessions
from llmgenie.flows.sessions import TaskSession
from llmgenie.flows.specialist import SpecialistRequest, hand_in, read_prior_reports
from tests.flows.conftest import EXAMPLE
from tests.support.reports import make_finding

pytestmark = pytest.mark.usefixtures("llmgenie_home")

TASK_ID = "t" * 32


def _prior(n_findings: int) -> AgentReport:
    return AgentReport(
        id="security",
        agent="security",
        status=StepStatus.completed,
        findings=[make_finding(i) for i in range(n_findings)],
    )


def _request() -> SpecialistRequest:
    return SpecialistRequest(
        task_id=TASK_ID,
        task="document the shop",
        target=str(EXAMPLE),
        step=Step(id="documentation", agent="documentation", depends_on=["security"]),
        prior_steps=["security"],
    )


def test_the_request_carries_ids_not_reports() -> None:
    sent = _request().model_dump(mode="json")
    assert sent["prior_steps"] == ["security"]
    assert "prior_reports" not in sent and len(_request().model_dump_json()) < 2000


def test_a_worker_reads_the_reports_handed_in_to_the_artifact_store() -> None:
    prior = _prior(2000)
    hand_in(TASK_ID, prior)  # what the security step did on its own pod
    assert read_prior_reports(_request()) == [prior]  # no session here: a worker elsewhere


def test_in_process_the_reports_come_from_the_session() -> None:
    prior = _prior(3)
    sessions.register(TASK_ID, TaskSession(EXAMPLE, _context(), reports={"security": prior}))
    try:
        assert read_prior_reports(_request()) == [prior]  # nothing stored
    finally:
        sessions.drop(TASK_ID)


def test_a_report_that_cannot_be_read_is_named() -> None:
    with pytest.raises(RuntimeError, match="the report of step security could not be read"):
        read_prior_reports(_request())  # neither in a session nor stored


def _context() -> Context:
    from llmgenie.core.context import analyze

    return analyze(str(EXAMPLE))
