"""Secret detection: specific detectors, placeholders and hashes left alone, values masked.

Fake credentials are assembled at run time (never written whole into the repository) so
that push protection and other scanners do not trip over the test suite itself.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from llmgenie.agents.tools.checks.secrets import SECRET_RULES, detect_secrets_in_lines
from llmgenie.agents.tools.parsing.text import TextFile
from llmgenie.core.models import FileKind

AWS_ID = "AKIA" + "Z3MSJV4WQWXYZ123"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG" + "/bPxRfiCYz9Xk3mQp2L"
GITHUB = "ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
PEM_BEGIN = "-----BEGIN " + "RSA PRIVATE KEY-----"
PEM_END = "-----END " + "RSA PRIVATE KEY-----"


def _scan(tmp_path: Path, name: str, text: str, kind: FileKind = FileKind.config) -> list:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    subject = TextFile(path=path, file=name, kind=kind)
    return list(SECRET_RULES.run(subject, None))


def _ids(findings: list) -> list[tuple[str, str, int]]:
    return sorted((f.rule_id, f.category, f.line) for f in findings)


def test_specific_detectors(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "aws:",
            f"  access_key_id: {AWS_ID}",
            f'  aws_secret_access_key: "{AWS_SECRET}"',
            f"github_token: {GITHUB}",
            f"slack: {SLACK}",
            "database_url: postgres://admin:S3cretPw0rd@db:5432/app",
            PEM_BEGIN,
            "MIIEpAIBAAKCAQEA7dummykeybodydummykeybody",
            PEM_END,
        ]
    )
    assert _ids(_scan(tmp_path, "settings.yaml", text)) == [
        ("LG-SECRET-001", "secret.aws-access-key", 2),
        ("LG-SECRET-001", "secret.aws-access-key", 3),
        ("LG-SECRET-002", "secret.private-key", 7),
        ("LG-SECRET-003", "secret.github-token", 4),
        ("LG-SECRET-005", "secret.slack-token", 5),
        ("LG-SECRET-009", "secret.url-credentials", 6),
    ]


def test_values_are_masked_everywhere(tmp_path: Path) -> None:
    findings = _scan(tmp_path, "a.yaml", f"key: {AWS_ID}\ntoken: {GITHUB}\n")
    dumped = " ".join(f.model_dump_json() for f in findings)
    assert AWS_ID not in dumped and GITHUB not in dumped
    evidence = sorted(f.evidence for f in findings)
    # no prefix of the value, only a 4-hex hint that tells two values apart
    assert [e.split(": ")[0] for e in evidence] == ["AWS Access Key", "GitHub Token"]
    assert all(re.fullmatch(r"\*\*\*\*[0-9a-f]{4}", e.split(": ")[1]) for e in evidence)
    assert "AKIA" not in dumped and "ghp_" not in dumped


def test_generic_keyword_and_high_entropy(tmp_path: Path) -> None:
    text = (
        "DB_PASSWORD=Sup3rS3cretPass\n"
        "DEBUG=true\n"
        'SIGNING = "c2VjcmV0LXZhbHVlLXdpdGgtc29tZS1yYW5kb20tYnl0ZXMtOTg3NjU0"\n'
    )
    assert _ids(_scan(tmp_path, ".env", text)) == [
        ("LG-SECRET-011", "secret.hardcoded-credential", 1),
        ("LG-SECRET-012", "secret.generic-high-entropy", 3),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "password: changeme",
        'api_key: "<your-api-key>"',
        "password: ${DB_PASSWORD}",
        'password = "{{ .Values.password }}"',
        "secret: example-secret-value",
        f"aws_access_key_id: AKIAIOSFODNN7{'EXAMPLE'}",
        "password: xxxxxxxxxxxx",
        "image: nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac",
        'checksum: "4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac"',
        'sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
        "password: os.environ['DB_PASSWORD']",
        "# password: see the vault  pragma: allowlist secret",
        "      secretName: tls-secret",
        '  caBundle: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENCK3dJSmFPZ3lNZ"',
        '"ref": "3f786850e387550fdab836ed7e6dc881de23001b"',
        "  password_file: /run/secrets/db_password",
    ],
)
def test_placeholders_and_hashes_are_not_secrets(tmp_path: Path, line: str) -> None:
    assert _scan(tmp_path, "values.yaml", line + "\n") == []


def test_lock_files_are_not_scanned(tmp_path: Path) -> None:
    text = '{"integrity": "sha512-' + "Q" * 20 + 'abcdefghijklmnopqrstuvwxyz0123456789=="}\n'
    text += f'"token": "{GITHUB}"\n'
    assert _scan(tmp_path, "package-lock.json", text) == []
    assert _scan(tmp_path, "go.sum", f"x v1.0.0 h1:{AWS_SECRET}=\n") == []


def test_kubernetes_secret_data_is_decoded(tmp_path: Path) -> None:
    key = base64.b64encode(f"{PEM_BEGIN}\nMIIE\n{PEM_END}\n".encode()).decode()
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\ntype: Opaque\ndata:\n"
        f"  tls.key: {key}\n"
        "  password: cGFzc3dvcmQxMjM=\n"
        "  username: YWRtaW4=\n"
    )
    assert _ids(_scan(tmp_path, "secret.yaml", text, FileKind.kubernetes)) == [
        ("LG-SECRET-002", "secret.private-key", 7),
        ("LG-SECRET-011", "secret.hardcoded-credential", 8),
    ]


def test_dockerfile_env_is_left_to_the_docker_rules(tmp_path: Path) -> None:
    text = f"FROM alpine:3.20\nENV DB_PASSWORD=Sup3rS3cretPass\nENV AWS_KEY={AWS_ID}\n"
    # the generic keyword is docker.secrets-in-env's; a recognisable AWS key is still reported
    assert _ids(_scan(tmp_path, "Dockerfile", text, FileKind.dockerfile)) == [
        ("LG-SECRET-001", "secret.aws-access-key", 3)
    ]


def test_detect_secrets_in_lines_reports_one_hit_per_value() -> None:
    hits = detect_secrets_in_lines("config.py", [f'AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"'])
    assert [(h.line, h.category) for h in hits] == [(1, "secret.aws-access-key")]


def test_ignore_comments_in_text_files(tmp_path: Path) -> None:
    text = (
        "# llmgenie:ignore LG-SECRET-011\n"
        "DB_PASSWORD=Sup3rS3cretPass\n"
        "[other]\n"
        "# llmgenie:ignore LG-SECRET-011\n"
        "password = AnotherS3cret99\n"
        "\n"
        "api_key = Th1rdS3cretValue\n"
    )
    found = _scan(tmp_path, "app.ini", text)
    assert _ids(found) == []  # the leading comment covers the whole file
    text = text.replace("# llmgenie:ignore LG-SECRET-011\nDB_PASSWORD", "DB_PASSWORD")
    assert _ids(_scan(tmp_path, "app.ini", text)) == [
        ("LG-SECRET-011", "secret.hardcoded-credential", 1),
        ("LG-SECRET-011", "secret.hardcoded-credential", 6),
    ]


def test_each_subject_gets_its_own_result(tmp_path: Path) -> None:
    first = _scan(tmp_path / "a", "same.yaml", f"token: {GITHUB}\n")
    second = _scan(tmp_path / "b", "same.yaml", "token: nothing-here\n")
    assert [f.rule_id for f in first] == ["LG-SECRET-003"] and second == []
