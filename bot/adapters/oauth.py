"""Access tokens the adapter gets itself (OAuth 2.0), for the API adapters.

A platform's access token lives hours (eBay: 2 h); its refresh token lives months. With an
`oauth:` block in a platform entry the adapter asks the platform's token endpoint for an access
token (RFC 6749 §6 with a refresh token; §4.4, client credentials, without one) when it first
needs one, keeps it until shortly before it expires, and asks again when the
platform refuses it (401), once per request. One refresh at a time per process: requests that need
a token while one is being fetched wait for it. Each process keeps its own token (platforms issue
any number), so nothing is stored.

Every value of the exchange is a secret: the client secret, the refresh token and the access
token are never logged nor put in an error message.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import SecretStr, field_validator

from bot.adapters.base import AdapterOptions, PermanentError, TransientError
from bot.adapters.http import request

# Refresh this long before the platform's stated expiry (clocks, slow requests).
EARLY = 300.0
# Assumed lifetime when the answer states none.
DEFAULT_LIFETIME = 3600.0


class OAuthGrant(AdapterOptions):
    """The `oauth:` keys of a platform entry: where and how to get access tokens."""

    token_url: str
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr | None = None  # a user's grant; without one, the app's own
    scope: str | None = None  # space-separated, as the platform names them

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("client_secret", "refresh_token")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty (set it from the environment, e.g. ${VAR})")
        return value


class AccessTokens:
    """A platform's current access token, fetched when needed."""

    def __init__(
        self,
        grant: OAuthGrant,
        *,
        platform: str,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.grant = grant
        self.platform = platform
        self.timeout = timeout
        self.clock = clock
        self.refreshes = 0  # how many times a token was fetched (figures, tests)
        self._token: str | None = None
        self._good_until = 0.0
        self._lock = asyncio.Lock()

    async def get(self, http: aiohttp.ClientSession) -> str:
        """A token the platform should accept; fetched when there is none or it is about to expire."""
        if self._token is not None and self.clock() < self._good_until:
            return self._token
        async with self._lock:
            if self._token is not None and self.clock() < self._good_until:
                return self._token  # fetched while this request waited
            token, lifetime = await self._fetch(http)
            self._token = token
            self._good_until = self.clock() + max(lifetime - EARLY, lifetime / 2)
            return token

    def refused(self, token: str) -> None:
        """The platform refused `token` (401): the next `get` fetches another (unless that has
        happened already)."""
        if self._token == token:
            self._token = None

    async def _fetch(self, http: aiohttp.ClientSession) -> tuple[str, float]:
        grant = self.grant
        pair = f"{grant.client_id}:{grant.client_secret.get_secret_value()}"
        if grant.refresh_token is not None:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": grant.refresh_token.get_secret_value(),
            }
            refused = "the refresh token"
            fix = "create a new refresh token and put it in the environment variable the "
            fix += "oauth.refresh_token key names"
        else:
            form = {"grant_type": "client_credentials"}
            refused = "the app's credentials"
            fix = "check oauth.client_id and the client secret in the environment"
        if grant.scope:
            form["scope"] = grant.scope
        action = "getting an access token"
        reply = await request(
            http,
            "POST",
            grant.token_url,
            platform=self.platform,
            action=action,
            created="",
            idempotent=True,  # a refresh may be asked for again
            headers={
                "Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii"),
                "Accept": "application/json",
            },
            form=form,
            timeout=self.timeout,
        )
        data: Any = reply.json()
        if reply.status == 429 or reply.status >= 500 or reply.status == 408:
            raise TransientError(
                f"{self.platform} answered {reply.status} ({action}); it will be tried again"
            )
        if not reply.ok:
            raise PermanentError(
                f"{self.platform} refused {refused} ({action}, HTTP {reply.status}): "
                f"{_oauth_error(data)}; {fix}"
            )
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise TransientError(f"{self.platform}'s answer had no access token ({action})")
        lifetime = data.get("expires_in")
        seconds = (
            float(lifetime)
            if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0
            else DEFAULT_LIFETIME
        )
        self.refreshes += 1
        return token, seconds


def _oauth_error(data: Any) -> str:
    """RFC 6749 §5.2's `error` and `error_description`, which hold no secret."""
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return "no reason given"
    description = data.get("error_description")
    text = data["error"][:100]
    if isinstance(description, str) and description.strip():
        text += f" ({description.strip()[:300]})"
    return text
