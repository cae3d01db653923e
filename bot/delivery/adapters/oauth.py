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
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import aiohttp
from pydantic import SecretStr, field_validator, model_validator

from bot.config.logs import redact_issued
from bot.delivery.adapters.base import (
    Adapter,
    AdapterError,
    AdapterOptions,
    AmbiguousError,
    PermanentError,
    TokenSlot,
    TokenStore,
    TransientError,
    UnreadableAnswer,
    UnreadableBeforeSending,
)
from bot.delivery.adapters.http import ApiOptions, Reply, request, retry_after

if TYPE_CHECKING:
    from storage.tokens import HeldTokens

log = logging.getLogger(__name__)
T = TypeVar("T")

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


class _MemorySlot:
    def __init__(self, held: dict[str, HeldTokens], key: str) -> None:
        self._held, self._key = held, key

    async def load(self) -> HeldTokens | None:
        return self._held.get(self._key)

    async def save(self, held: HeldTokens) -> None:
        self._held[self._key] = held


class MemoryStore:
    """A process's own store (a grant that does not rotate, or no database at hand)."""

    def __init__(self) -> None:
        self._held: dict[str, HeldTokens] = {}

    @contextlib.asynccontextmanager
    async def exclusive(self, key: str) -> AsyncIterator[TokenSlot]:
        yield _MemorySlot(self._held, key)


class _StoreFailed(Exception):
    """The store could not be read or written (the database is away)."""


async def _kept(call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as exc:
        raise _StoreFailed(type(exc).__name__) from None


class AccessTokens:
    """A platform's current access token, fetched when needed.

    A refresh runs as a task of its own that callers wait on (shielded): a request cancelled
    while the platform answers does not cancel the refresh, so a refresh token spent is never
    lost with its successor unread. `settle` waits for a running refresh (at shutdown).
    """

    def __init__(
        self,
        grant: OAuthGrant,
        *,
        platform: str,
        key: str,
        timeout: float,
        store: TokenStore | None = None,
        clock: Callable[[], float] = time.time,
        reveal: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self.grant = grant
        self.platform = platform
        self.key = key
        self.timeout = timeout
        if grant.rotates and store is None:
            log.warning(
                "%s: its refresh token changes with each use, but no shared store was given; "
                "this process keeps it alone (another process would spend it too)",
                platform,
            )
        self.store: TokenStore = store if store is not None and grant.rotates else MemoryStore()
        self.clock = clock
        self.reveal = reveal or _redact_in_logs  # tokens handed out, to be scrubbed everywhere
        configured = grant.refresh_token.get_secret_value() if grant.refresh_token else ""
        self.seed = hashlib.sha256(f"{grant.client_id}\0{configured}".encode()).hexdigest()
        self._held: HeldTokens | None = None  # the freshest this process knows
        self._unsaved = False  # _held holds tokens the store does not have yet
        self._refused: str | None = None  # the last access token the platform refused
        self._refreshing: asyncio.Task[str] | None = None

    def _usable(self, held: HeldTokens | None) -> str | None:
        if held is None or held.seed != self.seed or held.access_token is None:
            return None
        if held.access_token == self._refused or self.clock() >= held.good_until:
            return None
        return held.access_token

    async def get(self, http: aiohttp.ClientSession) -> str:
        """A token the platform should accept; fetched when there is none or it is about to expire."""
        if not self._unsaved and (token := self._usable(self._held)):
            return token
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(
                self._refresh(http), name=f"oauth-refresh-{self.key}"
            )
            self._refreshing.add_done_callback(_consume)
        return await asyncio.shield(self._refreshing)

    async def settle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 (a shutdown bound)
        """Let a running refresh finish and keep what it got (before the process closes)."""
        if self._refreshing is not None and not self._refreshing.done():
            await asyncio.wait({self._refreshing}, timeout=timeout)

    def refused(self, token: str) -> None:
        """The platform refused `token` (401): the next `get` fetches another, unless that has
        happened already (a refusal of an older token changes nothing)."""
        if self._held is not None and self._held.access_token == token:
            self._refused = token

    async def _refresh(self, http: aiohttp.ClientSession) -> str:
        token: str | None = None
        entered = False
        try:
            async with self.store.exclusive(self.key) as slot:
                entered = True
                token = await self._refresh_holding(http, slot)
        except _StoreFailed as exc:
            raise TransientError(
                f"could not reach {self.platform}'s OAuth tokens in the database: {exc}"
            ) from None
        except AdapterError:
            raise
        except Exception as exc:
            if token is not None:
                # Only keeping the new tokens failed (the commit): use them; save them next time.
                self._unsaved = True
                log.error(
                    "could not keep %s's new OAuth tokens in the database (%s); this process "
                    "holds them and saves them at its next token request",
                    self.platform,
                    type(exc).__name__,
                )
                return token
            if entered:
                raise
            raise TransientError(
                f"could not take the lock on {self.platform}'s OAuth tokens: {type(exc).__name__}"
            ) from None
        return token

    async def _load(self, slot: TokenSlot) -> HeldTokens | None:
        """What the store keeps for this grant. Tokens no key decrypts are an error a person must
        fix, unless they were kept for a refresh token the configuration no longer gives (the
        team signed in again, perhaps because the key was lost): those are replaced."""
        from storage.tokens import TokensUnreadable

        try:
            return await slot.load()
        except TokensUnreadable as exc:
            if exc.seed != self.seed:
                return None
            raise PermanentError(
                f"{self.platform}'s OAuth tokens kept in the database cannot be decrypted: "
                f"{exc.reason}. Set TAKEDOWN_SECRET_KEY to the key that encrypted them (while "
                "rotating keys: the new key first, then the old one), or create a new refresh "
                "token and put it in the environment variable the oauth.refresh_token key names"
            ) from None
        except Exception as exc:
            raise _StoreFailed(type(exc).__name__) from None

    async def _refresh_holding(self, http: aiohttp.ClientSession, slot: TokenSlot) -> str:
        stored = await self._load(slot)
        # The store's, unless this process holds newer ones it could not save.
        if stored is not None and stored.seed == self.seed:
            if (
                self._held is None
                or not self._unsaved
                or stored.good_until >= self._held.good_until
            ):
                self._held, self._unsaved = stored, False
            # Another process's refresh may have rotated the refresh token: both are secrets.
            kept = [value for value in (stored.access_token, stored.refresh_token) if value]
            if kept:
                self.reveal(self.key, kept)
        if self._unsaved and self._held is not None:
            await _kept(slot.save(self._held))
            self._unsaved = False
        if token := self._usable(self._held):
            return token
        return await self._renew(http, slot)

    async def _renew(self, http: aiohttp.ClientSession, slot: TokenSlot) -> str:
        kept = self._held if self._held is not None and self._held.seed == self.seed else None
        refresh = kept.refresh_token if kept and kept.refresh_token else None
        if refresh is None and self.grant.refresh_token is not None:
            refresh = self.grant.refresh_token.get_secret_value()
        # Imported here: validating app.yaml (`check-config`) loads this adapter, and need not load
        # the database layer that storage.tokens brings.
        from storage.tokens import HeldTokens

        token, lifetime, rotated = await self._fetch(http, refresh)
        self.reveal(self.key, [value for value in (token, rotated) if value])
        self._held = HeldTokens(
            seed=self.seed,
            refresh_token=rotated or refresh,
            access_token=token,
            good_until=self.clock() + max(lifetime - EARLY, lifetime / 2),
        )
        self._refused = None
        self._unsaved = True
        try:
            await _kept(slot.save(self._held))
            self._unsaved = False
        except _StoreFailed as exc:
            # This process goes on with what it holds and saves it at its next token request.
            log.error(
                "could not keep %s's new OAuth tokens in the database (%s); this process holds "
                "them and saves them at its next token request",
                self.platform,
                exc,
            )
        return token

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
        spendable = grant.rotates and refresh is not None  # asking twice may spend it
        spent = "; the refresh token may be spent with it, and the next try will say so"
        try:
            reply = await request(
                http,
                "POST",
                grant.token_url,
                platform=self.platform,
                action=action,
                created="a new refresh token",
                idempotent=not spendable,
                headers=headers,
                form=form,
                timeout=self.timeout,
            )
        except UnreadableAnswer as exc:  # too large to read: whatever it held, no token came
            raise UnreadableBeforeSending(
                self.platform, action, exc.problem, then=spent if spendable else ""
            ) from None
        except AmbiguousError as exc:
            # Sent but not answered: if it arrived, the refresh token is spent and its successor
            # lost; the next try finds out (invalid_grant) and says what to do.
            raise TransientError(
                f"{exc}; if so, the refresh token is spent and the next try will say so"
            ) from None
        data: Any = reply.json()
        if reply.status == 429 or reply.status >= 500 or reply.status == 408:
            raise TransientError(
                f"{self.platform} answered {reply.status} ({action}); it will be tried again",
                retry_after=retry_after(reply.headers.get("Retry-After")),
            )
        if not reply.ok:
            said = _oauth_error(data)
            for value in (refresh, secret):
                if value:
                    said = said.replace(value, "[redacted]")
            raise PermanentError(
                f"{self.platform} refused {refused} ({action}, HTTP {reply.status}): {said}; {fix}"
            )
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            # Nothing was sent with it yet, and asking again gets the same answer: a person looks.
            raise UnreadableBeforeSending(
                self.platform, action, "no access_token in it", then=spent if spendable else ""
            )
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
    """An API adapter whose options are `OAuthApiOptions`; `_call` sends its requests."""

    company: ClassVar[str]  # the platform as messages name it ("eBay")
    creates: ClassVar[str]  # what its POSTs make ("the report"), for a message when unsure

    def headers(self) -> dict[str, str]:
        """The headers of every request besides the token."""
        return {"Accept": "application/json"}

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
            reveal=self.secret_sink,
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        body: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        """One request to `base_url` + `path` (`body`: JSON bytes, `json_body`); transport failures
        become typed errors (ambiguous for a POST once sent). With `oauth`, an access token the
        platform refuses (401) is renewed and the request sent again: a refused one did nothing."""
        options = self.options
        assert isinstance(options, OAuthApiOptions)

        async def send(token: str) -> Reply:
            return await request(
                self.http,
                method,
                options.base_url + path,
                platform=self.company,
                action=action,
                created=self.creates,
                headers={**self.headers(), "Authorization": f"Bearer {token}"},
                timeout=options.timeout,
                body=body,
                params=params,
            )

        return await authorised(self.tokens, options.token, self.http, send)


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


def _redact_in_logs(group: str, values: list[str]) -> None:
    redact_issued(group, values)


def _consume(task: asyncio.Task[str]) -> None:
    """A refresh whose callers were all cancelled: its error is not left unretrieved."""
    if not task.cancelled():
        task.exception()
