"""Secret detection primitives on detect-secrets' plugins: what the `secret.*` rules report and
what `llmgenie.core.redact` removes from everything llmgenie writes. One detector, not two.

The plugins' own matchers (`analyze_string`) run line by line; nothing verifies a secret over
the network (their `verify` is never called). Where detectors overlap on one value, the most
specific wins (an AWS key is an AWS key, not also "high entropy").

Confidence: a *verified format* (AWS, GitHub, GitLab, Slack, Stripe… tokens, a private key
with a body, credentials in a URL) is `high`; a *guess* (a secret-named key holding a literal,
a random-looking string) is `guess`, and the rules keep guesses at medium severity.

What is dropped as a false positive, and why (docs/decisions/0027-one-redaction.md):

* lock and checksum files (`package-lock.json`, `go.sum`, `*.lock`…): hashes, not secrets;
* checksums, digests, fingerprints: `sha256:…`, `integrity`/`checksum`/`digest` keys, and in
  Dockerfiles and shell scripts every hex-only value (GPG key fingerprints, `sha256sum` input);
* placeholders: `changeme`, `<your-key>`, `example`, `xxxx`, values that only repeat a secret's
  word (`mypassword`, `newPostgresPassword123`), detect-secrets' own heuristics (templated,
  sequential, UUID, indirect reference);
* template expressions: `${VAR}`, `{{ .Values.x }}`, `%s`, `$(cmd)`: a line of a template
  (`{{ … }}`) gives no keyword guess at all;
* guesses in comments (`# adminPassword: strongpassword`); a verified format in a comment still
  counts: a real token is as usable in a comment as anywhere;
* keys that name or locate a secret rather than hold it (`passwordKey: admin-password`,
  `existingSecret: redis-auth`, `secretName`, `*Ref`, selectors, `*_file`, `*_path`…);
* certificates and public keys (`-----BEGIN CERTIFICATE`, also base64-encoded: `LS0tLS1CRUdJTi…`)
  and a `PRIVATE KEY` header with no key under it (prose that names the format).

Every value found is remembered in memory for this process (`seen_pattern`), so the redaction
removes it wherever it turns up again, even without the context that made it a secret.

Kubernetes Secret manifests: `data:` values are base64; each one is decoded and the specific
detectors run over the decoded text too (a base64 PEM key in `tls.key` is a private key). Two
lines together say what one cannot: `- name: DB_PASSWORD` then `value: …` (container env), and
`variable "db_password" {` then `default = "…"` (Terraform). Lines with `pragma: allowlist
secret` (detect-secrets' marker) are skipped.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

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

__all__ = [
    "Confidence",
    "SecretMatch",
    "find_secrets",
    "is_secret_name",
    "mask",
    "seen_pattern",
    "skipped_file",
]

Confidence = Literal["verified", "guess"]

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
#: shorter values are not remembered: replacing them everywhere would eat ordinary words
_MIN_SEEN = 6
_MAX_SEEN = 20_000
_PLACEHOLDER = re.compile(
    r"changeme|change[_-]me|changeit|example|placeholder|dummy|sample|redacted|your[_-]?|xxxx|"
    r"\*\*\*|todo|fixme|insert|replace|^<.*>$|\$\{|\$\(|\{\{|\{%|<%|%\(|%[sdvqx]\b|^\$|"
    # a value that repeats what it stands for is an illustration: `mypassword`, `newPassword123`
    r"passw(?:or)?d|secret|token|^test|^(?:none|null|true|false|test|pass|admin|root|user(?:name)?)$",
    re.I,
)
#: `GOOGLE_API_KEY_VAL`, `projects/SPANNER_PROJECT/…`: a name standing for a value to fill in
_UPPER_SNAKE = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]{2,}(?:_[A-Z0-9]{2,})+(?![a-z0-9])")
_HASH_CONTEXT = re.compile(
    r"\bsha(?:1|224|256|384|512)|\bmd5\b|integrity|checksum|digest|\bhash\b|_hash|hash_|"
    r"\bcommit\b|\brev(?:ision)?\b|\bsum\b|\bsha\b|\bref\b|\betag\b|\bversion\b|"
    # public material: certificates, CA bundles, public keys, fingerprints, ids
    r"cert|ca_?bundle|public|pubkey|fingerprint|thumbprint|ssh-(?:rsa|ed25519|dss)|"
    r"ecdsa-sha2|uuid|guid|nonce|gpg|keyserver",
    re.I,
)
_PRAGMA = "pragma: allowlist secret"
#: Keys whose value names or locates a secret rather than holding it (lower-cased key).
_KEY_POINTS_AT = re.compile(
    r"(?:name|ref|keyref|arn|id|path|file|dir|url|uri|type|provider|store|mount|env|var|"
    r"length|ttl|timeout|expiry|header|field|policy|selector)$"
)
#: Keys that name a secret *object* or a key *inside* one (`passwordKey`, `existingSecret`,
#: `tlsSecret`): with a value shaped like a Kubernetes name, a reference, not a secret.
_REFERENCE_KEY = re.compile(r"(?:[a-z0-9](?:Key|Secret|Ref)|Selector)$|^existing", re.ASCII)
_NAME_SHAPED = re.compile(r"^[a-z0-9]+(?:[-._][a-z0-9]+)*$")
_K8S_DATA_VALUE = re.compile(r"^(\s+)([\w.\-]+):\s*[\"']?([A-Za-z0-9+/]{16,}={0,2})[\"']?\s*$")
_K8S_DATA_VALUE_M = re.compile(_K8S_DATA_VALUE.pattern, re.M)
#: Comment lines (guesses on them are examples, not settings). Markdown `#` is a heading.
_COMMENT = re.compile(r"^\s*(?:#|//|;|--\s|<!--|/\*|\*\s)")
_DOC_SUFFIXES = (".md", ".markdown", ".rst", ".adoc")
#: Where hex-only strings are hashes and fingerprints (GPG_KEYS, sha256sum input), never keys.
_HEX_IS_HASH = re.compile(r"(?:^|/)(?:dockerfile[^/]*|[^/]*\.dockerfile|[^/]*\.(?:sh|bash))$", re.I)
#: In prose, a plain word after `password:` is the sentence going on, not a password.
_WORD = re.compile(r"^[A-Za-z][a-z]*$")
_HEX_ONLY = re.compile(r"^[0-9a-fA-F]+$")
_PEM_BEGIN = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY_LINE = re.compile(r"^[\s#/*\"'|>+-]*([A-Za-z0-9+/=]{4,})[\s\"',\\]*$")
#: A whole PEM block on one line (JSON, `\n` escapes): the body is between the markers.
_PEM_INLINE = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:\\[nr]|\s)+((?:[A-Za-z0-9+/=]+(?:\\[nr]|\s)+)+)"
    r"-----END"
)
#: base64 of `-----BEGIN ` (a PEM object, base64-encoded once more, as in `caBundle`)
_B64_PEM = "LS0tLS1CRUdJTi"
_B64_PEM_VALUE = re.compile(_B64_PEM + r"[A-Za-z0-9+/]+={0,2}")
#: `- name: DB_PASSWORD` / `name: "DB_PASSWORD"` (container env, and lists shaped like it)
_ENV_NAME = re.compile(r"^(\s*)(?:-\s+)?name:\s*[\"']?([A-Za-z_][A-Za-z0-9_.-]*)[\"']?\s*$")
_ENV_VALUE = re.compile(r"^(\s*)(?:-\s+)?value:\s*(?:[\"'](.*)[\"']|([^\s#][^#]*?))\s*$")
_TF_VARIABLE = re.compile(r"^\s*variable\s+\"([A-Za-z0-9_-]+)\"\s*\{")
_TF_DEFAULT = re.compile(r"^\s*default\s*=\s*\"([^\"]*)\"")
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASSWORD|PASSWD|PASSPHRASE|PASS|PWD|SECRET|SECRET_KEY|SECRET_KEY_BASE|"
    r"CLIENT_SECRET|TOKEN|AUTH_TOKEN|ACCESS_TOKEN|API_TOKEN|API_KEY|APIKEY|ACCESS_KEY|"
    r"ACCESS_KEY_ID|SECRET_ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?|ENCRYPTION_KEY|SIGNING_KEY|"
    r"MASTER_KEY|CONNECTION_STRING|APP_KEY|SESSION_KEY|LICENSE_KEY)$"
)


class _Seen:
    """The secret values the detector found in this process, as one alternation pattern
    (longest first), for the redaction: in memory only, bounded, the oldest dropped first."""

    def __init__(self) -> None:
        self._values: dict[str, None] = {}  # insertion-ordered
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            before = len(self._values)
            for v in values:
                v = v.strip()
                if len(v) >= _MIN_SEEN and v not in self._values:
                    self._values[v] = None
            if len(self._values) == before:
                return
            while len(self._values) > _MAX_SEEN:
                self._values.pop(next(iter(self._values)))
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def pattern(self) -> re.Pattern[str] | None:
        return self._pattern


_seen = _Seen()


def seen_pattern() -> re.Pattern[str] | None:
    """A pattern matching every secret `find_secrets` has found in this process (None: none)."""
    return _seen.pattern()


def is_secret_name(name: str) -> bool:
    """Does a variable's name say it holds a secret (`DB_PASSWORD`, `GITHUB_TOKEN`, …)?"""
    upper = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").replace(".", "_")
    upper = upper.upper()
    return upper != "PWD" and bool(_SECRET_NAME.search(upper))


def mask(value: str) -> str:
    """`****` and a 4-hex hint of the value's hash: tells two secrets apart, gives none away."""
    hint = hashlib.blake2b(value.encode(), digest_size=2, person=b"llmgenie-mask").hexdigest()
    return f"****{hint}"


@dataclass(frozen=True)
class SecretMatch:
    """One detected secret: where (1-based line), which category, the detector, how sure.

    `value` (and `more`: the other lines of a private key) is the secret itself; it stays in
    the process, for redaction: what leaves is `masked`."""

    line: int
    category: str
    detector: str
    confidence: Confidence
    value: str = field(repr=False)
    more: tuple[str, ...] = field(default=(), repr=False)

    @property
    def masked(self) -> str:
        return mask(self.value)


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
] + [re.compile(r"[\"'][A-Za-z0-9+/=_.\-]{16,}[\"']"), re.compile("LS0tLS1CRUdJTi")]
#: Lines the keyword detector can fire on mention one of its keywords.
_KEYWORD_HINT = re.compile(r"key|pass|pwd|secret|contrase", re.I)
#: Lines that may pair a secret's name with its value on the next lines.
_PAIR_HINT = re.compile(r"^\s*(?:-\s+)?value:|^\s*default\s*=", re.M)
#: Files whose `KEY=value` lines are assignments even unquoted (dotenv, shell, Dockerfile…).
_INI_LIKE = (".env", ".sh", ".bash", ".zsh", ".envrc", ".txt")
_URL = "secret.url-credentials"
_VERIFIED = frozenset(
    {
        "secret.private-key", "secret.aws-access-key", "secret.github-token",
        "secret.gitlab-token", "secret.slack-token", "secret.stripe-key", "secret.openai-key",
        "secret.url-credentials", "secret.api-token", "secret.jwt",
    }
)  # fmt: skip


def skipped_file(rel: str) -> bool:
    """Lock and checksum files: hashes, never scanned for secrets."""
    name = PurePosixPath(rel).name
    return name in _SKIP_NAMES or name.endswith(_SKIP_SUFFIXES) or is_lock_file(rel)


def _placeholder(value: str) -> bool:
    v = value.strip().strip("\"'`")
    return (
        len(v) < 6
        or bool(_PLACEHOLDER.search(v))
        or bool(_UPPER_SNAKE.search(v))
        or is_templated_secret(v)
        or is_sequential_string(v)
        or is_potential_uuid(v)
        or len(set(v)) <= 3
    )


def _keyword_regexes(rel: str) -> Any:
    """The patterns of detect-secrets' keyword detector for this file (it picks them by type);
    docs and text that is not a file read as YAML (`password: value`)."""
    name = PurePosixPath(rel).name.lower()
    if name.startswith(".env") or name.endswith(_INI_LIKE) or "." not in name:
        name = "settings.ini"
    elif name.endswith(_DOC_SUFFIXES):
        name = "doc.yaml"
    file_type = determine_file_type(name)
    return None if file_type == FileType.OTHER else REGEX_BY_FILETYPE.get(file_type)


def _specific(text: str) -> Iterator[tuple[str, str, str, str]]:
    """(category, detector, value, secret part): the value reported, the part judged."""
    for plugin, category in _SPECIFIC:
        for regex in plugin.denylist:  # type: ignore[attr-defined]
            for m in regex.finditer(text):
                # the secret is the longest group, unless groups only name a prefix (`ghp`)
                groups = [g for g in m.groups() if isinstance(g, str) and g]
                part = max(groups, key=len) if groups else m.group(0)
                # a short group names a prefix (`ghp`): the match is the secret; a URL's
                # password is its group, however short
                value = part if len(part) >= 8 or category == _URL else m.group(0)
                if value:
                    yield category, plugin.secret_type, value, part


def _comment(line: str, rel: str) -> bool:
    if rel.lower().endswith(_DOC_SUFFIXES):
        return line.lstrip().startswith("<!--")
    return bool(_COMMENT.match(line))


def find_secrets(
    rel: str, lines: Iterable[str], *, k8s_secret: bool = False, keywords: bool = True
) -> list[SecretMatch]:
    """Every secret in a file's lines (1-based), one per (line, value), most specific first.

    `keywords=False` turns off the generic "secret-named key = value" guesses, for files
    whose own rules judge those assignments (Dockerfile ENV/ARG, compose environment).

    Speed: the whole text is searched once per detector pattern (in C); only the lines that
    any detector could fire on go through the per-line analysis.
    """
    if skipped_file(rel):
        return []
    lines = list(lines)
    text = "\n".join(lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    candidates = _candidate_lines(text, starts, k8s_secret, keywords)
    if not candidates:
        return []
    keys = _pem_keys(lines) if "PRIVATE KEY" in text else {}
    in_key = {i for body in keys.values() for i in body}
    pairs = _named_values(lines) if keywords and _PAIR_HINT.search(text) else {}
    judge = _LineJudge(rel, keywords, k8s_secret, _keyword_regexes(rel))
    found: list[SecretMatch] = []
    for index in sorted(candidates):
        line, number = lines[index], index + 1
        if len(line) > _MAX_LINE or _PRAGMA in line or index in in_key:
            continue
        if index in keys:
            body = [lines[i].strip() for i in keys[index]]
            found.append(
                SecretMatch(number, "secret.private-key", "Private Key", "verified", body[0],
                            tuple(body[1:]))
            )  # fmt: skip
            continue
        hits = judge.line(line, number)
        if index in pairs and not any(h.confidence == "verified" for h in hits):
            name, value = pairs[index]
            hits = [
                SecretMatch(number, "secret.hardcoded-credential", f"Secret named {name}",
                            "guess", value)
            ]  # fmt: skip
        found.extend(hits)
    _seen.add(v for m in found for v in (m.value, *m.more))
    return found


def _candidate_lines(text: str, starts: list[int], k8s_secret: bool, keywords: bool) -> set[int]:
    patterns = list(_PREFILTERS)
    if keywords:
        patterns += [_KEYWORD_HINT, _PAIR_HINT]
    if k8s_secret:
        patterns.append(_K8S_DATA_VALUE_M)
    out: set[int] = set()
    for pattern in patterns:
        for m in pattern.finditer(text):
            out.add(bisect.bisect_right(starts, m.start()) - 1)
    return out


def _pem_keys(lines: list[str]) -> dict[int, list[int]]:
    """Private key blocks: the BEGIN line's index → its body lines' indexes. A header with no
    body under it is prose that names the format (`key should start with -----BEGIN …`)."""
    out: dict[int, list[int]] = {}
    begin: int | None = None
    for i, line in enumerate(lines):
        if _PEM_BEGIN.search(line) and not _PEM_INLINE.search(line):
            begin = i
            out[i] = []
            continue
        if begin is None:
            continue
        m = _PEM_BODY_LINE.match(line)
        if _PEM_END.search(line) or m is None or (":" in line and not out[begin]):
            begin = None
            continue
        out[begin].append(i)
    return {b: body for b, body in out.items() if body}


def _named_values(lines: list[str]) -> dict[int, tuple[str, str]]:
    """Index of a line holding a literal value → (name, value), where an earlier line names it:
    container env (`- name: DB_PASSWORD` / `value: …`) and Terraform variable defaults."""
    out: dict[int, tuple[str, str]] = {}
    env_name: tuple[int, str, str] | None = None  # (index, indent, name)
    tf_name: str | None = None
    for i, line in enumerate(lines):
        m = _ENV_NAME.match(line)
        if m is not None:
            env_name = (i, m.group(1), m.group(2))
            continue
        m = _ENV_VALUE.match(line)
        if m is not None and env_name is not None and i - env_name[0] <= 2:
            value = (m.group(2) if m.group(2) is not None else m.group(3) or "").strip()
            if is_secret_name(env_name[2]) and _literal(value):
                out[i] = (env_name[2], value)
            env_name = None
            continue
        m = _TF_VARIABLE.match(line)
        if m is not None:
            tf_name = m.group(1)
            continue
        if tf_name is not None:
            m = _TF_DEFAULT.match(line)
            if m is not None:
                if is_secret_name(tf_name) and _literal(m.group(1)):
                    out[i] = (tf_name, m.group(1))
                tf_name = None
            elif line.strip() == "}":
                tf_name = None
    return out


def _literal(value: str) -> bool:
    return bool(value) and not _placeholder(value) and not value.startswith(("/", "./", "~/"))


@dataclass
class _LineJudge:
    """The per-line detectors, in order of specificity: verified formats, then guesses."""

    rel: str
    keywords: bool
    k8s_secret: bool
    keyword_regexes: Any

    @property
    def prose(self) -> bool:
        name = PurePosixPath(self.rel).name.lower()
        return name.endswith((*_DOC_SUFFIXES, ".txt")) or "." not in name

    def line(self, line: str, number: int) -> list[SecretMatch]:
        seen: set[str] = set()
        found: list[SecretMatch] = []
        for category, detector, value, part in _specific(line):
            if value in seen or category == "secret.private-key":
                continue  # private keys are judged as blocks (a header alone is not a key)
            if _placeholder(value) or (category == "secret.url-credentials" and _templated(part)):
                continue
            seen.add(value)
            found.append(SecretMatch(number, category, detector, "verified", value))
        if not found:
            inline = _PEM_INLINE.search(line)
            if inline is not None:
                body = tuple(p for p in re.split(r"\\[nr]|\s", inline.group(1)) if p)
                found.append(
                    SecretMatch(number, "secret.private-key", "Private Key", "verified", body[0],
                                body[1:])
                )  # fmt: skip
        if not found:
            found.extend(_base64_pem_keys(line, number, seen))
        if found:
            return found
        if self.k8s_secret:
            found.extend(_k8s_decoded(line, number, seen))
        guessing = not found and not _comment(line, self.rel)
        if guessing and self.keywords and "{{" not in line and not is_indirect_reference(line):
            for value in _KEYWORD.analyze_string(
                line, denylist_regex_to_group=self.keyword_regexes
            ):
                if self.prose:  # a doc's `password: x` ends at the first space
                    value = (value.split() or [""])[0].strip("`'\",.;:()[]")
                    if _WORD.match(value):  # `existingSecret: Switched password keys`
                        continue
                if (
                    value
                    and value not in seen
                    and not _placeholder(value)
                    and not _reference(value)
                    and not _names_a_secret(line, value)
                ):
                    seen.add(value)
                    found.append(
                        SecretMatch(number, "secret.hardcoded-credential", _KEYWORD.secret_type,
                                    "guess", value)
                    )  # fmt: skip
        if guessing and not found and not _HASH_CONTEXT.search(line):
            hex_is_hash = bool(_HEX_IS_HASH.search(self.rel))
            for plugin in _ENTROPY:
                for value in plugin.analyze_string(line):
                    if value in seen or _placeholder(value) or value.startswith(_B64_PEM):
                        continue
                    if hex_is_hash and _HEX_ONLY.match(value):
                        continue
                    if plugin.calculate_shannon_entropy(value) <= plugin.entropy_limit:
                        continue
                    seen.add(value)
                    found.append(
                        SecretMatch(number, "secret.generic-high-entropy", plugin.secret_type,
                                    "guess", value)
                    )  # fmt: skip
        return found


def _base64_pem_keys(line: str, number: int, seen: set[str]) -> Iterator[SecretMatch]:
    """A PEM object base64-encoded once more (`tls.key: LS0tLS1CRUdJTi…`): a private key is a
    secret; a certificate or a public key is not."""
    for m in _B64_PEM_VALUE.finditer(line):
        try:
            decoded = base64.b64decode(m.group(0), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if _pem_keys(decoded.splitlines()):
            seen.add(m.group(0))
            yield SecretMatch(number, "secret.private-key", "Private Key (base64)", "verified",
                              m.group(0))  # fmt: skip


def _templated(part: str) -> bool:
    return any(t in part for t in ("%", "$", "{", "<"))


def _names_a_secret(line: str, value: str) -> bool:
    """`secretName: tls`, `password_file: /run/…`, `passwordKey: admin-password`,
    `existingSecret: redis-auth`: the key points at a secret, holds none."""
    raw_key = line.split(value, 1)[0].rstrip(" \t\"':=").strip(" \t\"'-")
    raw_key = raw_key.rsplit(".", 1)[-1].rsplit(" ", 1)[-1]  # `tls.existingSecret=` in docs
    if _KEY_POINTS_AT.search(raw_key.lower()):
        return True
    return bool(_REFERENCE_KEY.search(raw_key)) and bool(_NAME_SHAPED.match(value.strip("\"'")))


def _reference(value: str) -> bool:
    v = value.strip()
    return bool(re.match(r"^(var|local|module|data|env|process\.env|os\.environ|settings)[.\[]", v))


def _k8s_decoded(line: str, number: int, seen: set[str]) -> Iterator[SecretMatch]:
    m = _K8S_DATA_VALUE.match(line)
    if m is None:
        return
    try:
        decoded = base64.b64decode(m.group(3), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return
    if _PEM_BEGIN.search(decoded) and _pem_keys(decoded.splitlines()):
        seen.add(m.group(3))
        yield SecretMatch(number, "secret.private-key", "Private Key (base64 in a Secret)",
                          "verified", m.group(3))  # fmt: skip
        return
    for category, detector, value, _part in _specific(decoded):
        if category == "secret.private-key" or value in seen or _placeholder(value):
            continue
        seen.add(value)
        # the base64 text is what is written in the file: that is what redaction removes
        yield SecretMatch(number, category, f"{detector} (base64 in a Secret)",
                          "verified" if category in _VERIFIED else "guess", m.group(3))  # fmt: skip
