"""The adapter contract: how a notice reaches a platform's IP-protection channel.

An adapter declares what it is with class attributes and does two things: `submit` a notice and
`check` the platform's decisions on it (`ListingDecision`: a listing's status, one of
`bot.core.states.DECISIONS`). It raises one of three typed errors, which the delivery layer
(`bot.delivery.submit`) turns into retries, failures or a hold for a person. Adapters never touch
Slack or the database.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.states import ListingStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    import aiohttp

    from bot.config.schema import Right, RightsHolder
    from storage.tokens import HeldTokens


class TokenSlot(Protocol):
    """A grant's kept tokens, while its lock is held."""

    async def load(self) -> HeldTokens | None: ...

    async def save(self, held: HeldTokens) -> None: ...


class TokenStore(Protocol):
    def exclusive(self, key: str) -> AbstractAsyncContextManager[TokenSlot]:
        """Held while a refresh runs: one refresh per key at a time, across processes. What is
        saved through the slot is kept once the block ends without an error."""
        ...


class AdapterError(Exception):
    """A delivery problem; `str(error)` is the message a person sees in the thread."""


class TransientError(AdapterError):
    """Network trouble, a timeout before sending, 5xx, 429: safe to try again (after `retry_after`)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(AdapterError):
    """The platform refused the notice (validation, authorisation): retrying will not help."""


class AmbiguousError(AdapterError):
    """The request may have reached the platform; on a non-idempotent channel never resend blindly."""


class AdapterOptions(BaseModel):
    """Base of each adapter's own settings (the adapter-specific keys of a `platforms:` entry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class NoticeListing:
    listing_id: int
    platform: str
    key: str
    url: str
    seller: str | None = None
    reference: str | None = None  # the platform's own id for this listing, once known


@dataclass(frozen=True, slots=True)
class OutgoingNotice:
    """Everything a channel needs to file one notice; built once by `bot.delivery.notices`."""

    notice_id: int
    case_ref: str
    platform: str
    channel: str
    idempotency_key: str
    brand: str
    right: Right
    rights_holder: RightsHolder
    infringement: str
    description: str
    evidence: tuple[str, ...]
    listings: tuple[NoticeListing, ...]
    subject: str
    text: str
    eu: bool = False
    reference: str | None = None  # set once submitted, for `check`


@dataclass(frozen=True, slots=True)
class ListingDecision:
    listing_id: int
    status: ListingStatus
    reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a channel answered to a submission."""

    reference: str | None
    decisions: tuple[ListingDecision, ...] = ()
    awaiting_person: bool = (
        False  # portal: a person files it and confirms with the complaint number
    )
    detail: dict[str, Any] = field(default_factory=dict)


class Adapter:
    """Base class of every adapter; subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    platforms: ClassVar[tuple[str, ...]] = ()  # platforms it can serve; () means any
    max_batch: ClassVar[int] = 50
    idempotent: ClassVar[bool] = (
        False  # may a submission be resent without creating a second notice?
    )
    can_check: ClassVar[bool] = False  # can it ask the platform for decisions (poll)?
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions

    # Where OAuth tokens that change with each refresh are kept for every process (the
    # database); set by the runtime after construction, ignored by adapters without `oauth:`.
    token_store: TokenStore | None = None
    # Where secrets the adapter obtains at run time (OAuth tokens) are reported, by group, so they
    # are scrubbed from logs, stored errors and thread messages; set by the runtime.
    secret_sink: Callable[[str, list[str]], None] | None = None

    def __init__(
        self, options: AdapterOptions, *, platform: str, http: aiohttp.ClientSession
    ) -> None:
        self.options = options
        self.platform = platform
        self.http = http

    async def submit(self, notice: OutgoingNotice) -> Receipt:
        """File the notice; raise Transient/Permanent/AmbiguousError on failure."""
        raise PermanentError(f"the {self.name} adapter cannot submit notices")

    async def check(self, notice: OutgoingNotice) -> list[ListingDecision]:
        """The platform's current decision for each listing of a submitted notice."""
        return []

    async def find_existing(self, notice: OutgoingNotice) -> Receipt | None:
        """After an ambiguous submission: the receipt if the platform did get it, None if it did not.

        Raise AmbiguousError when the channel cannot tell; the notice is then held for a person.
        """
        raise AmbiguousError("this channel cannot tell whether the notice arrived")
