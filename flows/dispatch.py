"""How BOSS runs one step: an in-process subflow (default) or a flow run of a deployment.

Either way the step is a child flow run of BOSS in the Prefect UI, and a failure of any kind
comes back as a `failed` AgentReport that names the step and the reason — never an exception
that would lose the other steps' results. A step run on a work pool (another pod) leaves its
report in the artifact store, where BOSS reads it by task and step id: nothing crosses pods
through Prefect's parameters or a result file on a local disk.
"""

from __future__ import annotations

import functools
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import State

from llmgenie.core.models import AgentReport, StepStatus, utcnow
from llmgenie.core.settings import Settings
from llmgenie.core.storage import open_store
from llmgenie.core.storage.artifacts import STEP_REPORT_FILE
from llmgenie.flows.specialist import SpecialistRequest, specialist_flow
from llmgenie.flows.threads import run_blocking

__all__ = ["SPECIALIST_ENTRYPOINT", "dispatch_step"]

#: The entrypoint a deployment of the specialist uses (module form: works from any folder).
SPECIALIST_ENTRYPOINT = "llmgenie.flows.specialist:specialist_flow"


async def dispatch_step(request: SpecialistRequest, settings: Settings) -> AgentReport:
    try:
        if settings.dispatch == "deployment":
            return await _run_on_work_pool(request, settings)
        subflow = _configured_subflow(
            settings.step_timeout_seconds,
            settings.step_retries,
            settings.step_retry_base_delay_seconds,
        )
        state = await subflow(request, return_state=True)
    except Exception as exc:  # the child run could not be created: the API refused or is gone
        return _failed(request, None, f"the step could not start: {_api_reason(exc)}")
    return await _report_from_state(request, state)


def _api_reason(exc: Exception) -> str:
    """What the Prefect API said, not the request it echoes back (it can be megabytes)."""
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(exc, PrefectHTTPStatusError):
        try:
            detail = exc.response.json().get("exception_detail") or []
            said = "; ".join(str(d.get("msg", "")) for d in detail if isinstance(d, dict))
        except Exception:  # not the JSON the API answers with
            said = ""
        return f"the Prefect API answered {exc.response.status_code}: {said or exc.response.text}"
    return f"{type(exc).__name__}: {exc}"


@functools.lru_cache(maxsize=8)
def _configured_subflow(timeout: float, retries: int, retry_delay: float) -> Flow[..., Any]:
    """One configured copy per setting: each `with_options` copy rebuilds the parameter schema,
    ~10 ms of pydantic work, on every call otherwise."""
    return specialist_flow.with_options(
        # in process the report comes back in memory; persisting it is for work-pool runs
        persist_result=False,
        # in process the request is already a validated SpecialistRequest; Prefect's check
        # builds a pydantic model of the signature on every call (~5 ms). Workers still check.
        validate_parameters=False,
        timeout_seconds=timeout,
        retries=retries,
        retry_delay_seconds=retry_delay,
    )


async def _run_on_work_pool(request: SpecialistRequest, settings: Settings) -> AgentReport:
    from prefect.client.orchestration import get_client
    from prefect.deployments import arun_deployment
    from prefect.states import Cancelled

    flow_run = await arun_deployment(
        settings.specialist_deployment,
        parameters={"request": request.model_dump(mode="json")},
        as_subflow=True,
        timeout=settings.step_timeout_seconds * (1 + settings.step_retries) + 60,
        poll_interval=0.5,
        flow_run_name=f"{request.step.agent}: {request.step.id} · task {request.task_id[:8]}",
    )
    state = flow_run.state
    if state is None or not state.is_final():
        async with get_client() as client:  # BOSS never finishes while a child still runs
            await client.set_flow_run_state(
                flow_run.id, Cancelled(message="step timed out"), force=True
            )
        return _failed(
            request, str(flow_run.id), "the step did not finish in time on the work pool"
        )
    return await _report_from_state(request, state, str(flow_run.id), handed_in=settings)


def _handed_in(request: SpecialistRequest, settings: Settings) -> AgentReport:
    """The report a specialist on a work pool left in the artifact store (`hand_in`)."""
    data = open_store(settings).read_artifact(request.task_id, request.step.id, STEP_REPORT_FILE)
    return AgentReport.model_validate_json(data)


async def _report_from_state(
    request: SpecialistRequest,
    state: State,
    flow_run_id: str | None = None,
    handed_in: Settings | None = None,
) -> AgentReport:
    """The step's report from its final state: its result in process; given `handed_in` (the
    run was on a work pool), the report the step left in the artifact store."""
    flow_run_id = flow_run_id or (
        str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    )
    if state.is_completed():
        try:
            if handed_in is not None:
                result = await run_blocking(_handed_in, request, handed_in)
            else:
                result = await state.aresult()
        except Exception as exc:  # the result could not be read back
            return _failed(request, flow_run_id, f"result unreadable: {exc}")
        report = result if isinstance(result, AgentReport) else AgentReport.model_validate(result)
        return report.model_copy(update={"flow_run_id": report.flow_run_id or flow_run_id})
    reason = state.message or state.name
    if state.name == "TimedOut" or "timed out" in (reason or "").lower():
        reason = f"timed out: {reason}"
    return _failed(request, flow_run_id, reason)


def _failed(request: SpecialistRequest, flow_run_id: str | None, reason: str) -> AgentReport:
    return AgentReport(
        id=request.step.id,
        agent=request.step.agent,
        status=StepStatus.failed,
        flow_run_id=flow_run_id,
        error=" ".join(reason.split())[:500],
        finished_at=utcnow(),
    )
