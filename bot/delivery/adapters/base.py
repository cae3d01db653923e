"""The adapter contract: how a notice reaches a platform's IP-protection channel.

An adapter declares what it is with class attributes and does two things: `submit` a notice and
`check` the platform's decisions on it (`ListingDecision`: a listing's status, one of
`bot.core.states.DECISIONS`); where the channel allows, a third: `answer` a platform's request for
information (`can_answer`). It raises one of three typed errors, which the delivery layer
(`bot.delivery.submit`) turns into retries, failures or a hold for a person; an answer it cannot
read is an `UnreadableAnswer`, typed by what it means for the call (see there). It also knows the
shape of the platform's references (`parse_reference`). Adapters never touch Slack or the
database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.states import ListingStatus

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

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
    """The request may have reached the platform; on a non-idempotent channel never resend blindly.

    `copy` is what may have reached it, when the adapter got as far as building it: kept as an
    uncertain record of the notice."""

    def __init__(self, message: str, *, copy: SentCopy | None = None) -> None:
        super().__init__(message)
        self.copy = copy


class UnreadableAnswer(AdapterError):
    """The platform answered in a form the adapter cannot read: not JSON, a field missing, an
    unknown shape, a body over the size the adapters read.

    Never a quiet retry: a platform that changed its format answers the same way next time, so a
    person must see it, named. Raised as is by reads (`check`: the poll says it in the thread
    once and keeps polling); the two subclasses say what it means where more is at stake.
    """

    def __init__(self, platform: str, action: str, problem: str, *, then: str = "") -> None:
        super().__init__(
            f"{platform} answered in a form the bot cannot read ({action}): {problem}{then}"
        )
        self.platform = platform
        self.action = action
        self.problem = problem


class UnreadableReceipt(UnreadableAnswer, AmbiguousError):
    """The unreadable answer was to a submission, or to asking whether one arrived: the notice
    may have been filed, so this is an `AmbiguousError` (resent only on an idempotent channel,
    else reconciled or held for a person)."""


class UnreadableBeforeSending(UnreadableAnswer, PermanentError):
    """The unreadable answer came before the notice was sent (getting an access token): nothing
    was filed, and asking again would get the same answer, so this is a `PermanentError`."""


class InvalidReference(PermanentError):
    """A reference that cannot be the platform's: the message says what its references look like,
    for the person who typed it."""


REFERENCE_MAX = 200  # characters: the confirm form's own limit


def entered_reference(text: str) -> str:
    """`text` without surrounding whitespace; refused when nothing is left."""
    text = text.strip()
    if not text:
        raise InvalidReference("Enter the platform's complaint or report number.")
    return text


def free_text_reference(text: str) -> str:
    """A reference as any channel may hold it: one line of visible characters, at most 200.

    Control and format characters (line breaks, a bidirectional override, zero-width marks) are
    refused: the reference is shown in threads and sent to platforms.
    """
    text = entered_reference(text)
    if len(text) > REFERENCE_MAX:
        raise InvalidReference(
            f"A reference is at most {REFERENCE_MAX} characters; this one has {len(text)}."
        )
    if not text.isprintable():
        raise InvalidReference(
            "A reference is one line of visible characters, without line breaks, tabs or "
            "control characters."
        )
    return text


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
class EvidenceRef:
    """An evidence item that goes with a notice (`bot.delivery.sent_evidence`): a file a person
    added, or a capture of one of its listings that shows the listing. `data` holds its bytes
    when the channel attaches it (an email, within `evidence.attach_max_mb`); `url` is a signed
    download link the bot serves until `expires_at`, None when the bot cannot make links (no
    PUBLIC_URL or TAKEDOWN_SECRET_KEY)."""

    sha256: str
    name: str
    media_type: str
    size: int
    kind: str  # file | screenshot | page_pdf | capture (a WARC record: linked, never attached)
    url: str | None = None
    expires_at: datetime | None = None
    data: bytes | None = field(default=None, repr=False)

    @property
    def attached(self) -> bool:
        return self.data is not None


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
    # The case's evidence items that go with it (`evidence` is the links people pasted).
    evidence_items: tuple[EvidenceRef, ...] = ()


@dataclass(frozen=True, slots=True)
class ListingDecision:
    listing_id: int
    status: ListingStatus
    reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class SentCopy:
    """The notice exactly as the channel sent it: the bytes that left, and where they went.

    `media_type`: "message/rfc822" (an email, `message_id` set), "application/json" (a webhook's
    or an API's body, `path` the endpoint, relative to the channel's `base_url`), "text/plain" (a
    portal guide: the text and fields a person is shown, `path` the portal's address). Kept
    write-once by `bot.delivery.copies`.

    One copy per notice: every channel files a notice in one request (eBay one report of up to
    150 items, Mercado Libre one denounce per one-listing notice). A channel that needed several
    would keep them as one "application/json" copy, an array of `{"path", "body"}`."""

    media_type: str
    body: bytes
    message_id: str | None = None
    path: str | None = None
    in_reply_to: str | None = None  # an emailed answer's: the Message-ID it replies to


@dataclass(frozen=True, slots=True)
class AnswerFile:
    """A file a person attached to an answer, fetched from Slack."""

    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingAnswer:
    """A person's answer to a platform's request for information on a notice; built by
    `bot.delivery.answers.outgoing`. `text` is the whole answer as plain text (the person's words,
    the evidence links, the listings it concerns, the case); `message` the person's words alone."""

    answer_id: int
    idempotency_key: str  # stable for this answer: every attempt carries the same
    case_ref: str
    message: str
    evidence: tuple[str, ...]
    listings: tuple[NoticeListing, ...]
    subject: str  # the notice's subject as it was sent
    text: str
    files: tuple[AnswerFile, ...] = ()
    in_reply_to: str | None = None  # the Message-ID the notice's email went out with, if kept


@contextmanager
def copy_when_unsure(copy: SentCopy) -> Iterator[None]:
    """Inside it, an `AmbiguousError` carries `copy`: what may have reached the platform, kept
    as an uncertain record of the notice."""
    try:
        yield
    except AmbiguousError as exc:
        if exc.copy is None:
            exc.copy = copy
        raise


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a channel answered to a submission, and what it sent (`copy`)."""

    reference: str | None
    decisions: tuple[ListingDecision, ...] = ()
    awaiting_person: bool = (
        False  # portal: a person files it and confirms with the complaint number
    )
    detail: dict[str, Any] = field(default_factory=dict)
    copy: SentCopy | None = None


class Adapter:
    """Base class of every adapter; subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    platforms: ClassVar[tuple[str, ...]] = ()  # platforms it can serve; () means any
    max_batch: ClassVar[int] = 50
    idempotent: ClassVar[bool] = (
        False  # may a submission be resent without creating a second notice?
    )
    can_check: ClassVar[bool] = False  # can it ask the platform for decisions (poll)?
    # can it send a person's answer to the platform's request for information (`answer`)? If
    # not, the thread shows the answer for a person to pass on (bot.delivery.answers).
    can_answer: ClassVar[bool] = False
    # does it carry evidence files themselves (an email's attachments)? Others get signed links.
    attaches_files: ClassVar[bool] = False
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

    @classmethod
    def parse_reference(cls, text: str) -> str:
        """The platform's reference for a notice, from what a person typed (the confirm form) or
        a platform answered; raises InvalidReference, whose message says what the platform's
        references look like. This base takes free text (`free_text_reference`); adapters whose
        platform issues references of one shape, or put them in URL paths, check that shape."""
        return free_text_reference(text)

    # The defaults below ignore the notice: a channel without the step answers the same for any.
    async def submit(self, notice: OutgoingNotice) -> Receipt:  # noqa: ARG002
        """File the notice; raise Transient/Permanent/AmbiguousError on failure."""
        raise PermanentError(f"the {self.name} adapter cannot submit notices")

    async def check(self, notice: OutgoingNotice) -> list[ListingDecision]:  # noqa: ARG002
        """The platform's current decision for each listing of a submitted notice."""
        return []

    async def answer(
        self,
        notice: OutgoingNotice,  # noqa: ARG002
        answer: OutgoingAnswer,  # noqa: ARG002
    ) -> Receipt:
        """Send a person's answer to the platform's request for information on a sent notice;
        the receipt's `copy` is what left. Raises like `submit` (an `AmbiguousError` when the
        answer may have arrived). Only called when `can_answer`."""
        raise PermanentError(f"the {self.name} adapter cannot send answers")

    async def find_existing(self, notice: OutgoingNotice) -> Receipt | None:  # noqa: ARG002
        """After an ambiguous submission: the receipt if the platform did get it, None if it did not.

        Raise AmbiguousError when the channel cannot tell; the notice is then held for a person.
        """
        raise AmbiguousError("this channel cannot tell whether the notice arrived")
