"""The specialist's request: prior reports too large for Prefect's parameters go aside and back."""

from __future__ import annotations

import pytest

from llmgenie.core.models import AgentReport, Context, Step, StepStatus
from llmgenie.core.settings import get_settings
from llmgenie.core.storage import open_store
from llmgenie.flows import sessions, specialist
from llmgenie.flows.sessions import TaskSession
from llmgenie.flows.specialist import SpecialistRequest, send_prior_reports_aside
from tests.flows.conftest import EXAMPLE
from tests.support.reports import make_finding

pytestmark = pytest.mark.usefixtures("llmgenie_home")


def _request(n_findings: int) -> SpecialistRequest:
    prior = AgentReport(
        id="security",
        agent="security",
        status=StepStatus.completed,
        findings=[make_finding(i) for i in range(n_findings)],
    )
    return SpecialistRequest(
        task_id="t" * 32,
        task="document the shop",
        target=str(EXAMPLE),
        step=Step(id="documentation", agent="documentation", depends_on=["security"]),
        prior_reports=[prior],
    )


def test_a_request_that_fits_is_sent_as_it_is() -> None:
    request = _request(3)
    assert send_prior_reports_aside(request, TaskSession(EXAMPLE, _context()), None) is request


def test_a_worker_reads_the_reports_sent_aside_from_the_artifact_store() -> None:
    request = _request(2000)
    assert len(request.model_dump_json()) > specialist.MAX_INLINE_REQUEST_BYTES

    sent = send_prior_reports_aside(request, None, open_store(get_settings()))
    assert sent.prior_reports == [] and sent.prior_stored == ["security"]
    assert len(sent.model_dump_json()) < 2000

    back = specialist._with_prior_reports(sent)  # no session here: a worker elsewhere
    assert back.prior_reports == request.prior_reports and back.prior_stored == []


def test_in_process_the_reports_wait_in_the_session() -> None:
    request = _request(2000)
    session = sessions.register(request.task_id, TaskSession(EXAMPLE, _context()))
    try:
        sent = send_prior_reports_aside(request, session, None)  # nothing stored
        assert specialist._with_prior_reports(sent).prior_reports == request.prior_reports
    finally:
        sessions.drop(request.task_id)
    assert sessions.get(request.task_id) is None


def test_a_report_that_cannot_be_read_back_is_named() -> None:
    sent = send_prior_reports_aside(_request(2000), None, None)  # neither kept nor stored
    with pytest.raises(RuntimeError, match="the report of step security could not be read"):
        specialist._with_prior_reports(sent)


def _context() -> Context:
    from llmgenie.core.context import analyze

    return analyze(str(EXAMPLE))
