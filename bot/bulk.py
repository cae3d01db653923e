"""Bulk reports: listing URLs from a file, filed as one case.

A file comes from `takedown-bot report --file` or from the report form's file input. Two formats:

- TXT: one URL per line; blank lines and lines starting with `#` are skipped.
- CSV: a header row naming a `url` column, optionally `seller` and `evidence` columns (any order,
  any case, other columns ignored); comma-, semicolon- or tab-separated, as spreadsheets save them.

Text is UTF-8 (a byte-order mark is fine) or UTF-16 with its byte-order mark. Every problem names
the file's own line number, as an editor or a spreadsheet shows it. Per-row evidence links join the
case's evidence, which covers all its listings (a case keeps at most MAX_EVIDENCE_LINKS).

The form's file is fetched from Slack with the bot token (never sent to another host), at most
MAX_UPLOAD_BYTES, within DOWNLOAD_TIMEOUT: the submission is answered within Slack's 3 seconds.

`takedown-bot report` files through `open_case`, as the form does. It first checks every line
(a progress bar on a terminal) and lists every bad one — not a listing URL, or a listing in an open
case — and stores nothing unless `--skip-invalid`. Its intake key is a hash of what it files (the
fields and the listings, not the file's bytes), so running the same report again prints the case it
filed instead of filing another; once that case has closed, the same report is a new case.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import io
import json
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

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
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import (
    FILE_FIELD,
    MAX_EVIDENCE_LINKS,
    MAX_LISTINGS_PER_CASE,
    FileLine,
    OpenedCase,
    ParsedLine,
    ReportDraft,
    ReportRejected,
    case_ref,
    case_state,
    open_case,
    parse_lines,
    parse_report,
    summarise,
    thread_link,
)
from bot.config import AppConfig, Environment, load_config
from bot.listings import PLATFORMS, ListingURLError
from bot.shortlinks import (
    DEFAULT_CONCURRENCY,
    DEFAULT_POLICY,
    ShortLinkPolicy,
    resolve_short_links,
    short_link_host,
)
from storage import queries
from storage.db import Database
from storage.models import Case

EXIT_OK, EXIT_USAGE = 0, 2

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a file in the report form (Slack itself allows 10 MB)
MAX_FILE_BYTES = 64 * 1024 * 1024  # a file given to `takedown-bot report`
# Rows read before the case's own limit is checked: bounds the work a huge file can cause.
MAX_ROWS = 2 * MAX_LISTINGS_PER_CASE
DOWNLOAD_TIMEOUT = 2.0  # seconds; the form's submission must be answered within 3

_NEWLINES = re.compile(r"\r\n?")
_EVIDENCE_LINK = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)
_EXCEL_SEPARATOR = re.compile(r"^sep=(.)$", re.IGNORECASE)  # Excel's "sep=;" first line
_DELIMITERS = (",", ";", "\t")
_COLUMNS = ("url", "seller", "evidence")
# Slack file hosts that may receive the bot token (besides the configured API host).
_SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")


class UrlFileError(Exception):
    """The file as a whole cannot be used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class FileRow:
    """One row of a URL file: the line it starts on, its URL, seller and evidence links, or the
    reason it cannot be used."""

    line: int
    url: str
    seller: str | None = None
    evidence: tuple[str, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class UrlFile:
    name: str
    kind: str  # "csv" | "txt"
    rows: list[FileRow] = field(default_factory=list)


def read_url_file(data: bytes, *, name: str, filetype: str | None = None) -> UrlFile:
    """Read a TXT or CSV file of listing URLs (the kind from its name, Slack's `filetype`, or its
    first line). Raises UrlFileError when the file as a whole is unusable."""
    text = _decode(data, name)
    kind = _kind(name, filetype, text)
    rows = _csv_rows(text, name) if kind == "csv" else _txt_rows(text)
    if len(rows) > MAX_ROWS:
        raise UrlFileError(
            f"{name} has {len(rows):,} rows; one case holds at most {MAX_LISTINGS_PER_CASE:,} "
            "listings: split the file"
        )
    return UrlFile(name=name, kind=kind, rows=rows)


def read_path(path: Path) -> UrlFile:
    """Read a URL file from disk (`takedown-bot report --file`)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UrlFileError(
                f"{path} is {size / 2**20:,.1f} MB; a URL file may have at most "
                f"{MAX_FILE_BYTES // 2**20} MB"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise UrlFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UrlFileError(f"{path} is a directory, not a file of URLs") from None
    except PermissionError:
        raise UrlFileError(f"{path}: permission denied") from None
    return read_url_file(data, name=path.name)


def with_file(
    draft: ReportDraft, url_file: UrlFile, rows: Sequence[FileRow] | None = None
) -> ReportDraft:
    """The draft with the file's rows (or just `rows` of it) as its file lines, and the rows'
    evidence links added to the case's evidence."""
    rows = url_file.rows if rows is None else rows
    if not rows:
        raise UrlFileError(
            f"{url_file.name} holds no listing URLs (TXT: one URL per line; CSV: a url column)"
        )
    given = draft.evidence_text.split()
    links = list(dict.fromkeys([*given, *(link for row in rows for link in row.evidence)]))
    if len(links) > MAX_EVIDENCE_LINKS and len(links) > len(set(given)):
        raise UrlFileError(
            f"the evidence column of {url_file.name} brings the case to {len(links)} different "
            f"evidence links; a case keeps at most {MAX_EVIDENCE_LINKS}, for all its listings"
        )
    file_lines = [FileLine(row.line, row.url, row.seller, row.problem) for row in rows]
    return replace(draft, file_lines=file_lines, evidence_text="\n".join(links))


# -- reading --------------------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise UrlFileError(
            f"{name} is a spreadsheet workbook, not CSV: save it as “CSV UTF-8” and use that file"
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise UrlFileError(f"{name} is not valid UTF-16 text") from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise UrlFileError(
                f"{name} line {line} is not UTF-8 text: save the file as UTF-8 (“CSV UTF-8”)"
            ) from None
    if "\x00" in text:
        raise UrlFileError(f"{name} is not a text file: give a .csv or .txt file of URLs")
    return _NEWLINES.sub("\n", text)


def _kind(name: str, filetype: str | None, text: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix in ("csv", "tsv") or filetype == "csv":
        return "csv"
    if suffix in ("txt", "text", "list") or filetype in ("text", "txt"):
        return "txt"
    if suffix or (filetype and filetype not in ("", "binary")):
        raise UrlFileError(f"{name}: give a .csv or .txt file of URLs")
    # No extension (a local file): a first line naming a url column makes it CSV.
    first = next((line for line in text.split("\n") if line.strip()), "")
    return "csv" if _header(first) is not None else "txt"


def _txt_rows(text: str) -> list[FileRow]:
    rows = []
    for number, raw in enumerate(text.split("\n"), start=1):
        url = raw.strip()
        if url and not url.startswith("#"):
            rows.append(FileRow(number, url))
    return rows


def _header(line: str, delimiters: Sequence[str] = _DELIMITERS) -> tuple[str, list[str]] | None:
    """(delimiter, lower-cased column names) if `line` is a header row with a url column."""
    for delimiter in delimiters:
        names = [cell.strip().lower() for cell in next(csv.reader([line], delimiter=delimiter))]
        if "url" in names:
            return delimiter, names
    return None


def _csv_rows(text: str, name: str) -> list[FileRow]:
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        return []
    delimiters: Sequence[str] = _DELIMITERS
    if match := _EXCEL_SEPARATOR.match(lines[start].strip()):
        delimiters = (match.group(1),)
        start = next((i for i in range(start + 1, len(lines)) if lines[i].strip()), start)
    found = _header(lines[start], delimiters)
    if found is None:
        seen = ", ".join(repr(c.strip()) for c in lines[start].split(delimiters[0])[:6])
        raise UrlFileError(
            f"{name} line {start + 1} must be a header row naming a url column (and optionally "
            f"seller, evidence); it reads {seen}"
        )
    delimiter, names = found
    column = {wanted: names.index(wanted) for wanted in _COLUMNS if wanted in names}
    reader = csv.reader(io.StringIO("\n".join(lines[start + 1 :])), delimiter=delimiter)
    rows: list[FileRow] = []
    offset = start + 1  # lines before the first data row
    previous = 0
    try:
        for record in reader:
            line, previous = offset + previous + 1, reader.line_num
            row = _csv_row(line, record, column)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        raise UrlFileError(f"{name} line {offset + reader.line_num}: {exc}") from None
    return rows


def _csv_row(line: int, record: list[str], column: Mapping[str, int]) -> FileRow | None:
    def cell(name: str) -> str:
        index = column.get(name)
        return record[index].strip() if index is not None and index < len(record) else ""

    if not any(value.strip() for value in record):
        return None
    url, seller = cell("url"), cell("seller") or None
    if url.startswith("#"):
        return None  # a commented-out row
    if not url:
        return FileRow(line, "", problem="the url column is empty")
    evidence = tuple(link.rstrip(",;") for link in cell("evidence").split())
    for link in evidence:
        if not _EVIDENCE_LINK.match(link):
            return FileRow(line, url, problem=f"evidence {link[:80]!r} is not an http(s) link")
    return FileRow(line, url, seller, evidence)


# -- the report form's upload ---------------------------------------------------------------------


def _may_receive_token(url: str, api_url: str) -> bool:
    """Only Slack's own hosts (or the configured API host: GovSlack, tests) get the bot token."""
    try:
        target, api = urlsplit(url), urlsplit(api_url)
        host = (target.hostname or "").lower()
        if (target.scheme, host, target.port) == (api.scheme, api.hostname, api.port):
            return True
    except ValueError:
        return False
    return target.scheme == "https" and any(
        host == domain or host.endswith("." + domain) for domain in _SLACK_FILE_DOMAINS
    )


async def read_upload(
    file: Mapping[str, Any],
    *,
    http: aiohttp.ClientSession,
    slack: AsyncWebClient,
    limit: int = MAX_UPLOAD_BYTES,
) -> UrlFile:
    """Download a file uploaded in the report form (a file object from the view's state) with the
    bot token, at most `limit` bytes, and read it. Raises UrlFileError with the message to show."""
    name = str(file.get("name") or file.get("title") or "the file")
    too_big = (
        f"{name} is larger than {limit / 2**20:g} MB; split it, or file it with "
        "`takedown-bot report --file`"
    )
    size = file.get("size")
    if isinstance(size, int) and size > limit:
        raise UrlFileError(too_big)
    url = file.get("url_private_download") or file.get("url_private")
    try:
        if not url and file.get("id"):
            info = await slack.files_info(file=str(file["id"]))
            found = info.get("file") or {}
            url = found.get("url_private_download") or found.get("url_private")
        if not isinstance(url, str) or not url:
            raise UrlFileError(f"Slack gave no address for {name}; upload it again")
        if not _may_receive_token(url, slack.base_url):
            raise UrlFileError(f"{name} is not stored by Slack; upload the file itself")
        async with http.get(
            url,
            headers={"Authorization": f"Bearer {slack.token}"},
            timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT),
        ) as response:
            if response.status != 200:
                raise UrlFileError(
                    f"Slack answered HTTP {response.status} for {name}; upload it again"
                )
            if response.content_type == "text/html":
                raise UrlFileError(
                    f"Slack did not hand over {name}: the app needs the files:read scope "
                    "(reinstall it with `takedown-bot manifest`)"
                )
            if (response.content_length or 0) > limit:
                raise UrlFileError(too_big)
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise UrlFileError(too_big)
    except SlackApiError as exc:
        answer = exc.response.data
        error = (
            answer.get("error") if isinstance(answer, dict) else f"HTTP {exc.response.status_code}"
        )
        raise UrlFileError(f"Slack refused to describe {name} ({error}); upload it again") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UrlFileError(
            f"could not fetch {name} from Slack ({type(exc).__name__}); nothing was filed, "
            "submit again"
        ) from None
    return read_url_file(bytes(data), name=name, filetype=file.get("filetype"))


# -- `takedown-bot report` ------------------------------------------------------------------------

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
        open_listings = await queries.find_open_listings(session, keys)
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
        while (case := await queries.case_by_intake_key(session, key)) is not None:
            assert case.id is not None
            statuses: Counter[str] = Counter()
            for (_, status), count in (await queries.status_counts(session, case.id)).items():
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
            counts = await queries.status_counts(session, opened.case_id)
            case = await queries.get_case(session, opened.case_id)
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
        for name, message in exc.errors.items():
            where = url_file.name if name == FILE_FIELD and url_file else _FLAGS.get(name, name)
            print(f"takedown-bot: {where}: {message}", file=err)
        return None


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
    width = max((len(PLATFORMS.get(p, p)) for p in platforms), default=0)
    for platform, statuses in sorted(
        platforms.items(), key=lambda item: (-item[1].total(), item[0])
    ):
        line = f"  {PLATFORMS.get(platform, platform):<{width}}  {statuses.total():>7,}"
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


async def attach_upload(
    draft: ReportDraft,
    files: Sequence[Mapping[str, Any]],
    *,
    http: aiohttp.ClientSession,
    slack: AsyncWebClient,
) -> ReportDraft:
    """The report form's draft with the file uploaded in its file input (if any) read into it."""
    if not files:
        return draft
    if len(files) > 1:
        raise UrlFileError("one file per report: put all the URLs in one CSV or TXT file")
    return with_file(draft, await read_upload(files[0], http=http, slack=slack))
