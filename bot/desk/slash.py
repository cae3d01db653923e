"""The text after `/report-listing`: what the person asked for, and the answer to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.cases import case_ref, parse_case_ref, thread_link
from bot.core.listings import find_urls
from bot.desk.case_list import ListFilterError, list_answer, parse_filter
from bot.evidence.bundle_thread import queue_bundle
from bot.figures.since import BadSince, read_since
from bot.jobs.notify import parent_message
from bot.runtime import Runtime
from bot.slack_ui.help import help_blocks, notice_text
from bot.slack_ui.mrkdwn import Blocks, context, escape
from storage.cases import get_case

MAX_COMMAND_TEXT = 4000
SUBCOMMANDS = (
    "report",
    "help",
    "status",
    "list",
    "digest",
    "scorecard",
    "bundle",
    "inbox",
    "unknown",
)
_WITH_ARGUMENTS = ("status", "list", "digest", "scorecard", "bundle")


@dataclass(frozen=True)
class Answer:
    """Either an ephemeral message, or the report form to open (prefilled with `urls`)."""

    text: str = ""
    blocks: Blocks = field(default_factory=list)
    open_form: bool = False
    urls: list[str] = field(default_factory=list)


def parse_command(text: str) -> tuple[str, list[str]]:
    """→ (subcommand, arguments). Subcommands: report (the default, with URLs), help, status, list."""
    text = (text or "").strip()[:MAX_COMMAND_TEXT]
    if not text:
        return "report", []
    urls = find_urls(text)
    words = text.split()
    head = words[0].lower()
    if head in ("help", "-h", "--help", "?"):
        return "help", []
    if head in _WITH_ARGUMENTS:
        return head, words[1:]
    if head == "inbox":
        return "inbox", []
    if urls:
        return "report", urls
    return "unknown", [words[0]]


async def answer_command(rt: Runtime, *, text: str, user_id: str) -> Answer:
    """The answer to `/report-listing <text>`. Raises AccessDenied for a person who may not read
    cases (`access.viewers`) or the case asked about."""
    kind, args = parse_command(text)
    if kind == "report":
        return Answer(open_form=True, urls=args)
    if kind == "help":
        return Answer(*help_blocks())
    if kind == "unknown":
        return Answer(*help_blocks(unknown=args[0]))
    await rt.access.require_viewer(user_id)  # the rest reads cases or their figures
    if kind == "inbox":  # platforms' emails waiting for triage: approvers (bot.desk.inbox)
        from bot.desk.inbox import inbox_answer

        return Answer(*await inbox_answer(rt, user_id=user_id))
    if kind == "status":
        return await _status(rt, args, user_id)
    if kind == "bundle":
        return await _bundle(rt, args, user_id)
    if kind == "list":
        try:
            what, page = parse_filter(args)
        except ListFilterError as exc:
            return Answer(*notice_text(str(exc)))
        return Answer(*await list_answer(rt, user_id=user_id, what=what, page=page))
    if kind == "digest":
        from bot.figures.digest import build_digest

        digest = await build_digest(rt.db, rt.config, now=rt.clock(), chart=False)
        return Answer(text=digest.text, blocks=digest.blocks)
    return await _scorecard(rt, args)


async def _scorecard(rt: Runtime, args: list[str]) -> Answer:
    from bot.figures.scorecard import build_scorecard, decision_sources, scorecard_blocks

    since_text = None
    if args[:1] == ["--since"] and len(args) == 2:
        since_text = args[1]
    elif args:
        return Answer(*notice_text("Usage: `/report-listing scorecard [--since 2026-11-01]`"))
    try:
        since = read_since(since_text, rt.config)
    except BadSince as exc:
        return Answer(*notice_text(escape(str(exc))))
    scores = await build_scorecard(rt.db, rt.config, since=since, now=rt.clock())
    sources = await decision_sources(rt.db, since=since, now=rt.clock())
    return Answer(*scorecard_blocks(scores, since=since, sources=sources))


async def _bundle(rt: Runtime, args: list[str], user_id: str) -> Answer:
    """Queue the case's evidence bundle (built by a job, uploaded into its thread)."""
    if len(args) != 1 or (case_id := parse_case_ref(args[0])) is None:
        return Answer(*notice_text("Which case? For example: `/report-listing bundle TD-42`"))
    async with rt.db.sessions() as session:
        case = await get_case(session, case_id)
    if case is None:
        return Answer(*notice_text(f"There is no case {case_ref(case_id)}."))
    ref = case_ref(case_id)
    await rt.access.require_reader(user_id, ref=ref, private_channel=case.private_channel)
    async with rt.db.transaction() as session:
        await queue_bundle(session, case_id=case_id, requested_by=user_id)
    rt.wake_worker()
    where = (
        f" (<{thread_link(case.channel_id, case.thread_ts)}|its thread>)"
        if (case.channel_id and case.thread_ts)
        else ""
    )
    return Answer(
        *notice_text(
            f"Building {ref}'s evidence bundle: it will be uploaded in {ref}'s thread{where} "
            "with its SHA-256."
        )
    )


async def _status(rt: Runtime, args: list[str], user_id: str) -> Answer:
    if len(args) != 1 or (case_id := parse_case_ref(args[0])) is None:
        return Answer(*notice_text("Which case? For example: `/report-listing status TD-42`"))
    async with rt.db.sessions() as session:
        case = await get_case(session, case_id)
    if case is None:
        return Answer(*notice_text(f"There is no case {case_ref(case_id)}."))
    await rt.access.require_reader(
        user_id, ref=case_ref(case_id), private_channel=case.private_channel
    )
    async with rt.db.sessions() as session:
        text, blocks = await parent_message(rt, session, case)
    if case.channel_id and case.thread_ts:
        link = thread_link(case.channel_id, case.thread_ts)
        blocks = [*blocks, context(f"<{link}|Open the status thread>")]
    return Answer(text=text, blocks=blocks)
