"""Single sign-on with OpenID Connect: the authorization-code flow with PKCE.

leadtrail is the relying party. It reads the provider's discovery document, sends the browser
to the provider with a ``state``, a ``nonce`` and a PKCE challenge (kept in a signed,
short-lived cookie), exchanges the code for tokens, checks the ID token's signature against
the provider's published keys and its issuer, audience, expiry and nonce, and accepts only an
e-mail address the provider says it has verified. The account must exist already (an
administrator invites people): single sign-on proves who someone is, it does not let anyone
with an account at the provider in.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadSignature, TimestampSigner
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from leadtrail.errors import ConfigError, LeadtrailError, Unauthorized

FLOW_COOKIE = "leadtrail_oidc"
#: seconds a user has to finish signing in at the provider
FLOW_MAX_AGE = 600
#: discovery and keys are re-read after this long (providers rotate keys)
CACHE_SECONDS = 3600
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class ProviderUnavailable(LeadtrailError):
    status = 502
    default_code = "sso_provider_unavailable"


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"


class OidcClient:
    def __init__(self, config: OidcConfig, signing_key: bytes) -> None:
        self.config = config
        self._signer = TimestampSigner(signing_key, salt="leadtrail.oidc-flow")
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.get(url)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"the identity provider did not answer: {exc}") from None
        if not isinstance(data, dict):
            raise ProviderUnavailable("the identity provider answered something unexpected")
        return data

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or self._metadata[0] < time.monotonic():
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            data = await self._get_json(url)
            if data.get("issuer", "").rstrip("/") != self.config.issuer.rstrip("/"):
                raise ProviderUnavailable("the discovery document names another issuer")
            self._metadata = (time.monotonic() + CACHE_SECONDS, data)
        return self._metadata[1]

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if refresh or self._keys is None or self._keys[0] < time.monotonic():
            data = await self._get_json((await self.metadata())["jwks_uri"])
            self._keys = (time.monotonic() + CACHE_SECONDS, KeySet.import_key_set(data))  # type: ignore[arg-type]
        return self._keys[1]

    async def start(self, redirect_uri: str) -> tuple[str, str]:
        """The provider URL to send the browser to, and the flow cookie's value."""
        meta = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        cookie = self._signer.sign(
            orjson.dumps({"state": state, "nonce": nonce, "verifier": verifier})
        )
        return f"{meta['authorization_endpoint']}?{urlencode(query)}", cookie.decode()

    async def finish(self, *, code: str, state: str, cookie: str, redirect_uri: str) -> str:
        """The verified e-mail of whoever signed in; raises on anything that does not check out."""
        try:
            flow = orjson.loads(self._signer.unsign(cookie, max_age=FLOW_MAX_AGE))
        except (BadSignature, orjson.JSONDecodeError):
            raise Unauthorized(
                "the sign-in took too long or was not started here; try again", code="sso_failed"
            ) from None
        if not secrets.compare_digest(str(flow.get("state", "")), state):
            raise Unauthorized("the sign-in answer does not match its request", code="sso_failed")
        meta = await self.metadata()
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.post(
                    meta["token_endpoint"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": redirect_uri,
                        "code_verifier": flow["verifier"],
                    },
                    auth=(self.config.client_id, self.config.client_secret),
                )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the identity provider did not answer: {exc}") from None
        if response.status_code != 200:
            raise Unauthorized("the identity provider refused the sign-in", code="sso_failed")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise Unauthorized("the identity provider sent no ID token", code="sso_failed")
        claims = await self._verified_claims(id_token, flow["nonce"])
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is not True:
            raise Unauthorized(
                "the identity provider has not verified an e-mail address for this account",
                code="sso_unverified_email",
            )
        return email

    async def _verified_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        for refresh in (False, True):  # a key id we do not know yet: the provider rotated keys
            try:
                token = jwt.decode(
                    id_token, await self._key_set(refresh), algorithms=ID_TOKEN_ALGORITHMS
                )
                break
            except JoseError:
                if refresh:
                    raise Unauthorized(
                        "the ID token's signature does not verify", code="sso_failed"
                    ) from None
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": (await self.metadata())["issuer"]},
            aud={"essential": True, "value": self.config.client_id},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        )
        try:
            registry.validate(token.claims)
        except JoseError as exc:
            raise Unauthorized(
                f"the ID token is not valid here: {exc.error}", code="sso_failed"
            ) from None
        return dict(token.claims)


def config_from(
    issuer: str | None, client_id: str | None, client_secret: str | None, scopes: str
) -> OidcConfig | None:
    if not issuer:
        return None
    if not client_id or not client_secret:
        raise ConfigError(
            "single sign-on needs LEADTRAIL_OIDC_CLIENT_ID and LEADTRAIL_OIDC_CLIENT_SECRET"
        )
    return OidcConfig(issuer, client_id, client_secret, scopes)
