"""The case lifecycle's first step: a report becomes a case.

`parse_report` checks a report against the team's configuration (pure, no I/O) and names every bad
line. `open_case` stores the case, its listings, its `opened` event, its notices and the jobs that
deliver them and post its status thread, in one transaction: all of it lands or none of it does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import aiohttp
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.schema import INFRINGEMENT_TYPES, RIGHT_KIND_FOR, AppConfig, Right
from bot.core.cases import MAX_LISTINGS_PER_CASE, case_ref, thread_link
from bot.core.listings import ListingURLError, ParsedListing, parse_listing_url
from bot.core.pasted import strip_invisible
from bot.core.states import ListingStatus
from bot.delivery.adapters.base import NoticeListing
from bot.delivery.elements import applies_eu, missing_elements
from bot.delivery.plan import plan_notices
from bot.delivery.states import move_listings
from bot.intake.bad_lines import BadLine, form_errors
from bot.intake.shortlinks import ShortLinkPolicy, resolve_short_links
from bot.jobs import payloads
from bot.jobs.notify import enqueue_parent_post
from bot.jobs.payloads import CaptureListing, capture_key
from bot.slack_ui.report_form import FILE_FIELD
from storage.cases import case_by_intake_key, hold_intake_lock, insert_case
from storage.db import Database
from storage.events import add_event
from storage.listings import (
    NewListing,
    OpenListing,
    find_open_listings,
    find_removed_listings,
    insert_listings,
)
from storage.models import Case

MAX_DESCRIPTION = 3000
MAX_EVIDENCE_LINKS = 20
MAX_SELLER = 200


# More of a report stored with its new case, in the same transaction: (session, case id).
AlsoStore = Callable[[AsyncSession, int], Awaitable[None]]


class ReportRejected(Exception):
    """The report cannot become a case; `errors` maps a form field to the message to show beside it.

    Its lines that cannot be filed are `bad_lines`, all of them; the messages show all but
    `unshown` of them, and `good` lines could be filed without them."""

    def __init__(
        self,
        errors: Mapping[str, str],
        *,
        bad_lines: Sequence[BadLine] = (),
        unshown: int = 0,
        good: int = 0,
    ) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)
        self.bad_lines = tuple(bad_lines)
        self.unshown = unshown
        self.good = good


@dataclass(frozen=True)
class FileLine:
    """One line of a URL file (CSV or TXT, read by `bot.intake.bulk`): its number in the file, its URL and
    seller, or the reason the file reader already refused it. Errors name it `file line N`."""

    line: int
    text: str
    seller: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ReportDraft:
    """What a person filled in (the modal, the CLI): raw text, not yet checked."""

    urls_text: str
    brand: str
    right_id: str
    infringement: str
    description: str = ""
    evidence_text: str = ""
    seller: str | None = None
    sellers: Mapping[int, str] = field(default_factory=dict)  # line number → seller (CSV input)
    skip_invalid: bool = False  # file the good lines, skipping those that cannot be filed
    file_lines: Sequence[FileLine] = ()  # listings from a file, besides those typed in urls_text
    # Short links already followed (bot.intake.shortlinks): the pasted text → its listing URL, or why not.
    resolved: Mapping[str, str | ListingURLError] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Every line that may hold a listing URL: typed and from the file."""
        return [*self.urls_text.splitlines(), *(item.text for item in self.file_lines)]


@dataclass(frozen=True)
class ParsedLine:
    line: int
    text: str
    listing: ParsedListing
    seller: str | None
    in_file: bool = False  # `line` is a line of the report's file, not of the typed text


@dataclass(frozen=True)
class ParsedReport:
    listings: list[ParsedLine]
    evidence: list[str]
    skipped: list[BadLine] = field(default_factory=list)  # with `skip_invalid`


@dataclass(frozen=True)
class OpenedCase:
    case_id: int
    listings: int
    created: bool  # False: this intake key had already opened the case (redelivery, double submit)
    skipped: tuple[BadLine, ...] = ()  # the lines left out (`skip_invalid`)

    @property
    def ref(self) -> str:
        return case_ref(self.case_id)


async def follow_short_links(
    draft: ReportDraft,
    *,
    http: aiohttp.ClientSession,
    policy: ShortLinkPolicy,
    timeout: float = 2.0,  # noqa: ASYNC109 (a budget within the 3 s Slack gives a submission)
) -> ReportDraft:
    """The draft with its short links (amzn.to, ebay.us, …) followed to their listings.

    Bounded by `timeout` in all (a form submission must be answered within 3 seconds); a link not
    followed in time, or leading elsewhere, becomes that line's error.
    """
    resolved = await resolve_short_links(draft.lines(), http=http, hosts=policy, timeout=timeout)
    return replace(draft, resolved=resolved) if resolved else draft


def parse_report(config: AppConfig, draft: ReportDraft) -> ParsedReport:
    """Check every field; raise ReportRejected naming each bad field (and each bad line). With
    `skip_invalid`, lines that cannot be filed are skipped, when at least one other line can be."""
    errors, right = _citation_errors(config, draft)
    listings, listing_errors, bad = _parse_listings(draft)
    errors.update(listing_errors)
    skipped = bad if draft.skip_invalid and listings else []
    if len(draft.description) > MAX_DESCRIPTION:
        errors["description"] = (
            f"at most {MAX_DESCRIPTION:,} characters (this one has {len(draft.description):,})"
        )
    evidence, evidence_error = _parse_evidence(draft.evidence_text)
    if evidence_error:
        errors["evidence"] = evidence_error
    if draft.seller and len(draft.seller) > MAX_SELLER:
        errors["seller"] = f"at most {MAX_SELLER} characters"
    if not errors and right is not None:
        errors.update(_missing_from_report(config, right, draft, listings))
    if errors or (bad and not skipped):
        raise _rejected(errors, [] if skipped else bad, good=len(listings))
    return ParsedReport(listings=listings, evidence=evidence, skipped=skipped)


def _rejected(errors: Mapping[str, str], bad: Sequence[BadLine], *, good: int) -> ReportRejected:
    """The refusal of a report with these field `errors` and `bad` lines (shown beside their
    fields, as many as fit), of which `good` could be filed without the bad ones."""
    lines, unshown = form_errors(bad, good=good)
    return ReportRejected({**errors, **lines}, bad_lines=bad, unshown=unshown, good=good)


def _citation_errors(config: AppConfig, draft: ReportDraft) -> tuple[dict[str, str], Right | None]:
    """What is wrong with the brand, the right and the infringement type; and the right cited."""
    errors: dict[str, str] = {}
    brand = config.brand(draft.brand)
    if brand is None:
        errors["brand"] = (
            f"unknown brand {draft.brand!r}; configured: {', '.join(b.name for b in config.brands)}"
        )
    found = config.right(draft.right_id)
    if found is None:
        errors["right"] = f"unknown IP right {draft.right_id!r}"
    elif brand is not None and found[0].name != brand.name:
        errors["right"] = f"{draft.right_id} is a right of {found[0].name}, not of {brand.name}"
    if draft.infringement not in INFRINGEMENT_TYPES:
        errors["type"] = (
            f"unknown infringement type {draft.infringement!r}; one of {', '.join(INFRINGEMENT_TYPES)}"
        )
    elif found is not None and found[1].kind != RIGHT_KIND_FOR[draft.infringement]:
        needed = RIGHT_KIND_FOR[draft.infringement]
        errors["type"] = (
            f"a {draft.infringement} report cites a {needed} right; {found[1].id} is a {found[1].kind}"
        )
    return errors, found[1] if found is not None else None


def _parse_listings(draft: ReportDraft) -> tuple[list[ParsedLine], dict[str, str], list[BadLine]]:
    """The listings typed and in the file, the errors of their number, and the lines that cannot
    be filed."""
    lines = draft.urls_text.splitlines()
    typed = (FileLine(n, raw, draft.sellers.get(n)) for n, raw in enumerate(lines, start=1))
    seen: set[str] = set()
    listings, problems = parse_lines(typed, seen=seen, seller=draft.seller, resolved=draft.resolved)
    from_file, file_problems = parse_lines(
        draft.file_lines, seen=seen, seller=draft.seller, in_file=True, resolved=draft.resolved
    )
    listings += from_file
    file_text = {item.line: item.text for item in draft.file_lines}
    bad = [BadLine(n, lines[n - 1], why) for n, why in problems]
    bad += [BadLine(n, file_text.get(n, ""), why, in_file=True) for n, why in file_problems]
    errors: dict[str, str] = {}
    if not listings and not bad:
        errors["urls"] = "add at least one listing URL, one per line"
    elif len(listings) > MAX_LISTINGS_PER_CASE:
        errors[FILE_FIELD if draft.file_lines else "urls"] = (
            f"{len(listings):,} listings; one case holds at most {MAX_LISTINGS_PER_CASE:,}"
        )
    return listings, errors, bad


def _parse_evidence(text: str) -> tuple[list[str], str | None]:
    """The evidence links, and what is wrong with them."""
    evidence: list[str] = []
    error: str | None = None
    for number, raw in enumerate(text.split(), start=1):
        if not re.match(r"^https?://[^\s/?#]+", raw, re.IGNORECASE):
            error = f"link {number} is not an http(s) URL: {raw[:80]}"
            break
        evidence.append(raw)
    if len(evidence) > MAX_EVIDENCE_LINKS:
        error = f"at most {MAX_EVIDENCE_LINKS} evidence links"
    return evidence, error


def parse_lines(
    lines: Iterable[FileLine],
    *,
    seen: set[str],
    seller: str | None = None,
    in_file: bool = False,
    resolved: Mapping[str, str | ListingURLError] | None = None,
) -> tuple[list[ParsedLine], list[tuple[int, str]]]:
    """Parse listing URLs line by line: the listings (each key once, across calls sharing `seen`)
    and every bad line with its reason. Blank lines are skipped; `seller` is the default seller."""
    listings: list[ParsedLine] = []
    problems: list[tuple[int, str]] = []
    for item in lines:
        if item.problem is not None:
            problems.append((item.line, item.problem))
            continue
        text = item.text.strip()
        if not strip_invisible(text).strip():
            continue
        # A short link is recorded as pasted; its listing is the URL it led to.
        target = (resolved or {}).get(text, text)
        try:
            if isinstance(target, ListingURLError):
                raise target
            parsed = parse_listing_url(target)
        except ListingURLError as exc:
            problems.append((item.line, exc.reason))
            continue
        if parsed.key in seen:
            continue  # the same listing twice in one report is one listing
        seen.add(parsed.key)
        name = (item.seller or seller or "").strip()[:MAX_SELLER] or None
        listings.append(ParsedLine(item.line, text, parsed, name, in_file))
    return listings, problems


def _missing_from_report(
    config: AppConfig, right: Right, draft: ReportDraft, lines: Sequence[ParsedLine]
) -> dict[str, str]:
    """What the law asks of the reporter that this report lacks (the notice's other elements come
    from app.yaml; a gap there is reported in the case's thread, where the team can fix it)."""
    listings = [
        NoticeListing(0, item.listing.platform, item.listing.key, item.listing.canonical_url)
        for item in lines
    ]
    # Only the description's gaps are the reporter's; the per-listing checks (a canonical URL is
    # never empty) would cost a pass over every listing of a bulk report for nothing.
    gaps = missing_elements(
        right=right,
        rights_holder=config.rights_holder,
        infringement=draft.infringement,
        description=draft.description,
        listings=listings[:1],
        eu=applies_eu(listings, right),
    )
    wanted = [f"{gap.element} ({gap.law})" for gap in gaps if gap.where == "report.description"]
    return {"description": "Required: " + "; ".join(wanted)} if wanted else {}


def duplicate_lines(
    lines: Sequence[ParsedLine], open_listings: Mapping[str, OpenListing]
) -> list[BadLine]:
    """The lines whose listing is already in an open case, each naming that case (and its
    thread); plain text: the form shows it beside a field."""
    found = []
    for item in lines:
        if (hit := open_listings.get(item.listing.key)) is not None:
            where = case_ref(hit.case_id)
            if hit.channel_id and hit.thread_ts:
                where += f" ({thread_link(hit.channel_id, hit.thread_ts)})"
            reason = f"{item.listing.key} is already reported in open case {where}"
            found.append(BadLine(item.line, item.text, reason, in_file=item.in_file))
    return found


async def open_case(
    db: Database,
    *,
    config: AppConfig,
    draft: ReportDraft,
    reporter_id: str,
    team_id: str | None,
    channel_id: str | None,
    intake_key: str | None,
    private_channel: str | None = None,
    then: AlsoStore | None = None,
) -> OpenedCase:
    """Store a report as a case with its listings, notices and first jobs; one transaction.

    Raises ReportRejected for bad input or listings already in an open case. The same
    `intake_key` opens the case once: a second call returns the first case (`created=False`).
    A case filed from a `private_channel` keeps its thread there, not in the report channel.
    `then` stores more of the report with the new case, in the same transaction (the form's
    evidence files' job).
    """
    report = parse_report(config, draft)
    intake = _Intake(
        config, draft, report, reporter_id, team_id, channel_id, intake_key, private_channel, then
    )
    for attempt in range(2):
        try:
            async with db.transaction() as session:
                return await intake.store(session)
        except IntegrityError:
            # Another intake took one of these listings (or this intake key) between our check and
            # our insert; the database refused the second. Intakes take turns (see
            # `hold_intake_lock`), so this is a fallback: run again to say which, or return it.
            if attempt:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Intake:
    """One report on its way to becoming a case."""

    config: AppConfig
    draft: ReportDraft
    report: ParsedReport
    reporter_id: str
    team_id: str | None
    channel_id: str | None
    intake_key: str | None
    private_channel: str | None = None
    then: AlsoStore | None = None

    async def store(self, session: AsyncSession) -> OpenedCase:
        """The case, in the caller's transaction; the earlier one if this intake key opened it."""
        await hold_intake_lock(session)
        if self.intake_key and (existing := await case_by_intake_key(session, self.intake_key)):
            assert existing.id is not None
            return OpenedCase(existing.id, 0, created=False)
        listings, skipped = self.report.listings, self.report.skipped
        keys = [item.listing.key for item in listings]
        open_listings = await find_open_listings(session, keys)
        if open_listings:
            listings, skipped = self._without_open(open_listings)
            keys = [item.listing.key for item in listings]
        relisted = await find_removed_listings(session, keys)
        case = await insert_case(session, self._case())
        assert case.id is not None
        # The parent message's job first: it runs before the notices' submits.
        await enqueue_parent_post(session, case_id=case.id)
        await self._insert_listings(session, case.id, listings, relisted)
        await add_event(
            session,
            case_id=case.id,
            actor=self.reporter_id,
            kind="opened",
            detail={
                "listings": len(listings),
                "platforms": dict(Counter(item.listing.platform for item in listings)),
                "relisted": len(relisted),
            },
        )
        if self.then is not None:
            await self.then(session, case.id)
        skipped = sorted(skipped, key=lambda line: (line.in_file, line.line))
        return OpenedCase(case.id, len(listings), created=True, skipped=tuple(skipped))

    def _without_open(
        self, open_listings: Mapping[str, OpenListing]
    ) -> tuple[list[ParsedLine], list[BadLine]]:
        """The listings in no open case, and the lines skipped with those that are; raises
        ReportRejected unless the report skips what cannot be filed and a listing remains."""
        listings = self.report.listings
        taken = duplicate_lines(listings, open_listings)
        rest = [item for item in listings if item.listing.key not in open_listings]
        if not self.draft.skip_invalid or not rest:
            raise _rejected({}, taken, good=len(rest))
        return rest, [*self.report.skipped, *taken]

    def _case(self) -> Case:
        draft = self.draft
        return Case(
            brand=draft.brand,
            right_id=draft.right_id,
            infringement=draft.infringement,
            description=draft.description.strip(),
            evidence=self.report.evidence,
            seller=(draft.seller or "").strip() or None,
            reporter_id=self.reporter_id,
            team_id=self.team_id,
            channel_id=self.private_channel or self.config.team.report_channel or self.channel_id,
            private_channel=self.private_channel,
            intake_key=self.intake_key,
        )

    async def _insert_listings(
        self,
        session: AsyncSession,
        case_id: int,
        listings: Sequence[ParsedLine],
        relisted: dict[str, int],
    ) -> None:
        """The listings with their notices (planned first), and the removed ones they report
        again marked `relisted`."""
        notice_ids = await plan_notices(
            session,
            config=self.config,
            case_id=case_id,
            platforms=[item.listing.platform for item in listings],
        )
        await insert_listings(
            session,
            case_id=case_id,
            notice_ids=notice_ids,
            listings=[
                NewListing(
                    platform=item.listing.platform,
                    key=item.listing.key,
                    url=item.listing.canonical_url,
                    submitted_url=item.text,
                    seller=item.seller,
                )
                for item in listings
            ],
            relisted=relisted,
        )
        await move_listings(session, list(relisted.values()), ListingStatus.RELISTED)
        # Evidence: each listing's page captured once, after its notice's submit job.
        await payloads.enqueue_many(
            session,
            [
                (
                    CaptureListing(case_id=case_id, position=position),
                    capture_key(case_id, position),
                )
                for position, item in enumerate(listings)
                if self.config.captures(item.listing.platform)
            ],
        )
