"""`takedown-bot report`: listing URLs from the command line or a file, filed as one case.

It files through `open_case`, as the form does. It first checks every line (a progress bar on a
terminal) and lists every bad one — not a listing URL, or a listing in an open case — and stores
nothing unless `--skip-invalid`. Its intake key is a hash of what it files (the fields and the
listings, not the file's bytes), so running the same report again prints the case it filed instead
of filing another; once that case has closed, the same report is a new case.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import aiohttp
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bot.cli.errors import EXIT_OK, EXIT_USAGE
from bot.config.environment import Environment
from bot.config.loading import load_config
from bot.config.schema import AppConfig
from bot.core.cases import case_ref, case_state, summarise, thread_link
from bot.core.listings import ListingURLError
from bot.core.platforms import platform_name
from bot.intake.bulk import UrlFile, UrlFileError, read_path, with_file
from bot.intake.cases import (
    FILE_FIELD,
    FileLine,
    OpenedCase,
    ParsedLine,
    ReportDraft,
    ReportRejected,
    open_case,
    parse_lines,
    parse_report,
)
from bot.intake.shortlinks import (
    DEFAULT_CONCURRENCY,
    DEFAULT_POLICY,
    ShortLinkPolicy,
    resolve_short_links,
    short_link_host,
)
from storage.cases import case_by_intake_key, get_case, status_counts
from storage.db import Database
from storage.listings import find_open_listings
from storage.models import Case

PROGRESS_FROM = 1_000  # rows; a smaller file is checked before a bar could be read
_CHUNK = 500
# Seconds to follow short links, per batch of links followed at once (the command line has no
# 3-second limit as a Slack form does, but a shortener that never answers must not hang it).
SHORT_LINK_SECONDS = 5.0
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_FLAGS = {
    "urls": "URL arguments",
    "brand": "--brand",
    "right": "--right",
    "type": "--type",
    "description": "--description",
    "evidence": "--evidence",
    "seller": "--seller",
}


@dataclass(frozen=True)
class ReportRequest:
    """What `takedown-bot report` was asked to file."""

    urls: Sequence[str]
    file: Path | None
    brand: str
    right_id: str
    infringement: str
    reporter: str
    description: str = ""
    evidence: Sequence[str] = ()
    seller: str | None = None
    channel: str | None = None
    skip_invalid: bool = False


@dataclass(frozen=True, slots=True)
class BadLine:
    where: str  # "urls.csv line 12", "command-line URL 2"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class CheckedReport:
    """Every line checked: the listings to file, the bad lines, and the draft of the good ones."""

    listings: list[ParsedLine]
    bad: list[BadLine]
    draft: ReportDraft
    # Every listing whose URL is good, in an open case or not: what the intake key is made of, so
    # that the same command run again finds its case although its listings are now in it.
    candidates: list[ParsedLine]


class _Steps:
    """A progress bar on stderr for a large file, only when stderr is a terminal (pipes, logs and
    captured output stay clean)."""

    def __init__(self, stream: TextIO, *, rows: int) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if rows >= PROGRESS_FROM and stream.isatty():
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=stream),
                transient=True,
            )

    def __enter__(self) -> _Steps:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def step(self, description: str, total: int | None = None) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.update(self._task, total=1, completed=1)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, count: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)


async def check_report(
    db: Database,
    *,
    urls: Sequence[str],
    url_file: UrlFile | None,
    draft: ReportDraft,
    steps: _Steps | None = None,
    http: aiohttp.ClientSession | None = None,
    short_links: ShortLinkPolicy = DEFAULT_POLICY,
) -> CheckedReport:
    """Check every command-line URL and file row — the URL itself, and whether its listing is in
    an open case already — naming every bad one. Reads the database, stores nothing.

    With `http`, short links (amzn.to, ebay.us, …) are followed to their listings first, as the
    Slack form does, with a budget that grows with their number; a link not followed becomes its
    line's error."""
    steps = steps or _Steps(io.StringIO(), rows=0)
    rows = url_file.rows if url_file is not None else []
    resolved: dict[str, str | ListingURLError] = {}
    if http is not None:
        texts = [*urls, *(row.url for row in rows)]
        links = sum(1 for text in texts if short_link_host(text, hosts=short_links))
        if links:
            steps.step(f"following {_count(links, 'short link')}")
            budget = SHORT_LINK_SECONDS * max(1, links / DEFAULT_CONCURRENCY)
            resolved = await resolve_short_links(
                texts, http=http, hosts=short_links, timeout=budget
            )
            draft = replace(draft, resolved=resolved)
    seen: set[str] = set()
    typed, typed_problems = parse_lines(
        [FileLine(n, url) for n, url in enumerate(urls, start=1)],
        seen=seen,
        seller=draft.seller,
        resolved=resolved,
    )
    steps.step(f"checking {len(rows):,} lines", total=len(rows))
    from_file: list[ParsedLine] = []
    file_problems: list[tuple[int, str]] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = [FileLine(r.line, r.url, r.seller, r.problem) for r in rows[start : start + _CHUNK]]
        found, problems = parse_lines(
            chunk, seen=seen, seller=draft.seller, in_file=True, resolved=resolved
        )
        from_file += found
        file_problems += problems
        steps.advance(len(chunk))
    steps.step("looking for listings in open cases")
    async with db.sessions() as session:
        keys = [item.listing.key for item in (*typed, *from_file)]
        open_listings = await find_open_listings(session, keys)
    for items, problems in ((typed, typed_problems), (from_file, file_problems)):
        for item in items:
            if (hit := open_listings.get(item.listing.key)) is not None:
                where = case_ref(hit.case_id)
                if hit.channel_id and hit.thread_ts:
                    where += f" ({thread_link(hit.channel_id, hit.thread_ts)})"
                reason = f"{item.listing.key} is already reported in open case {where}"
                problems.append((item.line, reason))

    name = url_file.name if url_file is not None else "file"
    bad = [BadLine(f"command-line URL {n}", why) for n, why in sorted(typed_problems)]
    bad += [BadLine(f"{name} line {n}", why) for n, why in sorted(file_problems)]
    bad_typed = {n for n, _ in typed_problems}
    good_lines = {item.line for item in from_file} - {n for n, _ in file_problems}
    listings = [item for item in typed if item.line not in bad_typed]
    listings += [item for item in from_file if item.line in good_lines]
    # Bad command-line URLs become blank lines, so the rest keep their numbers.
    typed_text = "\n".join("" if n in bad_typed else url for n, url in enumerate(urls, start=1))
    draft = replace(draft, urls_text=typed_text)
    if url_file is not None and good_lines:
        draft = with_file(draft, url_file, [row for row in rows if row.line in good_lines])
    return CheckedReport(listings=listings, bad=bad, draft=draft, candidates=[*typed, *from_file])


def intake_key(request: ReportRequest, listings: Sequence[ParsedLine]) -> str:
    """The command's intake key: a hash of what it files (fields and listings, not the file's bytes),
    so running the same report again, from an edited copy of the file too, files nothing new."""
    content = {
        "brand": request.brand,
        "right": request.right_id,
        "type": request.infringement,
        "description": request.description.strip(),
        "evidence": sorted(set(request.evidence)),
        "seller": (request.seller or "").strip(),
        "reporter": request.reporter,
        "channel": request.channel or "",
        "listings": sorted([item.listing.key, item.seller or ""] for item in listings),
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return f"cli:{digest[:40]}"


async def _intake(db: Database, key: str) -> tuple[str, int | None]:
    """The intake key to file with, and the open case this same report filed already (if any).
    A key whose case has closed since is not reused: filed again after its case closed (the
    listings came back), the report is a new case."""
    base = key
    async with db.sessions() as session:
        while (case := await case_by_intake_key(session, key)) is not None:
            assert case.id is not None
            statuses: Counter[str] = Counter()
            for (_, status), count in (await status_counts(session, case.id)).items():
                statuses[status] += count
            if case_state(statuses) == "open":
                return key, case.id
            key = f"{base}:after:{case.id}"
    return key, None


def run_report(request: ReportRequest, *, out: TextIO, err: TextIO) -> int:
    """`takedown-bot report`: check every line, print the bad ones, file one case; exit status."""
    # The schema check makes Alembic log its set-up at INFO: noise among a command's findings.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return asyncio.run(_run_report(request, out=out, err=err))


def _fail(err: TextIO, message: str) -> int:
    print(f"takedown-bot: {message}", file=err)
    return EXIT_USAGE


async def _run_report(request: ReportRequest, *, out: TextIO, err: TextIO) -> int:
    env = Environment.from_environ()
    config = load_config(env.config_path)
    if not _SLACK_USER.match(request.reporter):
        return _fail(err, f"--reporter {request.reporter!r} is not a Slack user id (U…)")
    if request.channel and not _SLACK_CHANNEL.match(request.channel):
        return _fail(err, f"--channel {request.channel!r} is not a Slack channel id (C…)")
    if not request.urls and request.file is None:
        return _fail(err, "give listing URLs, or a file of them with --file")
    try:
        url_file = read_path(request.file) if request.file is not None else None
    except UrlFileError as exc:
        return _fail(err, str(exc))
    if url_file is not None and not url_file.rows:
        return _fail(err, f"{url_file.name} holds no listing URLs")
    report_channel = config.team.report_channel
    if request.channel and report_channel and request.channel != report_channel:
        print(
            f"takedown-bot: note: app.yaml's team.report_channel ({report_channel}) takes "
            f"precedence over --channel {request.channel}",
            file=err,
        )
    draft = ReportDraft(
        urls_text="",
        brand=request.brand,
        right_id=request.right_id,
        infringement=request.infringement,
        description=request.description,
        evidence_text="\n".join(request.evidence),
        seller=request.seller,
    )
    db = env.database()
    try:
        await db.require_schema()
        opened = await _file(db, config, request, url_file, draft, err=err)
        if opened is None:
            return EXIT_USAGE
        async with db.sessions() as session:
            counts = await status_counts(session, opened.case_id)
            case = await get_case(session, opened.case_id)
    finally:
        await db.dispose()
    assert case is not None
    _print_case(out, opened, counts, case=case)
    return EXIT_OK


async def _file(
    db: Database,
    config: AppConfig,
    request: ReportRequest,
    url_file: UrlFile | None,
    draft: ReportDraft,
    *,
    err: TextIO,
) -> OpenedCase | None:
    """Check, then file (or find the case this same report filed); None: bad input, told."""
    rows = len(url_file.rows) if url_file is not None else 0
    try:
        with _Steps(err, rows=rows) as steps:
            async with aiohttp.ClientSession() as http:
                checked = await check_report(
                    db, urls=request.urls, url_file=url_file, draft=draft, steps=steps, http=http
                )
    except UrlFileError as exc:
        _fail(err, str(exc))
        return None
    key, filed = await _intake(db, intake_key(request, checked.candidates))
    if filed is not None:
        return OpenedCase(filed, 0, created=False)
    if checked.bad and not request.skip_invalid:
        _print_bad(err, checked.bad, f"{_count(len(checked.bad), 'bad line')}; nothing was filed")
        for flag, message in _field_errors(config, checked.draft).items():
            print(f"takedown-bot: {flag}: {message}", file=err)
        if checked.listings:
            other = _count(len(checked.listings), "listing")
            print(f"Fix them, or pass --skip-invalid to file the other {other}.", file=err)
        return None
    if checked.bad:
        _print_bad(err, checked.bad, f"skipped {_count(len(checked.bad), 'bad line')}")
    if not checked.listings:
        _fail(err, "nothing to file: no line holds a listing that can be reported")
        return None
    try:
        with _Steps(err, rows=rows) as steps:
            steps.step(f"storing {_count(len(checked.listings), 'listing')}")
            return await open_case(
                db,
                config=config,
                draft=checked.draft,
                reporter_id=request.reporter,
                team_id=None,
                channel_id=request.channel,
                intake_key=key,
            )
    except ReportRejected as exc:
        _print_rejected(err, exc, url_file)
        return None


def _print_rejected(err: TextIO, exc: ReportRejected, url_file: UrlFile | None) -> None:
    """A refusal of `open_case`: each of its bad lines (the form's errors show only some), then
    the errors of the other fields."""
    name = url_file.name if url_file is not None else "file"
    bad = [
        BadLine(
            f"{name} line {line.line}" if line.in_file else f"command-line URL {line.line}",
            line.reason,
        )
        for line in exc.bad_lines
    ]
    if bad:
        _print_bad(err, bad, f"{_count(len(bad), 'bad line')}; nothing was filed")
    for field, message in exc.errors.items():
        if bad and field in ("urls", FILE_FIELD):
            continue
        where = url_file.name if field == FILE_FIELD and url_file else _FLAGS.get(field, field)
        print(f"takedown-bot: {where}: {message}", file=err)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _print_bad(err: TextIO, bad: Sequence[BadLine], headline: str) -> None:
    print(f"takedown-bot: {headline}:", file=err)
    for line in bad:
        print(f"  {line}", file=err)


def _field_errors(config: AppConfig, draft: ReportDraft) -> dict[str, str]:
    """The report's other problems (brand, right, type, description…), to show with its bad lines."""
    try:
        parse_report(config, draft)
    except ReportRejected as exc:
        return {
            _FLAGS.get(name, name): message
            for name, message in exc.errors.items()
            if name not in ("urls", FILE_FIELD)
        }
    return {}


def _print_case(
    out: TextIO,
    opened: OpenedCase,
    counts: Mapping[tuple[str, str], int],
    *,
    case: Case,
) -> None:
    platforms: dict[str, Counter[str]] = {}
    for (platform, status), count in counts.items():
        platforms.setdefault(platform, Counter())[status] += count
    total = sum(counts.values())
    if opened.created:
        print(f"{opened.ref}: {_count(total, 'listing')} filed", file=out)
    else:
        print(
            f"{opened.ref} was filed already by this same report; nothing new was stored", file=out
        )
    width = max((len(platform_name(p)) for p in platforms), default=0)
    for platform, statuses in sorted(
        platforms.items(), key=lambda item: (-item[1].total(), item[0])
    ):
        line = f"  {platform_name(platform):<{width}}  {statuses.total():>7,}"
        if not opened.created:
            line += f"  {summarise(statuses)}"
        print(line, file=out)
    if case.channel_id and case.thread_ts:
        print(f"Its status thread: {thread_link(case.channel_id, case.thread_ts)}", file=out)
        return
    where = case.channel_id or f"a direct message to {case.reporter_id}"
    print(
        f"The status thread is posted when the bot runs (`takedown-bot serve` or "
        f"`takedown-bot worker`), in {where}.",
        file=out,
    )
