"""Access tokens the adapter gets itself (OAuth 2.0), for the API adapters.

A platform's access token lives hours (eBay: 2 h, Mercado Libre: 6 h); its refresh token lives
months. With an `oauth:` block in a platform entry the adapter asks the platform's token endpoint
for an access token (RFC 6749 §6 with a refresh token; §4.4, client credentials, without one) when
it first needs one, keeps it until shortly before it expires, and asks again when the platform
refuses it (401), once per request (`authorised`). One refresh at a time per process: requests
that need a token while one is being fetched wait for it.

Where the refresh token stays the same (eBay) each process keeps its own access token in memory.
Where each refresh hands out a new refresh token and retires the old one (Mercado Libre, a grant
that `rotates`), the current tokens live in a `TokenStore` every process shares (the database,
`storage.tokens`), and a refresh holds the store's lock for the key, so two processes never spend
the same refresh token.

Every value of the exchange is a secret: the client secret, the refresh token and the access
token are never logged nor put in an error message, and the ones the platform hands out are added
to the log redaction as they arrive.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Protocol, Self

import aiohttp
from pydantic import SecretStr, field_validator, model_validator

from bot.adapters.base import Adapter, AdapterError, AdapterOptions, PermanentError, TransientError
from bot.adapters.http import ApiOptions, Reply, request
from storage.tokens import HeldTokens

log = logging.getLogger(__name__)

# Refresh this long before the platform's stated expiry (clocks, slow requests).
EARLY = 300.0
# Assumed lifetime when the answer states none.
DEFAULT_LIFETIME = 3600.0


class OAuthGrant(AdapterOptions):
    """The `oauth:` keys of a platform entry: where and how to get access tokens."""

    # How the client authenticates at the token endpoint: HTTP Basic, or in the form.
    credentials_in: ClassVar[str] = "header"
    # Does each refresh hand out a new refresh token and retire the one used?
    rotates: ClassVar[bool] = False

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


class TokenStore(Protocol):
    def exclusive(self, key: str) -> AbstractAsyncContextManager[None]:
        """Held while a refresh runs: one refresh per key at a time, across processes."""
        ...

    async def load(self, key: str) -> HeldTokens | None: ...

    async def save(self, key: str, held: HeldTokens) -> None: ...


class MemoryStore:
    """A process's own store (a grant that does not rotate, or no database at hand)."""

    def __init__(self) -> None:
        self._held: dict[str, HeldTokens] = {}

    @contextlib.asynccontextmanager
    async def exclusive(self, key: str) -> AsyncIterator[None]:
        yield

    async def load(self, key: str) -> HeldTokens | None:
        return self._held.get(key)

    async def save(self, key: str, held: HeldTokens) -> None:
        self._held[key] = held


class AccessTokens:
    """A platform's current access token, fetched when needed."""

    def __init__(
        self,
        grant: OAuthGrant,
        *,
        platform: str,
        key: str,
        timeout: float,
        store: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
        redact: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.grant = grant
        self.platform = platform
        self.key = key
        self.timeout = timeout
        self.store: TokenStore = store if store is not None and grant.rotates else MemoryStore()
        self.clock = clock
        self.redact = redact or _redact_in_logs
        configured = grant.refresh_token.get_secret_value() if grant.refresh_token else ""
        self.seed = hashlib.sha256(f"{grant.client_id}\0{configured}".encode()).hexdigest()
        self._held: HeldTokens | None = None  # the freshest this process knows
        self._refused: str | None = None  # the last access token the platform refused
        self._lock = asyncio.Lock()

    def _usable(self, held: HeldTokens | None) -> str | None:
        if held is None or held.seed != self.seed or held.access_token is None:
            return None
        if held.access_token == self._refused or self.clock() >= held.good_until:
            return None
        return held.access_token

    async def get(self, http: aiohttp.ClientSession) -> str:
        """A token the platform should accept; fetched when there is none or it is about to expire."""
        if token := self._usable(self._held):
            return token
        async with self._lock:
            if token := self._usable(self._held):
                return token  # fetched while this request waited
            try:
                async with self.store.exclusive(self.key):
                    stored = await self.store.load(self.key)
                    # The store's, unless this process knows a newer one (its last save failed).
                    newer = self._held is None or (
                        stored is not None and stored.good_until >= self._held.good_until
                    )
                    if stored is not None and stored.seed == self.seed and newer:
                        self._held = stored
                    if token := self._usable(self._held):
                        return token
                    return await self._renew(http)
            except AdapterError:
                raise
            except Exception as exc:  # the database, for a grant kept there
                raise TransientError(
                    f"could not reach {self.platform}'s OAuth tokens in the database: "
                    f"{type(exc).__name__}"
                ) from exc

    async def _renew(self, http: aiohttp.ClientSession) -> str:
        kept = self._held if self._held is not None and self._held.seed == self.seed else None
        refresh = kept.refresh_token if kept and kept.refresh_token else None
        if refresh is None and self.grant.refresh_token is not None:
            refresh = self.grant.refresh_token.get_secret_value()
        token, lifetime, rotated = await self._fetch(http, refresh)
        self.redact([value for value in (token, rotated) if value])
        self._held = HeldTokens(
            seed=self.seed,
            refresh_token=rotated or refresh,
            access_token=token,
            good_until=self.clock() + max(lifetime - EARLY, lifetime / 2),
        )
        self._refused = None
        try:
            await self.store.save(self.key, self._held)
        except Exception as exc:
            # This process goes on with what it holds; the next refresh saves again.
            log.error(
                "could not keep %s's new OAuth tokens in the database (%s); this process holds "
                "them and saves them at its next refresh",
                self.platform,
                type(exc).__name__,
            )
        return token

    def refused(self, token: str) -> None:
        """The platform refused `token` (401): the next `get` fetches another (unless that has
        happened already)."""
        self._refused = token

    async def _fetch(
        self, http: aiohttp.ClientSession, refresh: str | None
    ) -> tuple[str, float, str | None]:
        """(access token, lifetime in seconds, the new refresh token if the platform gave one)."""
        grant = self.grant
        secret = grant.client_secret.get_secret_value()
        if refresh is not None:
            form = {"grant_type": "refresh_token", "refresh_token": refresh}
            refused = "the refresh token"
            fix = "create a new refresh token and put it in the environment variable the "
            fix += "oauth.refresh_token key names"
        else:
            form = {"grant_type": "client_credentials"}
            refused = "the app's credentials"
            fix = "check oauth.client_id and the client secret in the environment"
        if grant.scope:
            form["scope"] = grant.scope
        headers = {"Accept": "application/json"}
        if grant.credentials_in == "header":
            pair = f"{grant.client_id}:{secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form |= {"client_id": grant.client_id, "client_secret": secret}
        action = "getting an access token"
        reply = await request(
            http,
            "POST",
            grant.token_url,
            platform=self.platform,
            action=action,
            created="",
            # Asking again is harmless, unless the refresh token rotates: then it may be spent.
            idempotent=True,
            headers=headers,
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
        rotated = data.get("refresh_token")
        return token, seconds, rotated if isinstance(rotated, str) and rotated else None


class OAuthApiOptions(ApiOptions):
    """An API adapter's keys when it can renew its own access tokens: `token` (an access token,
    which expires) or `oauth` (a grant the adapter exchanges for access tokens as they expire)."""

    token: SecretStr | None = None  # type: ignore[assignment]
    oauth: OAuthGrant | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.token is None and self.oauth is None:
            raise ValueError(
                f"set token (an access token, e.g. ${{{self.environment_name}}}) or oauth "
                "(client_id, client_secret and refresh_token, so expiring access tokens are "
                "renewed)"
            )
        if self.token is not None and self.oauth is not None:
            raise ValueError("set token or oauth, not both")
        return self


class OAuthAdapter(Adapter):
    """An API adapter whose options are `OAuthApiOptions`; `call_with_token` sends its requests."""

    company: ClassVar[str]  # the platform as messages name it ("eBay")

    @functools.cached_property
    def tokens(self) -> AccessTokens | None:
        """With `oauth:`, the access tokens it renews (made on first use, once the runtime has
        given the adapter its token store)."""
        assert isinstance(self.options, OAuthApiOptions)
        grant = self.options.oauth
        if grant is None:
            return None
        return AccessTokens(
            grant,
            platform=self.company,
            key=f"{self.name}:{grant.client_id}",
            timeout=self.options.timeout,
            store=self.token_store,
        )

    async def call_with_token(self, send: Callable[[str], Awaitable[Reply]]) -> Reply:
        assert isinstance(self.options, OAuthApiOptions)
        return await authorised(self.tokens, self.options.token, self.http, send)


async def authorised(
    tokens: AccessTokens | None,
    static: SecretStr | None,
    http: aiohttp.ClientSession,
    send: Callable[[str], Awaitable[Reply]],
) -> Reply:
    """`send` with the access token; with `tokens`, a token the platform refuses (401) is renewed
    and `send` runs once more (a refused request did nothing, so even a POST may go again)."""
    for attempt in range(2):
        if tokens is not None:
            token = await tokens.get(http)
        else:
            token = static.get_secret_value() if static is not None else ""
        reply = await send(token)
        if reply.status != 401 or tokens is None or attempt:
            return reply
        tokens.refused(token)
    raise AssertionError("unreachable")


def _oauth_error(data: Any) -> str:
    """RFC 6749 §5.2's `error` and `error_description`, which hold no secret."""
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return "no reason given"
    description = data.get("error_description") or data.get("message")
    text = data["error"][:100]
    if isinstance(description, str) and description.strip():
        text += f" ({description.strip()[:300]})"
    return text


def _redact_in_logs(values: list[str]) -> None:
    from bot.logs import redact_also  # logs imports the adapters' options lazily; keep it so

    redact_also(values)
