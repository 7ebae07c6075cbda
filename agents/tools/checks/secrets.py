"""Hard-coded secret detection (`secret.*`) over every text file: the rules on top of the one
detector in `llmgenie.core.secrets` (detect-secrets' plugins; what is and is not a secret is
decided and documented there, so redaction removes exactly what these rules report).

Values are masked in every output (`****` and a short hash hint); the redaction of everything
this process writes (`llmgenie.core.redact`) removes the same values.
Severity follows confidence: a verified format (AWS, GitHub, Slack… tokens, private keys,
credentials in URLs) is high or critical; a guess (a secret-named key holding a literal, a
random-looking string) is medium.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmgenie.core.models import Severity
from llmgenie.core.secrets import SecretMatch, find_secrets, mask

from ..parsing.ignore_comments import IgnoreMap, scan_ignore_comments
from ..registry import Registry
from ..rules import Hit, RuleSet

__all__ = ["SECRET_RULES", "SecretHit", "detect_secrets_in_lines", "mask"]

SECRET_RULES: RuleSet[Any] = RuleSet(agent="security")

#: File kinds whose secret-named variables have their own rules (`*.secrets-in-env`).
_OWN_ENV_RULES = frozenset({"dockerfile", "compose"})


@dataclass(frozen=True)
class SecretHit:
    """One detected secret: where, which category, the detector, and the masked value."""

    line: int
    category: str
    detector: str
    masked: str


def detect_secrets_in_lines(
    rel: str, lines: Iterable[str], k8s_secret: bool = False, keywords: bool = True
) -> list[SecretHit]:
    """Every secret in a file's lines (1-based), masked (the detector remembers each value
    for the redaction of everything this process writes).

    `keywords=False` turns off the generic "secret-named key = value" detector, for files
    whose own rules judge those assignments (Dockerfile ENV/ARG, compose environment).
    """
    matches: list[SecretMatch] = find_secrets(rel, lines, k8s_secret=k8s_secret, keywords=keywords)
    return [SecretHit(m.line, m.category, m.detector, m.masked) for m in matches]


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
    Severity.medium,  # a guess: the key's name says secret, nothing verifies the value
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
