"""Issue 19 point 3, the token matrix: the REST API knows its callers by signed tokens. Keys are
made here and an OIDC provider's JWKS is served by a local HTTP server; every bad token is
refused (401/403) and audited with its reason and never the token; a good token's `sub` is the
audit actor, and a role in the body may only lower the token's.

On the code before: one shared token (or none), `{"role": "admin", "caller": "alice@prod"}` taken
from the body: each refusal below was a 200/202, and nothing was audited."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.support.api import serve_api
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"
ISSUER = "https://idp.example.test/realms/platform"
AUDIENCE = "llmgenie"
SECRET = "s" * 40
STATIC = "static-token-0123456789abcdef"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
#: a key the provider never published, under the kid of one it did
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks() -> bytes:
    rsa_jwk = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
    ec_jwk = ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True)
    rsa_jwk.update(kid="rsa-1", use="sig", alg="RS256")
    ec_jwk.update(kid="ec-1", use="sig", alg="ES256")
    return json.dumps({"keys": [rsa_jwk, ec_jwk]}).encode()


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    body = _jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/realms/platform/certs"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def api(
    llmgenie_home: Path, jwks_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    monkeypatch.setenv("LLMGENIE_TARGET_ROOTS", f"{EXAMPLE}:{tmp_path}")
    monkeypatch.setenv("LLMGENIE_API_JWKS", jwks_url)
    monkeypatch.setenv("LLMGENIE_API_JWT_SECRET", SECRET)
    monkeypatch.setenv("LLMGENIE_API_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("LLMGENIE_API_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("LLMGENIE_API_TOKEN", STATIC)
    monkeypatch.setenv("LLMGENIE_API_TOKEN_ROLE", "viewer")
    with serve_api() as client:
        yield client


def _claims(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=10),
        "llmgenie_role": "operator",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def rs256(**changes: Any) -> str:
    return jwt.encode(_claims(**changes), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})


def _unsigned(**changes: Any) -> str:
    return jwt.encode(_claims(**changes), None, algorithm="none")  # type: ignore[arg-type]


def _refusals() -> list[dict[str, Any]]:
    from llmgenie.core.storage import open_store

    return [e.data | {"actor": e.actor} for e in open_store().audit_log.events()]


def _get(api: httpx.Client, token: str) -> httpx.Response:
    return api.get("/v1/tasks", headers={"Authorization": f"Bearer {token}"})


HOUR = timedelta(hours=1)
NOW = datetime.now(UTC)

BAD_TOKENS: dict[str, tuple[Any, int, str]] = {
    "expired": (lambda: rs256(exp=datetime.now(UTC) - HOUR), 401, "token expired"),
    "not yet valid": (lambda: rs256(nbf=datetime.now(UTC) + HOUR), 401, "token not yet valid"),
    "wrong issuer": (lambda: rs256(iss="https://evil.test"), 401, "token from another issuer"),
    "wrong audience": (lambda: rs256(aud="someone-else"), 401, "token for another audience"),
    "wrong key": (
        lambda: jwt.encode(_claims(), STRANGER, algorithm="RS256", headers={"kid": "rsa-1"}),
        401,
        "token signature does not verify",
    ),
    "unknown kid": (
        lambda: jwt.encode(_claims(), STRANGER, algorithm="RS256", headers={"kid": "rsa-9"}),
        401,
        "no key of LLMGENIE_API_JWKS signs this token",
    ),
    "wrong secret": (
        lambda: jwt.encode(_claims(), "x" * 40, algorithm="HS256"),
        401,
        "token signature does not verify",
    ),
    "alg none": (lambda: _unsigned(), 401, "signing algorithm 'none' is not accepted"),
    "no exp": (lambda: rs256(exp=None), 401, "token without 'exp'"),
    "not a token": (
        lambda: "Basic-looking garbage",
        401,
        "the bearer is neither the static token nor a signed one",
    ),
    "role above any grant": (
        lambda: rs256(llmgenie_role="superadmin"),
        403,
        "the role claim 'llmgenie_role' names none of viewer, operator, maintainer, admin",
    ),
    "role not a name": (
        lambda: rs256(llmgenie_role=["admin"]),
        403,
        "the role claim 'llmgenie_role' names none of viewer, operator, maintainer, admin",
    ),
    "no role claim": (
        lambda: rs256(llmgenie_role=None),
        403,
        "token without the role claim 'llmgenie_role'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_token_is_refused_and_audited_without_the_token(api: httpx.Client, case: str) -> None:
    make, code, reason = BAD_TOKENS[case]
    token = make()
    answer = _get(api, token)
    assert answer.status_code == code, answer.text
    assert answer.json() == {"detail": reason}
    events = _refusals()
    assert {"actor": "unverified", "path": "/v1/tasks", "status": code, "reason": reason} in events
    assert token not in json.dumps(events, default=str)


def test_no_token_is_refused_and_audited(api: httpx.Client) -> None:
    assert api.get("/v1/tasks").status_code == 401
    assert {
        "actor": "unverified",
        "path": "/v1/tasks",
        "status": 401,
        "reason": "missing bearer token",
    } in _refusals()


def test_good_tokens_of_each_kind_are_accepted(api: httpx.Client) -> None:
    es256 = jwt.encode(_claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    hs256 = jwt.encode(_claims(), SECRET, algorithm="HS256")
    for token in (rs256(), es256, hs256, STATIC):
        assert _get(api, token).status_code == 200, token
    assert not [e for e in _refusals() if "reason" in e]


@pytest.mark.parametrize(
    ("token", "actor", "body_role"),
    [
        (lambda: rs256(llmgenie_role="operator"), "alice", "admin"),
        (lambda: rs256(llmgenie_role="viewer"), "alice", "operator"),
        (lambda: STATIC, "api-token", "operator"),  # the static token's role here is viewer
    ],
)
def test_a_body_role_above_the_tokens_is_refused_and_audited(
    api: httpx.Client, token: Any, actor: str, body_role: str
) -> None:
    body = {"task": "audit", "target": str(EXAMPLE), "role": body_role, "caller": "root@prod"}
    answer = api.post("/v1/tasks", json=body, headers={"Authorization": f"Bearer {token()}"})
    assert answer.status_code == 403, answer.text
    assert "is above this caller's role" in answer.json()["detail"]
    refused = [e for e in _refusals() if e.get("reason", "").startswith(f"role {body_role}")]
    assert [e["actor"] for e in refused] == [actor]


def test_the_openapi_document_declares_bearer_and_client_credentials(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {"type": "http", "scheme": "bearer", "description": _bearer()}
    flow = schemes["OIDC"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == f"{ISSUER}/protocol/openid-connect/token"
    assert {"HTTPBearer": []} in document["paths"]["/v1/tasks"]["post"]["security"]


def _bearer() -> str:
    from llmgenie.interfaces.api.auth import _bearer as scheme

    return str(scheme.model.description)


def test_the_websocket_takes_the_same_tokens(api: httpx.Client) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = str(api.base_url).replace("http://", "ws://").rstrip("/") + "/v1/tasks/nope/events"
    for token, code in ((rs256(exp=datetime.now(UTC) - HOUR), 401), (rs256(aud="x"), 401)):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers={"Authorization": f"Bearer {token}"})
        assert refused.value.response.status_code == code
    with connect(url, additional_headers={"Authorization": f"Bearer {rs256()}"}) as ws:
        assert json.loads(ws.recv(timeout=30))["status"] == "unknown"
    paths = [e["path"] for e in _refusals() if e.get("status") == 401]
    assert paths == ["/v1/tasks/nope/events"] * 2


def test_a_good_tokens_sub_is_the_actor_and_a_lower_body_role_is_used(api: httpx.Client) -> None:
    token = rs256(sub="ci@platform", llmgenie_role="maintainer")
    body = {"task": "audit the manifests", "target": str(EXAMPLE), "role": "viewer"}
    body["caller"] = "alice@prod"  # not the body's to say: ignored
    headers = {"Authorization": f"Bearer {token}"}
    accepted = api.post("/v1/tasks", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    url = accepted.json()["report_url"]
    wait_until(
        lambda: api.get(url, headers=headers).json()["status"],
        "the task to end",
        until=lambda status: status not in ("pending", "running"),
    )
    granted = [e for e in _refusals() if "capabilities" in e]
    assert granted and {(e["actor"], e["role"]) for e in granted} == {("ci@platform", "viewer")}
