"""One redaction: what the secret detector finds (in the text, or earlier in the process) is
masked in text, data, models and log lines. Fake credentials are assembled at run time."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid

import structlog

from llmgenie.core.models import Finding, Severity
from llmgenie.core.redact import (
    redact,
    redact_data,
    redact_event,
    redact_model,
)
from llmgenie.core.secrets import find_secrets, mask

GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
_MASK = re.compile(r"\*\*\*\*[0-9a-f]{4}")


def test_mask_gives_no_prefix_and_tells_values_apart() -> None:
    assert _MASK.fullmatch(mask("Zq8mK2vLp0Wx"))
    assert "Zq8m" not in mask("Zq8mK2vLp0Wx")
    assert mask("Zq8mK2vLp0Wx") != mask("Zq8mK2vLp0Wy")
    assert mask("Zq8mK2vLp0Wx") == mask("Zq8mK2vLp0Wx")


def test_redact_text_masks_what_the_detector_finds() -> None:
    text = (
        "## Database\n\nLog in as `shop` with\npassword: Rd9xk2LmQp7Wz\n"
        f"and the bot uses {GITHUB}.\nurl: postgres://shop:Pg4hT8kWq2Zx@db:5432/shop\n"
    )
    out = redact(text, "README.md")
    for value in ("Rd9xk2LmQp7Wz", GITHUB, "Pg4hT8kWq2Zx"):
        assert value not in out
    assert "## Database" in out and "postgres://shop:" in out and "@db:5432/shop" in out


def test_a_secret_seen_in_a_file_is_masked_where_its_context_is_gone() -> None:
    value = "Ap" + uuid.uuid4().hex[:12]  # new to this process: nothing has seen it yet
    lines = ["        - name: SHOP_API_PASSWORD", f"          value: {value}"]
    context_line = f" ...\n           value: {value}\n           securityContext:\n"
    assert redact(context_line) == context_line  # nothing in it says "secret"
    matches = find_secrets("deploy/api.yaml", lines)  # the detector reads the file: remembered
    assert matches and value not in redact(context_line)


def test_redact_data_and_models_keep_their_shape() -> None:
    data = {"notes": [f"token {GITHUB} found"], "n": 3, "ok": True}
    out = redact_data(data)
    assert out["n"] == 3 and out["ok"] is True and GITHUB not in json.dumps(out)
    finding = Finding(
        rule_id="X",
        category="c",
        severity=Severity.low,
        title="t",
        message=f"set GITHUB_TOKEN={GITHUB}",
        agent="devops",
    )
    redacted = redact_model(finding)
    assert isinstance(redacted, Finding) and GITHUB not in redacted.model_dump_json()
    assert redacted.id == finding.id
    clean = finding.model_copy(update={"message": "m"})
    assert redact_model(clean) is clean


def test_log_lines_are_redacted() -> None:
    event = redact_event(None, "info", {"event": "loaded", "dsn": "postgres://u:Pg4hT8kWq2Zx@h/d"})
    assert "Pg4hT8kWq2Zx" not in json.dumps(event)
    from llmgenie.core.logging import configure_logging

    configure_logging()  # installs the record factory, once per process
    stream = io.StringIO()
    logger = logging.getLogger("llmgenie.tests.redact")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        logger.warning("token is %s", GITHUB)
    finally:
        logger.removeHandler(handler)
    assert "token is ****" in stream.getvalue() and GITHUB not in stream.getvalue()


def test_structlog_pipeline_redacts(capsys) -> None:  # type: ignore[no-untyped-def]
    from llmgenie.core.logging import configure_logging
    from llmgenie.core.settings import Settings

    configure_logging(Settings(log_format="json", log_level="INFO"), force=True)
    try:
        structlog.get_logger("t").warning("connecting", url=f"https://x:{GITHUB}@github.com/a")
        assert GITHUB not in capsys.readouterr().err
    finally:
        configure_logging(force=True)  # the process's own settings again, for later tests
