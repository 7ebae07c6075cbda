"""The REST API's authentication without a server: `token create` issues what the API accepts,
a JWKS file serves as well as a URL, `llmgenie api` will not serve the network unauthenticated,
and a secret that cannot be used is not repeated in the error."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from llmgenie.core.models import Role
from llmgenie.core.settings import Settings
from llmgenie.interfaces.api.auth import ANONYMOUS, Authenticator, AuthRefused, Principal
from tests.support.cli import run_cli

SECRET = "k" * 40


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from llmgenie.core.settings import get_settings

    monkeypatch.setenv("LLMGENIE_API_JWT_SECRET", SECRET)
    monkeypatch.setenv("LLMGENIE_API_JWT_ISSUER", "llmgenie")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("secret")
def test_token_create_issues_what_the_api_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from llmgenie.core.settings import get_settings

    code, out, err = run_cli(capsys, "token", "create", "--sub", "ci", "--role", "maintainer")
    assert (code, err) == (0, "")
    token = out.strip()
    assert Authenticator(get_settings()).verify(token) == Principal("ci", Role.maintainer)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="llmgenie")
    assert claims["exp"] - claims["iat"] == 8 * 3600


@pytest.mark.usefixtures("secret")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role", "root"], "role: 'root' is not one of viewer, operator, maintainer, admin"),
        (["--role", "viewer", "--ttl", "8 weeks"], "--ttl: '8 weeks' is not a duration"),
        (["--role", "viewer", "--ttl", "0h"], "--ttl: 0h is not between 1s and 366d"),
    ],
)
def test_token_create_refuses_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, "token", "create", "--sub", "ci", *argv)
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1


def test_token_create_needs_the_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmgenie.core.settings import get_settings

    monkeypatch.delenv("LLMGENIE_API_JWT_SECRET", raising=False)
    get_settings.cache_clear()
    code, _, err = run_cli(capsys, "token", "create", "--sub", "ci", "--role", "viewer")
    assert code == 2 and "LLMGENIE_API_JWT_SECRET is not set" in err


def test_a_short_secret_is_refused_and_not_repeated(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmgenie.core.settings import get_settings

    monkeypatch.setenv("LLMGENIE_API_JWT_SECRET", "hunter2-short")
    get_settings.cache_clear()
    code, _, err = run_cli(capsys, "token", "create", "--sub", "ci", "--role", "viewer")
    get_settings.cache_clear()
    assert code == 2 and "shorter than 32 bytes" in err and "hunter2" not in err


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "api.example.test"])
def test_api_will_not_serve_the_network_unauthenticated(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    from llmgenie.core.settings import get_settings

    for name in ("LLMGENIE_API_TOKEN", "LLMGENIE_API_JWT_SECRET", "LLMGENIE_API_JWKS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()

    def serve(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"served {host} with no authentication")

    monkeypatch.setattr("uvicorn.run", serve)  # refused before it: nothing to stop
    code, _, err = run_cli(capsys, "api", "--host", host)
    assert code == 2 and "no authentication" in err and "--insecure" in err


def test_loopback_is_loopback() -> None:
    from llmgenie.interfaces.cli.api import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.9.9.9"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.1", "example.test"))


def test_a_jwks_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    first, second = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "12")
    jwks = tmp_path / "jwks.json"

    def publish(key: rsa.RSAPrivateKey, mtime: int) -> None:
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "k"}
        jwks.write_text(json.dumps({"keys": [jwk]}))
        os.utime(jwks, (mtime, mtime))

    def token(key: rsa.RSAPrivateKey) -> str:
        claims = {"sub": "bob", "exp": 4_000_000_000, "llmgenie_role": "viewer"}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k"})

    publish(first, 1_000)
    auth = Authenticator(Settings(api_jwks=str(jwks)))
    assert auth.verify(token(first)) == Principal("bob", Role.viewer)
    publish(second, 2_000)  # rotated in place
    assert auth.verify(token(second)) == Principal("bob", Role.viewer)
    with pytest.raises(AuthRefused, match="does not verify"):
        auth.verify(token(first))


def test_nothing_configured_is_anonymous_operator() -> None:
    assert Authenticator(Settings()).verify(None) == Principal(ANONYMOUS, Role.operator)


def test_an_hs256_token_is_not_checked_against_jwks_keys(tmp_path: Path) -> None:
    """Algorithm confusion: with only a JWKS configured, HS256 is refused outright."""
    jwks = tmp_path / "jwks.json"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks.write_text(json.dumps({"keys": [RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)]}))
    forged = jwt.encode({"sub": "eve", "exp": 4_000_000_000}, "x" * 40, algorithm="HS256")
    with pytest.raises(AuthRefused, match="'HS256' is not accepted"):
        Authenticator(Settings(api_jwks=str(jwks))).verify(forged)


def test_settings_refuse_a_plain_http_jwks_off_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        Settings(api_jwks="http://idp.example.test/certs")
    assert Settings(api_jwks="http://127.0.0.1:8080/certs").api_jwks
