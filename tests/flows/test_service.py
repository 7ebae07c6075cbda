"""The task service's checks: agents, role, providers, list limits and confined targets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmgenie.core.models import AGENT_NAMES, Role
from llmgenie.core.settings import Settings, SettingsError, get_settings
from llmgenie.flows.service import (
    Refused,
    TargetRoots,
    TaskService,
    check_agents,
    check_limit,
    check_providers,
    check_role,
    check_target,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"


def test_agents_are_deduplicated_in_order_and_none_means_every_agent() -> None:
    assert check_agents(["security", " Security", "devops", "security"]) == ["security", "devops"]
    assert check_agents(["security"] * 100_000) == ["security"]
    assert check_agents(None) is None and check_agents([]) is None


def test_an_unknown_agent_is_named_once_with_the_known_ones() -> None:
    with pytest.raises(Refused) as refused:
        check_agents(["security", "wizard", *(f"x{i}" for i in range(1000))])
    message = str(refused.value)
    assert message == (
        f"agents: unknown agent 'wizard' (and 1000 more); expected some of {', '.join(AGENT_NAMES)}"
    )


def test_a_long_unknown_agent_is_not_repeated_whole() -> None:
    with pytest.raises(Refused) as refused:
        check_agents(["w" * 10_000])
    assert len(str(refused.value)) < 200


def test_role() -> None:
    assert check_role(" Admin ") is Role.admin and check_role(Role.viewer) is Role.viewer
    with pytest.raises(Refused, match=r"^role: 'king' is not one of viewer, operator"):
        check_role("king")


def test_an_unknown_provider_in_the_model_chain_is_refused() -> None:
    check_providers(Settings(llm="none"))
    check_providers(Settings(llm=None))
    with pytest.raises(Refused, match=r"^LLMGENIE_LLM='nosuch/model': 'nosuch/model' names no"):
        check_providers(Settings(llm="nosuch/model"))


@pytest.mark.parametrize("limit", [0, -1, 501, 9223372036854775808])
def test_a_list_limit_outside_1_to_500_is_refused(limit: int) -> None:
    with pytest.raises(Refused, match=f"^limit: {limit} is not between 1 and 500$"):
        check_limit(limit)


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("", "target: empty"),
        ("  ", "target: empty"),
        ("a\x00b", "target: contains a NUL character"),
        ("/" + "a" * 4096, "target: longer than 4096 characters"),
        ("/tmp/" + "a" * 300, "target: a name in the path is longer than 255 characters"),
        ("/nonexistent/deploy", "target '/nonexistent/deploy' does not exist"),
    ],
)
def test_bad_targets_are_refused_in_one_line(target: str, says: str) -> None:
    with pytest.raises(Refused) as refused:
        check_target(target, None)
    assert str(refused.value).startswith(says) and "\n" not in str(refused.value)


def test_a_long_missing_target_is_named_but_not_repeated_whole(tmp_path: Path) -> None:
    long = str(tmp_path / "/".join(["d" * 200] * 15))
    with pytest.raises(Refused, match=r"does not exist$") as refused:
        check_target(long, None)
    assert long not in str(refused.value) and len(str(refused.value)) < 200


def test_unconfined_any_existing_target_is_used_as_given() -> None:
    assert check_target(str(EXAMPLE), None) == str(EXAMPLE)


def _roots(*roots: str | Path) -> TargetRoots:
    return TargetRoots.of(Settings(target_roots=":".join(map(str, roots))))


def test_the_setting_splits_on_colons_but_keeps_s3_urls_whole() -> None:
    settings = Settings(target_roots="/srv/a::s3://bucket/team:relative:s3://other")
    assert settings.target_root_list == ["/srv/a", "s3://bucket/team", "relative", "s3://other"]
    with pytest.raises(ValueError, match="https:// is not allowed"):
        Settings(target_roots="/srv:https://example.com/x")


def test_a_bad_roots_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMGENIE_TARGET_ROOTS", "http://x")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match=r"^LLMGENIE_TARGET_ROOTS='http://x'"):
            get_settings()
    finally:
        monkeypatch.delenv("LLMGENIE_TARGET_ROOTS")
        get_settings.cache_clear()


def test_with_no_roots_every_target_is_refused_and_the_setting_named() -> None:
    with pytest.raises(Refused, match="until LLMGENIE_TARGET_ROOTS names the folders"):
        check_target(str(EXAMPLE), TargetRoots(()))


def test_within_the_roots_the_resolved_path_is_used(tmp_path: Path) -> None:
    (tmp_path / "allowed" / "app").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "allowed" / "app")
    roots = _roots(tmp_path / "allowed")
    inside = tmp_path / "allowed" / "x" / ".." / "app"
    assert check_target(str(inside), roots) == str((tmp_path / "allowed" / "app").resolve())
    # the link lies outside the roots, where it points does not: the target is the folder
    assert check_target(str(tmp_path / "link"), roots) == str(tmp_path / "allowed" / "app")


def test_outside_the_roots_the_same_refusal_whether_the_path_exists_or_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "allowed").mkdir()
    (tmp_path / "secret").mkdir()
    (tmp_path / "allowed" / "escape").symlink_to(tmp_path / "secret")
    (tmp_path / "allowed" / "dangling").symlink_to(tmp_path / "nothing")
    (tmp_path / "allowed" / "loop").symlink_to(tmp_path / "allowed" / "loop")
    roots = _roots(tmp_path / "allowed")
    said = set()
    for target, shown in [
        (tmp_path / "secret", "secret"),
        (tmp_path / "absent", "absent"),
        (tmp_path / "allowed" / ".." / "secret", "secret"),
        (tmp_path / "allowed" / "escape", "escape"),
        (tmp_path / "allowed" / "dangling", "dangling"),
        (tmp_path / "allowed2", "allowed2"),  # a name that starts like a root is not under it
    ]:
        with pytest.raises(Refused) as refused:
            check_target(str(target), roots)
        said.add(str(refused.value).replace(str(target), "…"))
        assert shown in str(refused.value)
    assert said == {"target '…' is not under LLMGENIE_TARGET_ROOTS"}


def test_s3_prefixes_admit_what_is_under_them_only() -> None:
    roots = _roots("s3://bucket/team/", "/srv")
    assert roots.admit("s3://bucket/team") == "s3://bucket/team"
    assert roots.admit("s3://bucket/team/app/") == "s3://bucket/team/app/"
    for outside in ("s3://bucket/teamB", "s3://bucket", "s3://other/team"):
        with pytest.raises(Refused, match="is not under LLMGENIE_TARGET_ROOTS"):
            roots.admit(outside)


def test_a_confined_caller_asks_only_about_targets_it_may_submit(tmp_path: Path) -> None:
    service = TaskService(_roots(tmp_path))
    with pytest.raises(Refused, match=r"^target: name the target to ask about"):
        service.ask("how do I roll back?")
    with pytest.raises(Refused, match="is not under LLMGENIE_TARGET_ROOTS"):
        service.ask("how do I roll back?", "/etc")
    with pytest.raises(Refused, match=r"^question: empty"):
        service.ask(" ", str(tmp_path))


def test_check_runs_every_check_and_returns_the_request_to_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = TaskService(_roots(EXAMPLE.parent))
    request = service.check("audit", str(EXAMPLE), ["security", "security"], "viewer", "ci")
    assert (request.target, request.agents, request.role, request.caller) == (
        str(EXAMPLE),
        ["security"],
        Role.viewer,
        "ci",
    )
    with pytest.raises(Refused, match=r"^task: empty"):
        service.check(" ", str(EXAMPLE))
    with pytest.raises(Refused, match=r"^task: longer than 4000 characters"):
        service.check("x" * 4001, str(EXAMPLE))
    monkeypatch.setenv("LLMGENIE_LLM", "nosuch/model")
    get_settings.cache_clear()
    try:
        with pytest.raises(Refused, match=r"^LLMGENIE_LLM="):
            service.check("audit", str(EXAMPLE))
    finally:
        monkeypatch.delenv("LLMGENIE_LLM")
        get_settings.cache_clear()


def test_a_scan_checks_its_path_like_a_task_target(tmp_path: Path) -> None:
    service = TaskService(_roots(tmp_path))
    with pytest.raises(Refused, match=r"^target: empty"):
        service.scan("")  # not the working folder
    with pytest.raises(Refused, match="is not under LLMGENIE_TARGET_ROOTS"):
        service.scan(os.getcwd())
    (tmp_path / "Dockerfile").write_text("FROM nginx:latest\n")
    result = service.scan(str(tmp_path), ["security", "security"])
    assert any(f.category == "docker.latest-tag" for f in result.findings)
