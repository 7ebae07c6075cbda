"""Secret detection a reviewer agrees with: each exclusion, and a twin that still fires.

Every case is a pair: the line as real repositories write it when it holds no secret, and
the closest line that does hold one. Real cases from the shared corpus sit in
`tests/fixtures/secrets/` (sources and licences in its README). Fake credentials are
assembled at run time, never written whole here.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from llmgenie.agents.tools.checks.secrets import SECRET_RULES
from llmgenie.agents.tools.engine import TextFile
from llmgenie.core.models import FileKind, Severity
from llmgenie.core.secrets import find_secrets

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "secrets"
DOCKER_POSTGRES = FIXTURES.parent / "docker_build" / "docker-postgres"
GITHUB = "ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"
AWS_ID = "AKIA" + "Z3MSJV4WQWXYZ123"
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----"
PEM_END = "-----END " + "RSA PRIVATE KEY-----"
CERT = "-----BEGIN " + "CERTIFICATE-----"
B64_KEY = base64.b64encode(f"{PEM}\nMIIEpAIBAAKCAQEA7mQx9\n{PEM_END}\n".encode()).decode()
B64_CERT = base64.b64encode(f"{CERT}\nMIIBkTCB+wIJAOgyMz\n-----END CERTIFICATE-----\n".encode())

#: (what is excluded, file name, a line that must not fire, its twin that must)
PAIRS = [
    ("comment", "values.yaml", '##     password: "mypassw0rdQ7"', 'password: "Zq8mK2vLp0Wx"'),
    ("comment keeps verified formats", "values.yaml", "# no secret here", f"# token: {GITHUB}"),
    ("empty value", "values.yaml", 'password: ""', 'password: "Zq8mK2vLp0Wx"'),
    ("template expression", "secrets.yaml",
     "{{- $postgresPassword = randAlphaNum 10 }}", "postgresPassword: Zq8mK2vLp0Wx"),
    ("helm value reference", "values.yaml",
     'password: "{{ .Values.auth.password }}"', 'password: "Zq8mK2vLp0Wx"'),
    ("printf URL", "secrets.yaml",
     'uri: {{ printf "postgresql://postgres:%s@%s:%s/postgres" $p $h $port | b64enc }}',
     "uri: postgresql://postgres:Zq8mK2vLp0Wx@db:5432/postgres"),
    ("placeholder", "values.yaml", 'password: "newPostgresPassword123"',
     'password: "Zq8mK2vLp0Wx"'),
    ("*Key names a key in a Secret", "values.yaml",
     "    adminPasswordKey: postgres-password", "    adminPassword: Zq8mK2vLp0Wx"),
    ("*Key with a secret-shaped value still fires", "values.yaml",
     "    adminPasswordKey: admin-password", '    adminPasswordKey: "Zq8mK2vLp0Wx"'),
    ("existingSecret*", "values.yaml",
     "  existingUserSecretKey: username", "  userSecret: Zq8mK2vLp0Wx"),
    ("existingSecret", "values.yaml", "  existingSecret: redis-auth", "  secret: Zq8mK2vLp0Wx"),
    ("*Ref", "values.yaml", "  passwordRef: db-creds", "  password: Zq8mK2vLp0Wx"),
    ("secretName", "ingress.yaml", "      secretName: shop-tls-cert", "      secret: Zq8mK2vLp0Wx"),
    ("selector", "job.yaml", "  secretSelector: app-creds", "  secret: Zq8mK2vLp0Wx"),
    ("certificate is public", "ca.yaml", f'  caBundle: "{B64_CERT.decode()}"',
     f'  tlsKey: "{B64_KEY}"'),
    ("PEM header in prose", "values.yaml",
     f"  ## key should start with {PEM}", f"  tls.key: |\n    {PEM}\n    MIIEpAIBAAKCAQEA7mQx9\n"
     f"    {PEM_END}"),
    ("GPG fingerprint in a Dockerfile", "Dockerfile",
     "\tkey='B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8'; \\",
     f"\tcurl -H 'Authorization: token {GITHUB}' https://api.github.com; \\"),
    ("sha256sum input in a Dockerfile", "Dockerfile",
     'RUN echo "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 *x.tgz" '
     "| sha256sum -c -",
     "RUN echo 'c2VjcmV0LXZhbHVlLXdpdGgtc29tZS1yYW5kb20tYnl0ZXM5ODc2' > /etc/app.key"),
    ("prose after a keyword in docs", "CHANGELOG.md",
     "* In exsistingSecret: Switched password keys (#3744)", "* password: Zq8mK2vLp0Wx"),
    ("boolean in docs", "README.md", "with `usePassword: false`, no action is required.",
     "log in with password: `Zq8mK2vLp0Wx`"),
    ("env value from a secretKeyRef", "deploy.yaml",
     "        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n"
     "              name: db\n              key: password",
     "        - name: DB_PASSWORD\n          value: Zq8mK2vLp0Wx"),
    ("env value not secret-named", "deploy.yaml",
     "        - name: JAVA_OPTS\n          value: -Xmx1g-Zq8mK2vLp0Wx",
     "        - name: API_TOKEN\n          value: Zq8mK2vLp0Wx"),
    ("upper-snake placeholder", "deploy.yaml",
     "        - name: GOOGLE_API_KEY\n          value: GOOGLE_API_KEY_VAL",
     "        - name: GOOGLE_API_KEY\n          value: AIzaQ7mK2vLp0WxZq8"),
    ("terraform variable without a default", "variables.tf",
     'variable "db_password" {\n  type      = string\n  sensitive = true\n}',
     'variable "db_password" {\n  type    = string\n  default = "Zq8mK2vLp0Wx"\n}'),
]  # fmt: skip


def _kind(name: str) -> FileKind:
    return FileKind.dockerfile if name == "Dockerfile" else FileKind.config


def _scan(tmp_path: Path, name: str, text: str) -> list:
    path = tmp_path / name
    path.write_text(text + "\n")
    return list(SECRET_RULES.run(TextFile(path=path, file=name, kind=_kind(name)), None))


@pytest.mark.parametrize(("what", "name", "quiet", "fires"), PAIRS, ids=[p[0] for p in PAIRS])
def test_exclusion_and_its_twin(
    tmp_path: Path, what: str, name: str, quiet: str, fires: str
) -> None:
    assert _scan(tmp_path, name, quiet) == [], f"{what}: fired on {quiet!r}"
    assert _scan(tmp_path, name, fires) != [], f"{what}: the twin did not fire: {fires!r}"


def test_severity_follows_confidence(tmp_path: Path) -> None:
    text = "\n".join(
        [
            f"token: {GITHUB}",
            f"key_id: {AWS_ID}",
            "password: Zq8mK2vLp0Wx",
            'signing = "c2VjcmV0LXZhbHVlLXdpdGgtc29tZS1yYW5kb20tYnl0ZXMtOTg3NjU0"',
        ]
    )
    found = {f.category: f.severity for f in _scan(tmp_path, "app.yaml", text)}
    assert found == {
        "secret.github-token": Severity.critical,
        "secret.aws-access-key": Severity.critical,
        "secret.hardcoded-credential": Severity.medium,
        "secret.generic-high-entropy": Severity.medium,
    }
    assert {m.confidence for m in find_secrets("app.yaml", text.splitlines())} == {
        "verified",
        "guess",
    }


def test_corpus_cases_stay_quiet() -> None:
    """Every file in tests/fixtures/secrets (real repositories, each finding read by hand and
    judged not a secret) gives no secret finding."""
    files = [p for p in FIXTURES.rglob("*") if p.is_file() and "LICENSE" not in p.name]
    files = [p for p in files if p.name != "README.md" or p.parent != FIXTURES]
    # the two docker-postgres Dockerfiles are the Dockerfile rules' copies (one copy each)
    files += [
        DOCKER_POSTGRES / variant / "Dockerfile" for variant in ("17/trixie", "17/alpine3.22")
    ]
    assert len(files) == 13
    fired = []
    for path in files:
        rel = str(path.relative_to(FIXTURES.parent))
        subject = TextFile(path=path, file=rel, kind=_kind(path.name))
        fired += [f"{f.location}: {f.evidence}" for f in SECRET_RULES.run(subject, None)]
    assert fired == []
