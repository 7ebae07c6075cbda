"""Who calls the REST API: a bearer token verified to a `Principal` (name and role), or refused.

Three ways, any of them at once (decision 0033): the one static `LLMGENIE_API_TOKEN` (its role is
`LLMGENIE_API_TOKEN_ROLE`); HS256 tokens signed with `LLMGENIE_API_JWT_SECRET` (`llmgenie token
create`); RS256/ES256 tokens of an OIDC provider, checked against its JWKS (`LLMGENIE_API_JWKS`, a
file or an https URL, cached). A signed token must carry `sub` and `exp`; `nbf` is checked when
present, `iss` and `aud` when configured. The caller is `sub`; the role is the claim
`LLMGENIE_API_ROLE_CLAIM`, which must name a role llmgenie has (that is what a token may grant).
With nothing configured (loopback only, or `llmgenie api --insecure`) every caller is `anonymous`
with the role `operator`. Every refusal is audited (`api.refused`) with its reason, never the token.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import HTTPException, Request, Security, status
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2
from jwt import PyJWK, PyJWKClient, PyJWKSet

from llmgenie.core import audit
from llmgenie.core.models import Role
from llmgenie.core.settings import Settings

__all__ = [
    "ANONYMOUS",
    "STATIC_TOKEN",
    "AuthRefused",
    "Authenticator",
    "Principal",
    "issue",
    "refuse_audited",
    "role_rank",
]

#: the actor of a caller when the API asks for no token, and of the static token
ANONYMOUS = "anonymous"
STATIC_TOKEN = "api-token"
#: the actor of a refused request: who it claims to be is not known
_UNVERIFIED = "unverified"
#: what the JWKS keys may sign with; HS256 only ever with the shared secret
_JWKS_ALGORITHMS = ("RS256", "ES256")
_LEEWAY_SECONDS = 30

_bearer = HTTPBearer(
    auto_error=False,
    description="`LLMGENIE_API_TOKEN`, a token of `llmgenie token create`, or an OIDC access token",
)


def role_rank(role: Role) -> int:
    """Roles are cumulative (core/permissions.py): viewer < operator < maintainer < admin."""
    return list(Role).index(role)


@dataclass(frozen=True)
class Principal:
    """A verified caller: its name (the audit actor) and the highest role it may act with."""

    name: str
    role: Role


class AuthRefused(HTTPException):
    """401 (who is it?) or 403 (not allowed), with the reason the audit log records."""

    def __init__(self, status_code: int, reason: str) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
        super().__init__(status_code, reason, headers=headers)
        self.reason = reason


class Authenticator:
    """The REST API's one check of a caller; a FastAPI dependency that answers a `Principal`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks_url: PyJWKClient | None = None
        self._jwks_file: tuple[float, PyJWKSet] | None = None
        self._lock = threading.Lock()
        source = settings.api_jwks
        if source and "://" in source:
            self._jwks_url = PyJWKClient(source, cache_keys=True, lifespan=300, timeout=10)

    # -- FastAPI ----------------------------------------------------------------------------

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        token = credentials.credentials if credentials is not None else None
        return await self.check(token, request.url.path)

    @property
    def dependency(self) -> Callable[..., Awaitable[Principal]]:
        """The FastAPI dependency: this check when the API authenticates; else one that answers
        `anonymous`, so the OpenAPI document declares no scheme the API does not ask for."""
        if self.settings.api_authenticates:
            return self

        async def anonymous() -> Principal:
            return Principal(ANONYMOUS, Role.operator)

        return anonymous

    def openapi_schemes(self) -> list[Any]:
        """The OAuth2 client-credentials scheme when an issuer is configured (for the OpenAPI
        document: the bearer scheme is declared by `__call__` itself)."""
        if not (self.settings.api_jwt_issuer and self.settings.api_authenticates):
            return []
        token_url = self.settings.api_oauth_token_url or (
            f"{self.settings.api_jwt_issuer.rstrip('/')}/protocol/openid-connect/token"
        )
        flows = OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=token_url))
        return [Security(OAuth2(flows=flows, auto_error=False, scheme_name="OIDC"))]

    # -- the check --------------------------------------------------------------------------

    async def check(self, token: str | None, where: str) -> Principal:
        """The caller of a request to `where` bearing `token`; AuthRefused, audited, if none."""
        try:
            return await asyncio.to_thread(self.verify, token)  # a JWKS URL is fetched
        except AuthRefused as exc:
            await refuse_audited(exc, _UNVERIFIED, where)
            raise

    async def lowered(self, caller: Principal, asked: Role | None, where: str) -> Role:
        """The role a request acts with: the caller's, or a lower one it asks for; a higher one
        is a 403, audited under the caller's name."""
        if asked is None:
            return caller.role
        if role_rank(asked) > role_rank(caller.role):
            exc = AuthRefused(
                status.HTTP_403_FORBIDDEN,
                f"role {asked.value} is above this caller's role {caller.role.value}",
            )
            await refuse_audited(exc, caller.name, where)
            raise exc
        return asked

    def verify(self, token: str | None) -> Principal:
        """The caller `token` identifies; AuthRefused says why not."""
        settings = self.settings
        if not settings.api_authenticates:
            return Principal(ANONYMOUS, Role.operator)
        if not token:
            raise AuthRefused(status.HTTP_401_UNAUTHORIZED, "missing bearer token")
        static = settings.api_token
        if static is not None and hmac.compare_digest(
            token.encode(), static.get_secret_value().encode()
        ):
            return Principal(STATIC_TOKEN, settings.api_token_role)
        if not (settings.api_jwt_secret or settings.api_jwks):
            raise AuthRefused(status.HTTP_401_UNAUTHORIZED, "wrong bearer token")
        claims = self._claims(token)
        return Principal(str(claims["sub"]), self._role_of(claims))

    def _claims(self, token: str) -> dict[str, Any]:
        settings = self.settings
        unauthorized = status.HTTP_401_UNAUTHORIZED
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            reason = "the bearer is neither the static token nor a signed one"
            raise AuthRefused(unauthorized, reason) from None
        key: Any
        if algorithm == "HS256" and settings.api_jwt_secret is not None:
            key = settings.api_jwt_secret.get_secret_value()
        elif algorithm in _JWKS_ALGORITHMS and settings.api_jwks:
            key = self._jwks_key(token)
        else:
            raise AuthRefused(unauthorized, f"signing algorithm {algorithm!r} is not accepted")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.api_jwt_audience,
                issuer=settings.api_jwt_issuer,
                leeway=_LEEWAY_SECONDS,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": settings.api_jwt_audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            reason = "token expired"
        except jwt.ImmatureSignatureError:
            reason = "token not yet valid"
        except jwt.InvalidIssuerError:
            reason = "token from another issuer"
        except jwt.InvalidAudienceError:
            reason = "token for another audience"
        except jwt.MissingRequiredClaimError as exc:
            reason = f"token without {exc.claim!r}"
        except jwt.InvalidSignatureError:
            reason = "token signature does not verify"
        except jwt.PyJWTError:
            reason = "token cannot be verified"
        raise AuthRefused(unauthorized, reason)

    def _jwks_key(self, token: str) -> Any:
        try:
            if self._jwks_url is not None:
                return self._jwks_url.get_signing_key_from_jwt(token).key
            kid = jwt.get_unverified_header(token).get("kid")
            keys = self._file_keys().keys
            match: list[PyJWK] = [k for k in keys if kid is None or k.key_id == kid]
            if not match:
                raise jwt.PyJWKClientError(f"no key {kid!r}")
            return match[0].key
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, jwt.PyJWKError, OSError):
            raise AuthRefused(
                status.HTTP_401_UNAUTHORIZED, "no key of LLMGENIE_API_JWKS signs this token"
            ) from None

    def _file_keys(self) -> PyJWKSet:
        """The JWKS file's keys, read again when the file changes (a key rotated in place)."""
        path = Path(self.settings.api_jwks or "")
        mtime = path.stat().st_mtime
        with self._lock:
            if self._jwks_file is None or self._jwks_file[0] != mtime:
                self._jwks_file = (mtime, PyJWKSet.from_json(path.read_text(encoding="utf-8")))
            return self._jwks_file[1]

    def _role_of(self, claims: dict[str, Any]) -> Role:
        claim = self.settings.api_role_claim
        value = claims.get(claim)
        if value is None:
            raise AuthRefused(status.HTTP_403_FORBIDDEN, f"token without the role claim {claim!r}")
        if isinstance(value, str) and value in {r.value for r in Role}:
            return Role(value)
        roles = ", ".join(r.value for r in Role)
        raise AuthRefused(
            status.HTTP_403_FORBIDDEN, f"the role claim {claim!r} names none of {roles}"
        )


def issue(settings: Settings, sub: str, role: Role, ttl: timedelta) -> str:
    """An HS256 token for `sub` with `role`, valid for `ttl` from now, as `verify` accepts it:
    `iss` and `aud` are the configured ones. ValueError without `LLMGENIE_API_JWT_SECRET`."""
    if settings.api_jwt_secret is None:
        raise ValueError("LLMGENIE_API_JWT_SECRET is not set: it is the key tokens are signed with")
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": sub,
        settings.api_role_claim: role.value,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
    }
    if settings.api_jwt_issuer:
        claims["iss"] = settings.api_jwt_issuer
    if settings.api_jwt_audience:
        claims["aud"] = settings.api_jwt_audience
    return jwt.encode(claims, settings.api_jwt_secret.get_secret_value(), algorithm="HS256")


async def refuse_audited(exc: AuthRefused, actor: str, where: str) -> None:
    """Record a refusal: who (as far as known), where, the status and the reason."""
    await asyncio.to_thread(
        audit.record,
        "api.refused",
        actor=actor,
        path=where,
        status=exc.status_code,
        reason=exc.reason,
    )
