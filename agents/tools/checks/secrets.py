"""Hard-coded secret detection (`secret.*`) over every text file, with detect-secrets' plugins.

The plugins' own matchers (`analyze_string`) run line by line; nothing verifies a secret over
the network (their `verify` is never called). Values are masked in every output: the first
4 characters, then `****`.

Where detectors overlap on one value, the most specific wins (an AWS key is an AWS key, not
also "high entropy"). What is dropped as a false positive, and why:

* lock files and checksum files (`package-lock.json`, `go.sum`, `*.lock`…): hashes, not secrets;
* checksums and digests: `sha256:…`, `@sha256:…`, `integrity`/`checksum`/`digest` keys;
* placeholders: `changeme`, `<your-key>`, `${VAR}`, `{{ .Values.x }}`, `example`, `xxxx`…,
  plus detect-secrets' own heuristics (templated, sequential, UUID, indirect reference);
* the keyword detector's values that are references (`var.x`, `os.environ[...]`).

Kubernetes Secret manifests: `data:` values are base64; each one is decoded and the specific
detectors run over the decoded text too (a base64 PEM key in `tls.key` is a private key).
Lines with `pragma: allowlist secret` (detect-secrets' marker) are skipped.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from detect_secrets.filters.heuristic import (
    is_indirect_reference,
    is_lock_file,
    is_potential_uuid,
    is_sequential_string,
    is_templated_secret,
)
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
    HighEntropyStringsPlugin,
)
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import REGEX_BY_FILETYPE, KeywordDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector
from detect_secrets.util.filetype import FileType, determine_file_type

from llmgenie.core.models import Severity

from ..parsing.ignore_comments import IgnoreMap, scan_ignore_comments
from ..registry import Registry
from ..rules import Hit, RuleSet

__all__ = ["SECRET_RULES", "SecretHit", "detect_secrets_in_lines", "mask"]

SECRET_RULES: RuleSet[Any] = RuleSet(agent="security")

#: Files never scanned: generated hashes, not secrets.
_SKIP_NAMES = frozenset(
    {
        "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
        "Pipfile.lock", "Cargo.lock", "Gemfile.lock", "composer.lock", "go.sum", "uv.lock",
        "packages.lock.json", "mix.lock", "flake.lock", "SHA256SUMS", "sha256sums.txt",
    }
)  # fmt: skip
_SKIP_SUFFIXES = (".lock", ".sum", ".min.js", ".map", ".svg", ".sha256", ".sha512", ".asc", ".sig")
_MAX_LINE = 4000
_PLACEHOLDER = re.compile(
    r"changeme|change[_-]me|example|placeholder|dummy|sample|redacted|your[_-]?|xxxx|\*\*\*|"
    r"todo|fixme|insert|replace|^<.*>$|\$\{|\{\{|%\(|^\$|^(?:password|secret|token|none|null|"
    r"true|false|test|pass|admin)$",
    re.I,
)
_HASH_CONTEXT = re.compile(
    r"\bsha(?:1|224|256|384|512)|\bmd5\b|integrity|checksum|digest|\bhash\b|_hash|hash_|"
    r"\bcommit\b|\brev(?:ision)?\b|\bsum\b|\bsha\b|\bref\b|\betag\b|\bversion\b|"
    # public material: certificates, CA bundles, public keys, fingerprints, ids
    r"cert|ca_?bundle|public|pubkey|fingerprint|thumbprint|ssh-(?:rsa|ed25519|dss)|"
    r"ecdsa-sha2|uuid|guid|nonce",
    re.I,
)
_PRAGMA = "pragma: allowlist secret"
#: Keys whose value names or locates a secret rather than holding it.
_KEY_POINTS_AT = re.compile(
    r"(?:name|ref|keyref|arn|id|path|file|dir|url|uri|type|provider|store|mount|env|var|"
    r"length|ttl|timeout|expiry|header|field|policy)$"
)
#: File kinds whose secret-named variables have their own rules (`*.secrets-in-env`).
_OWN_ENV_RULES = frozenset({"dockerfile", "compose"})
_K8S_DATA_VALUE = re.compile(r"^(\s+)([\w.\-]+):\s*[\"']?([A-Za-z0-9+/]{16,}={0,2})[\"']?\s*$")
_K8S_DATA_VALUE_M = re.compile(_K8S_DATA_VALUE.pattern, re.M)


@dataclass(frozen=True)
class _Kind:
    category: str
    rule_id: str


_SPECIFIC: list[tuple[BasePlugin, str]] = [
    (PrivateKeyDetector(), "secret.private-key"),
    (AWSKeyDetector(), "secret.aws-access-key"),
    (GitHubTokenDetector(), "secret.github-token"),
    (GitLabTokenDetector(), "secret.gitlab-token"),
    (SlackDetector(), "secret.slack-token"),
    (StripeDetector(), "secret.stripe-key"),
    (OpenAIDetector(), "secret.openai-key"),
    (JwtTokenDetector(), "secret.jwt"),
    (BasicAuthDetector(), "secret.url-credentials"),
    (SendGridDetector(), "secret.api-token"),
    (TwilioKeyDetector(), "secret.api-token"),
    (NpmDetector(), "secret.api-token"),
    (PypiTokenDetector(), "secret.api-token"),
    (AzureStorageKeyDetector(), "secret.api-token"),
    (ArtifactoryDetector(), "secret.api-token"),
    (DiscordBotTokenDetector(), "secret.api-token"),
    (MailchimpDetector(), "secret.api-token"),
    (SquareOAuthDetector(), "secret.api-token"),
    (TelegramBotTokenDetector(), "secret.api-token"),
]
_KEYWORD = KeywordDetector()
_ENTROPY: list[HighEntropyStringsPlugin] = [
    Base64HighEntropyString(limit=4.5),
    HexHighEntropyString(limit=3.0),
]
#: Whole-text patterns that pick the lines worth analysing: every specific detector's own
#: patterns (multi-line mode), quoted strings long enough to be high-entropy secrets.
#: A pattern that opens with a context alternation is searched from its literal part (a
#: superset of its matches: the line is then judged by the detector itself), which is ~10x
#: faster in Python's regex engine.
_LEADING_CONTEXT = '(?:\\s|=|:|"|^)'
_PREFILTERS: list[re.Pattern[str]] = [
    re.compile(r.pattern.removeprefix(_LEADING_CONTEXT), r.flags | re.M)
    if not r.pattern.startswith("[0-9a-z]{32}-us")
    else re.compile(r"-us[0-9]")  # Mailchimp: from the literal
    for plugin, _ in _SPECIFIC
    for r in plugin.denylist  # type: ignore[attr-defined]
] + [re.compile(r"[\"'][A-Za-z0-9+/=_.\-]{16,}[\"']")]
#: Lines the keyword detector can fire on mention one of its keywords.
_KEYWORD_HINT = re.compile(r"key|pass|pwd|secret|contrase", re.I)
#: Files whose `KEY=value` lines are assignments even unquoted (dotenv, shell, Dockerfile…).
_INI_LIKE = (".env", ".sh", ".bash", ".zsh", ".envrc", ".txt")


def mask(value: str) -> str:
    """The first 4 characters of a secret, then `****`: never the value itself."""
    return f"{value[:4]}****"


@dataclass(frozen=True)
class SecretHit:
    """One detected secret: where, which category, the detector, and the masked value."""

    line: int
    category: str
    detector: str
    masked: str


def _skip_file(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return name in _SKIP_NAMES or name.endswith(_SKIP_SUFFIXES) or is_lock_file(rel)


def _placeholder(value: str) -> bool:
    v = value.strip().strip("\"'")
    return (
        len(v) < 6
        or bool(_PLACEHOLDER.search(v))
        or is_templated_secret(v)
        or is_sequential_string(v)
        or is_potential_uuid(v)
        or len(set(v)) <= 3
    )


def _keyword_file(rel: str) -> str:
    """The file name detect-secrets' keyword detector should see (it picks patterns by type)."""
    name = PurePosixPath(rel).name.lower()
    if name.startswith(".env") or name.endswith(_INI_LIKE) or "." not in name:
        return "settings.ini"
    return name


def _specific(text: str) -> Iterator[tuple[str, str, str]]:
    for plugin, category in _SPECIFIC:
        for regex in plugin.denylist:  # type: ignore[attr-defined]
            for m in regex.finditer(text):
                # the secret is the longest group, unless groups only name a prefix (`ghp`)
                groups = [g for g in m.groups() if isinstance(g, str) and g]
                value = max(groups, key=len) if groups else m.group(0)
                if len(value) < 8:
                    value = m.group(0)
                if value:
                    yield category, plugin.secret_type, value


def detect_secrets_in_lines(
    rel: str, lines: Iterable[str], k8s_secret: bool = False, keywords: bool = True
) -> list[SecretHit]:
    """Every secret in a file's lines (1-based), one per (line, value), most specific first.

    `keywords=False` turns off the generic "secret-named key = value" detector, for files
    whose own rules judge those assignments (Dockerfile ENV/ARG, compose environment).

    Speed: the whole text is searched once per detector pattern (in C); only the lines that
    any detector could fire on go through the per-line analysis.
    """
    if _skip_file(rel):
        return []
    lines = list(lines)
    text = "\n".join(lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    candidates = _candidate_lines(text, starts, k8s_secret, keywords)
    if not candidates:
        return []
    pem_body = _pem_bodies(lines) if "PRIVATE KEY" in text else set()
    keyword_name = _keyword_file(rel)
    keyword_regexes = REGEX_BY_FILETYPE.get(determine_file_type(keyword_name))
    if determine_file_type(keyword_name) == FileType.OTHER:
        keyword_regexes = None
    hits: list[SecretHit] = []
    for index in sorted(candidates):
        line, number = lines[index], index + 1
        if len(line) > _MAX_LINE or _PRAGMA in line or index in pem_body:
            continue
        hits.extend(_line_hits(line, number, k8s_secret, keywords, keyword_regexes))
    return hits


def _candidate_lines(text: str, starts: list[int], k8s_secret: bool, keywords: bool) -> set[int]:
    patterns = list(_PREFILTERS)
    if keywords:
        patterns.append(_KEYWORD_HINT)
    if k8s_secret:
        patterns.append(_K8S_DATA_VALUE_M)
    out: set[int] = set()
    for pattern in patterns:
        for m in pattern.finditer(text):
            out.add(bisect.bisect_right(starts, m.start()) - 1)
    return out


def _pem_bodies(lines: list[str]) -> set[int]:
    """Indexes of the lines inside `-----BEGIN … PRIVATE KEY-----` blocks (the same finding)."""
    out: set[int] = set()
    inside = False
    for i, line in enumerate(lines):
        if "PRIVATE KEY" in line and "BEGIN" in line:
            inside = True
            continue
        if inside and "END" in line and "PRIVATE KEY" in line:
            inside = False
            continue
        if inside:
            out.add(i)
    return out


def _line_hits(
    line: str, number: int, k8s_secret: bool, keywords: bool, keyword_regexes: Any
) -> list[SecretHit]:
    seen: set[str] = set()
    found: list[SecretHit] = []
    for category, detector, value in _specific(line):
        if value in seen or (category != "secret.private-key" and _placeholder(value)):
            continue
        seen.add(value)
        found.append(SecretHit(number, category, detector, mask(value)))
    if found:
        return found
    if k8s_secret:
        found.extend(_k8s_decoded(line, number, seen))
    if keywords and not found and not is_indirect_reference(line):
        for value in _KEYWORD.analyze_string(line, denylist_regex_to_group=keyword_regexes):
            if (
                value
                and value not in seen
                and not _placeholder(value)
                and not _reference(value)
                and not _names_a_secret(line, value)
            ):
                seen.add(value)
                found.append(
                    SecretHit(
                        number, "secret.hardcoded-credential", _KEYWORD.secret_type, mask(value)
                    )
                )
    if not found and not _HASH_CONTEXT.search(line):
        for plugin in _ENTROPY:
            for value in plugin.analyze_string(line):
                if value in seen or _placeholder(value):
                    continue
                if plugin.calculate_shannon_entropy(value) <= plugin.entropy_limit:
                    continue
                seen.add(value)
                found.append(
                    SecretHit(
                        number, "secret.generic-high-entropy", plugin.secret_type, mask(value)
                    )
                )
    return found


def _names_a_secret(line: str, value: str) -> bool:
    """`secretName: tls`, `password_file: /run/…`: the key points at a secret, holds none."""
    key = line.split(value, 1)[0].rstrip(" \t\"':=").strip(" \t\"'-").lower()
    return bool(_KEY_POINTS_AT.search(key))


def _reference(value: str) -> bool:
    v = value.strip()
    return bool(re.match(r"^(var|local|module|data|env|process\.env|os\.environ|settings)[.\[]", v))


def _k8s_decoded(line: str, number: int, seen: set[str]) -> Iterator[SecretHit]:
    m = _K8S_DATA_VALUE.match(line)
    if m is None:
        return
    try:
        decoded = base64.b64decode(m.group(3), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return
    for category, detector, value in _specific(decoded):
        if value not in seen and (category == "secret.private-key" or not _placeholder(value)):
            seen.add(value)
            yield SecretHit(number, category, f"{detector} (base64 in a Secret)", mask(value))


_LOCAL = threading.local()
_K8S_SECRET_KIND = re.compile(r"^kind:\s*[\"']?Secret[\"']?\s*$", re.M)


@dataclass(frozen=True)
class _Detected:
    hits: list[SecretHit]
    ignores: IgnoreMap | None


def _detected(subject: Any) -> _Detected:
    """Detect once per subject (every `secret.*` rule reads its own category from the result).

    The one-entry cache is per thread and holds the subject itself, so a recycled `id()` or
    a concurrent scan never sees another file's result.
    """
    cached = getattr(_LOCAL, "entry", None)
    if cached is not None and cached[0] is subject:
        return cached[1]
    rel = str(getattr(subject, "file", ""))
    try:
        lines = list(subject.lines)
    except (OSError, ValueError):
        lines = []
    text = "\n".join(lines)
    k8s_secret = bool(_K8S_SECRET_KIND.search(text))
    keywords = str(getattr(subject, "kind", "")) not in _OWN_ENV_RULES
    found = _Detected(
        hits=detect_secrets_in_lines(rel, lines, k8s_secret, keywords),
        ignores=scan_ignore_comments(lines) if "llmgenie:ignore" in text else None,
    )
    _LOCAL.entry = (subject, found)
    return found


def _counts_suppressions(subject: Any, rule_id: str, line: int) -> bool:
    check = getattr(subject, "is_suppressed", None)
    return bool(check is not None and check(rule_id, line))


def _rule(
    rule_id: str, category: str, severity: Severity, title: str, what: str, refs: list[str]
) -> None:
    @SECRET_RULES.rule(
        rule_id,
        category=category,
        severity=severity,
        title=title,
        message=(
            f"{what} is written into this file: anyone who can read the repository, an image "
            "layer or a CI log can use it, and it stays in the history after it is deleted."
        ),
        remediation=(
            "Revoke and rotate the secret now, remove it from the file (and the history), and "
            "load it at run time from a secret store or the environment."
        ),
        references=refs,
    )
    def check(subject: Any, ctx: Any) -> Iterable[Hit]:
        found = _detected(subject)
        for h in found.hits:
            # `# llmgenie:ignore` comments work in any text file; subjects that count
            # suppressions themselves (`is_suppressed`) see the rest.
            if (
                found.ignores is not None
                and found.ignores.is_suppressed(rule_id, h.line)
                and not _counts_suppressions(subject, rule_id, h.line)
            ):
                continue
            if h.category == category:
                yield Hit(
                    file=getattr(subject, "file", None),
                    line=h.line,
                    evidence=f"{h.detector}: {h.masked}",
                )


_rule(
    "LG-SECRET-001",
    "secret.aws-access-key",
    Severity.critical,
    "AWS access key in a file",
    "An AWS access key",
    ["gitleaks aws-access-token", "CKV_SECRET_2"],
)
_rule(
    "LG-SECRET-002",
    "secret.private-key",
    Severity.critical,
    "Private key in a file",
    "A private key",
    ["gitleaks private-key", "CKV_SECRET_13"],
)
_rule(
    "LG-SECRET-003",
    "secret.github-token",
    Severity.critical,
    "GitHub token in a file",
    "A GitHub token",
    ["gitleaks github-pat"],
)
_rule(
    "LG-SECRET-004",
    "secret.gitlab-token",
    Severity.critical,
    "GitLab token in a file",
    "A GitLab token",
    ["gitleaks gitlab-pat"],
)
_rule(
    "LG-SECRET-005",
    "secret.slack-token",
    Severity.high,
    "Slack token or webhook in a file",
    "A Slack token or webhook URL",
    ["gitleaks slack-bot-token"],
)
_rule(
    "LG-SECRET-006",
    "secret.stripe-key",
    Severity.critical,
    "Stripe key in a file",
    "A Stripe API key",
    ["gitleaks stripe-access-token"],
)
_rule(
    "LG-SECRET-007",
    "secret.openai-key",
    Severity.high,
    "OpenAI key in a file",
    "An OpenAI API key",
    ["gitleaks openai-api-key"],
)
_rule(
    "LG-SECRET-008",
    "secret.jwt",
    Severity.medium,
    "JSON Web Token in a file",
    "A JSON Web Token",
    ["gitleaks jwt"],
)
_rule(
    "LG-SECRET-009",
    "secret.url-credentials",
    Severity.high,
    "Credentials in a URL",
    "A user:password pair inside a URL",
    ["CKV_SECRET_4"],
)
_rule(
    "LG-SECRET-010",
    "secret.api-token",
    Severity.high,
    "Service API token in a file",
    "A service API token",
    ["detect-secrets"],
)
_rule(
    "LG-SECRET-011",
    "secret.hardcoded-credential",
    Severity.high,
    "Hard-coded password or key",
    "A value assigned to a password/secret/key-named setting",
    ["CKV_SECRET_6", "CWE-798"],
)
_rule(
    "LG-SECRET-012",
    "secret.generic-high-entropy",
    Severity.medium,
    "High-entropy string (likely a secret)",
    "A random-looking string that looks like a key or token",
    ["CKV_SECRET_6", "CWE-798"],
)


def register(registry: Registry) -> None:
    """The `secrets` group: credentials written into any text file of the target."""
    registry.rules("secrets", "text", SECRET_RULES)
