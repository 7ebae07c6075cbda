"""Zero unwanted egress: every phone-home switch of CrewAI and OpenTelemetry, set to off.

The installed versions read these at import time or on first use (checked in their code:
`crewai_core.telemetry` reads OTEL_SDK_DISABLED, CREWAI_DISABLE_TELEMETRY and
CREWAI_DISABLE_TRACKING; the trace listener reads CREWAI_TRACING_ENABLED; the CLI reads
CREWAI_DISABLE_VERSION_CHECK). They are forced, not defaulted: a model run must never send
anything to a host other than the configured model endpoint.
"""

from __future__ import annotations

import logging
import os

__all__ = ["TELEMETRY_SWITCHES", "disable_telemetry"]

TELEMETRY_SWITCHES: dict[str, str] = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "OTEL_SDK_DISABLED": "true",
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb's posthog switch, should a tool pull it in
    "HF_HUB_OFFLINE": "1",
}

#: Loggers that would print prompt sizes or raw provider errors (which may echo a key).
_QUIET_LOGGERS = ("crewai", "crewai.llms.base_llm", "openai", "anthropic", "httpx", "httpcore")


def disable_telemetry() -> None:
    """Set every switch; call before CrewAI or OpenTelemetry is imported.

    Also keeps CrewAI's files under LLMGENIE_HOME instead of `~/.local/share/<cwd name>`.
    """
    for name, value in TELEMETRY_SWITCHES.items():
        os.environ[name] = value
    if "CREWAI_STORAGE_DIR" not in os.environ:
        from llmgenie.core.settings import get_settings

        os.environ["CREWAI_STORAGE_DIR"] = str((get_settings().home / "crewai").resolve())
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    root = logging.getLogger()
    if not any(isinstance(f, _DropCrewAIRootRecords) for f in root.filters):
        root.addFilter(_DropCrewAIRootRecords())


class _DropCrewAIRootRecords(logging.Filter):
    """CrewAI logs provider errors on the root logger (`logging.error`), raw; we report them
    ourselves, classified and masked, on the step."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"{os.sep}crewai{os.sep}" not in record.pathname
