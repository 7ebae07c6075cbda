"""Settings from the environment (CONTRACTS.md): embedded defaults, production by configuration.

Same code path for both: only these values differ. Read once per process with `get_settings()`;
tests call `get_settings.cache_clear()` after changing the environment.

Secrets may come from mounted files as well: `LLMGENIE_DATABASE_URL_FILE=/run/secrets/db-url`
stands for `LLMGENIE_DATABASE_URL` (the `*_FILE` convention Vault Agent, the Secrets Store CSI
driver and Docker secrets use); so do `*_FILE` forms of the provider and S3 variables in
`FILE_SECRETS`, which are exported to the process environment their clients read.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmgenie.core.models import Role

__all__ = ["FILE_SECRETS", "Settings", "SettingsError", "check_model_id", "get_settings"]

#: Variables read by other libraries (boto3, the model clients) that may also be given as
#: `NAME_FILE`, a path to a file holding the value.
FILE_SECRETS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)

_DEFAULT_OPENAI_MODEL = "openai/gpt-4o-mini"
_DEFAULT_ANTHROPIC_MODEL = "anthropic/claude-3-5-haiku-latest"


class SettingsError(ValueError):
    """A setting in the environment cannot be used; the message names the variable."""


def check_model_id(model: str) -> str:
    """`model` if it has the form `provider/model`, else ValueError. Which providers exist is
    the executors' registry's to say (`llmgenie.agents.executors.unknown_providers`)."""
    provider, _, name = model.partition("/")
    if not provider or not name.strip() or model != model.strip() or " " in provider:
        raise ValueError(f"{model!r} is not provider/model, e.g. openai/gpt-4o-mini")
    return model


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMGENIE_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path("~/.llmgenie").expanduser())
    database_url: str | None = Field(None, description="SQLAlchemy URL; SQLite under home if unset")
    artifacts_url: str | None = Field(None, description="s3://bucket/prefix or a folder")
    artifacts_sse: str | None = Field(None, description="S3 server-side encryption, e.g. AES256")
    llm: str | None = Field(None, description="model chain 'provider/model,…' or 'none'")
    log_format: Literal["console", "json"] = "console"
    log_level: str = "WARNING"
    audit_prompts: bool = False
    audit_key: SecretStr | None = Field(
        None, description="HMAC key that signs the audit chain's head and each task's anchor"
    )

    # orchestration
    dispatch: Literal["inprocess", "deployment"] = "inprocess"
    work_pool: str = "llmgenie"
    specialist_deployment: str = "specialist/llmgenie-specialist"
    step_timeout_seconds: float = 900.0
    step_retries: int = 2
    step_retry_base_delay_seconds: float = 1.0
    server_idle_minutes: float = Field(30.0, description="embedded Prefect API stops when idle")
    speculative_start: bool = Field(
        True,
        description="while a model plans, start the rule-based plan's independent steps; the "
        "final plan keeps or drops them",
    )

    # context analysis bounds
    max_files: int = 20_000
    max_file_bytes: int = 5 * 1024 * 1024
    max_archive_bytes: int = 512 * 1024 * 1024
    max_archive_members: int = 50_000

    # LLM budgets and bounds
    token_budget: int | None = Field(None, description="per-task token budget; then tool-only")
    llm_max_tokens: int = Field(
        4096, gt=0, description="output cap sent with every model request (max_tokens)"
    )
    llm_max_tokens_by_model: dict[str, int] = Field(
        default_factory=dict,
        description='per-model output caps, JSON: {"ollama/llama3.1": 1024}',
    )
    llm_attempt_timeout_seconds: float | None = Field(
        None,
        gt=0,
        description="wall-clock cap of one model attempt (plan, step, answer); the agent "
        "specs' attempt_timeout_seconds when unset",
    )

    image: str | None = Field(
        None, description="the llmgenie image a kubernetes work pool's flow-run pods run"
    )

    knowledge_url: str | None = Field(
        None, description="a ChromaDB server, http://host:8000; a folder under home if unset"
    )

    target_roots: str | None = Field(
        None,
        description="what tasks submitted over the REST API or MCP may target: folders and "
        "s3:// prefixes separated by ':'; unset, the API refuses every target and the MCP "
        "server allows the folder it was started in",
    )

    api_max_body_bytes: int = Field(
        1024 * 1024, ge=1, description="the REST API answers 413 to a larger request body"
    )

    # who may call the REST API (interfaces/api/auth.py, decision 0033)
    api_token: SecretStr | None = Field(None, description="one static bearer token")
    api_token_role: Role = Field(Role.operator, description="the static token's role")
    api_jwt_secret: SecretStr | None = Field(
        None, description="HS256 key of signed tokens (`llmgenie token create`); 32+ characters"
    )
    api_jwks: str | None = Field(
        None, description="RS256/ES256 keys: a JWKS file, or an https URL of an OIDC provider's"
    )
    api_jwt_issuer: str | None = Field(None, description="a signed token's `iss` must be this")
    api_jwt_audience: str | None = Field(None, description="a signed token's `aud` must hold this")
    api_role_claim: str = Field(
        "llmgenie_role", min_length=1, description="the claim that names a token's role"
    )
    api_oauth_token_url: str | None = Field(
        None, description="the issuer's token endpoint, declared in the OpenAPI document"
    )

    prometheus_url: str | None = Field(
        None, validation_alias=AliasChoices("PROMETHEUS_URL", "LLMGENIE_PROMETHEUS_URL")
    )

    @field_validator("llm")
    @classmethod
    def _models_are_known(cls, raw: str | None) -> str | None:
        for model in _chain_of(raw or ""):
            check_model_id(model)
        return raw

    def attempt_timeout(self, default: float) -> float:
        """The wall-clock cap of one model attempt whose own default is `default`."""
        return self.llm_attempt_timeout_seconds or default

    def max_tokens_for(self, model_id: str) -> int:
        """The output cap of `model_id`'s requests."""
        return self.llm_max_tokens_by_model.get(model_id, self.llm_max_tokens)

    @field_validator("target_roots")
    @classmethod
    def _roots_are_folders_or_s3(cls, raw: str | None) -> str | None:
        for scheme in re.findall(r"([A-Za-z][\w+.-]*)://", raw or ""):
            if scheme != "s3":
                raise ValueError(f"{scheme}:// is not allowed: name folders and s3:// prefixes")
        return raw

    @field_validator("api_jwt_secret")
    @classmethod
    def _secret_is_long(cls, raw: SecretStr | None) -> SecretStr | None:
        if raw is not None and len(raw.get_secret_value().encode()) < 32:
            raise ValueError("shorter than 32 bytes: HS256 needs a key as long as its hash")
        return raw

    @field_validator("api_jwks")
    @classmethod
    def _jwks_is_a_file_or_https(cls, raw: str | None) -> str | None:
        if raw and "://" in raw:
            url = urlsplit(raw)
            loopback = url.hostname in {"localhost", "127.0.0.1", "::1"}
            if url.scheme != "https" and not (url.scheme == "http" and loopback):
                raise ValueError("name a JWKS file or an https:// URL (http:// on loopback only)")
        return raw

    @property
    def api_authenticates(self) -> bool:
        """Whether the REST API asks its callers for a token (any of the three ways is set)."""
        return bool(self.api_token or self.api_jwt_secret or self.api_jwks)

    @property
    def target_root_list(self) -> list[str]:
        """`LLMGENIE_TARGET_ROOTS` as a list, in order: folders as written and s3:// prefixes."""
        return _roots_of(self.target_roots or "")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'llmgenie.db'}"

    @property
    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or str(self.home / "artifacts")

    @property
    def model_chain(self) -> list[str]:
        """The ordered `provider/model` chain; empty means tool-only."""
        raw = self.llm
        if raw is None:
            if os.environ.get("OPENAI_API_KEY"):
                raw = _DEFAULT_OPENAI_MODEL
            elif os.environ.get("ANTHROPIC_API_KEY"):
                raw = _DEFAULT_ANTHROPIC_MODEL
            else:
                return []
        return _chain_of(raw)


def _chain_of(raw: str) -> list[str]:
    """`LLMGENIE_LLM`'s entries in order; none for '' or 'none'."""
    if raw.strip().lower() in {"", "none"}:
        return []
    return [m.strip() for m in raw.split(",") if m.strip()]


def _roots_of(raw: str) -> list[str]:
    """`a:/b:s3://bucket/p` → ['a', '/b', 's3://bucket/p']: split on ':', but not s3's own."""
    roots: list[str] = []
    for part in raw.split(":"):
        if part.startswith("//") and roots and roots[-1] == "s3":
            roots[-1] = f"s3:{part}"
        else:
            roots.append(part)
    return [r.strip() for r in roots if r.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; SettingsError names each variable that cannot be used."""
    try:
        return Settings(**_from_files(os.environ))
    except ValidationError as exc:
        raise SettingsError("; ".join(_problems(exc))) from None


def _from_files(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Settings given as `LLMGENIE_<NAME>_FILE`, by field; `FILE_SECRETS` given as files are
    exported to `environ`. A variable set both ways, or a file that cannot be read, is an error."""
    names = {_variable_of(field): field for field in Settings.model_fields}
    values: dict[str, str] = {}
    problems = []
    for variable in [*names, *FILE_SECRETS]:
        path = environ.get(f"{variable}_FILE")
        if not path:
            continue
        if environ.get(variable):
            problems.append(f"{variable} and {variable}_FILE are both set: set one of them")
            continue
        try:
            value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{variable}_FILE={path!r}: cannot be read ({exc.__class__.__name__})")
            continue
        if variable in names:  # by field name, or by its alias when it has one
            aliased = Settings.model_fields[names[variable]].validation_alias is not None
            values[variable if aliased else names[variable]] = value
        else:
            environ[variable] = value
    if problems:
        raise SettingsError("; ".join(problems))
    return values


def _variable_of(field: str) -> str:
    """The environment variable a field is read from (its first alias, else LLMGENIE_…)."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"LLMGENIE_{field.upper()}"


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = _variable_of(field)
        message = str(error["msg"]).removeprefix("Value error, ")
        info = Settings.model_fields.get(field)
        secret = info is not None and SecretStr in (info.annotation, *get_args(info.annotation))
        shown = "'…'" if secret else repr(error.get("input"))  # a secret is never repeated
        problems.append(f"{name}={shown}: {message}")
    return problems
