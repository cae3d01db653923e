"""What a person does to answer a platform's request for information: open the answer form,
send it, and, where the channel cannot send it, say they passed it on (**I sent it**).

Only the case's reporter or an approver answers (`AccessControl.require_answerer`), checked
when the form opens and again when it is sent. Sending is queued, not done: the form's answer
is kept as its `answer_requested` event and an `answer` job is queued beside it, in one
transaction under the notice's row lock (`bot.delivery.answers.send` sends it). Whatever is
refused is refused whole, and nothing of it is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from bot.core.cases import case_ref
from bot.core.platforms import platform_name
from bot.core.states import ListingStatus
from bot.delivery.answers.record import record_answered
from bot.delivery.answers.trail import (
    Answer,
    AnswerFileRef,
    answer_detail,
    guided,
    outcome,
    unsettled,
)
from bot.delivery.person import DeliveryError, load_notice, locked_notice
from bot.jobs import payloads
from bot.jobs.payloads import AnswerNotice
from bot.runtime import Runtime
from bot.slack_ui import answer_form as ui
from storage.answers import add_answer, answer_events, answer_request
from storage.models import Case, Notice

NEEDS_INFO = ListingStatus.NEEDS_INFO
_URL_MAX = 2000


class AnswerRejected(DeliveryError):
    """The form's fields cannot be sent as they are: `errors` by block id, each saying why."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


async def _may_answer(rt: Runtime, actor: str, notice: Notice, case: Case) -> None:
    await rt.access.require_answerer(
        actor,
        reporter_id=case.reporter_id,
        doing=f"answer {platform_name(notice.platform)}'s request for information on "
        f"{case_ref(case.id or 0)}",
    )


def _nothing_to_answer(notice: Notice) -> DeliveryError:
    return DeliveryError(
        f"No listing of this notice needs information from {platform_name(notice.platform)} "
        "now: there is nothing to answer."
    )


async def answer_form(rt: Runtime, *, notice_id: int, actor: str) -> dict[str, Any]:
    """The answer form, offering the notice's listings that need information."""
    async with rt.db.sessions() as session:
        notice, case, listings = await load_notice(session, notice_id)
    await _may_answer(rt, actor, notice, case)
    needing = [item for item in listings if item.status == NEEDS_INFO]
    if not needing:
        raise _nothing_to_answer(notice)
    return ui.answer_view(
        notice_id=notice_id,
        platform=notice.platform,
        listings=[(item.id or 0, item.key, item.status_reason) for item in needing],
    )


def _is_link(line: str) -> bool:
    if len(line) > _URL_MAX or not line.isprintable() or any(ch.isspace() for ch in line):
        return False
    try:
        parts = urlsplit(line)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def read_links(text: str) -> list[str]:
    """The evidence links, one per line (blank lines skipped); every line that is not an
    http(s) link is named with its number."""
    links: list[str] = []
    bad: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if _is_link(line):
            links.append(line)
        else:
            shown = line if len(line) <= 60 else line[:59] + "…"
            bad.append(f'line {number} ("{shown}")')
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        noun = "is not an http(s) link" if len(bad) == 1 else "are not http(s) links"
        raise AnswerRejected(
            {ui.LINKS: f"{', '.join(bad[:5])}{more} {noun}: one https://… link per line."}
        )
    if len(links) > ui.LINKS_MAX:
        raise AnswerRejected(
            {ui.LINKS: f"At most {ui.LINKS_MAX} links; this has {len(links)}. Link to a folder."}
        )
    return links


def read_answer(message: str, links_text: str, *, platform: str) -> tuple[str, list[str]]:
    """The answer's words and links, or AnswerRejected naming every field that is wrong."""
    errors: dict[str, str] = {}
    message = message.strip()
    if not message:
        errors[ui.TEXT] = f"Write the answer to send to {platform_name(platform)}."
    elif len(message) > ui.TEXT_MAX:
        errors[ui.TEXT] = f"At most {ui.TEXT_MAX:,} characters; this has {len(message):,}."
    links: list[str] = []
    try:
        links = read_links(links_text)
    except AnswerRejected as exc:
        errors.update(exc.errors)
    if errors:
        raise AnswerRejected(errors)
    return message, links


def _file_refs(files: Sequence[Mapping[str, Any]]) -> list[AnswerFileRef]:
    if len(files) > ui.FILES_MAX:
        raise AnswerRejected({ui.FILES: f"At most {ui.FILES_MAX} files."})
    refs = []
    for item in files:
        size = item.get("size")
        refs.append(
            AnswerFileRef(
                id=str(item.get("id") or ""),
                name=str(item.get("name") or item.get("title") or "file")[:200],
                size=size if isinstance(size, int) else None,
            )
        )
    if any(not ref.id for ref in refs):
        raise AnswerRejected({ui.FILES: "Slack sent a file without its id; attach it again."})
    return refs


async def request_answer(
    rt: Runtime,
    *,
    notice_id: int,
    actor: str,
    message: str,
    links_text: str,
    listing_ids: Sequence[int],
    files: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Keep the answer and queue its sending. Refused whole when a chosen listing no longer needs
    information, or another answer to one of them is on its way."""
    async with rt.db.sessions() as session:  # who may act: before the lock (it may ask Slack)
        notice, case, _ = await load_notice(session, notice_id)
    await _may_answer(rt, actor, notice, case)
    message, links = read_answer(message, links_text, platform=notice.platform)
    refs = _file_refs(files)
    async with rt.db.transaction() as session:
        notice, case, listings = await locked_notice(session, notice_id)
        assert case.id is not None
        wanted = set(listing_ids)
        chosen = [item for item in listings if item.id in wanted]
        if not chosen:
            raise AnswerRejected({ui.LISTINGS: "Choose at least one listing of this notice."})
        if moved := [item for item in chosen if item.status != NEEDS_INFO]:
            raise DeliveryError(
                f"{moved[0].key} is {moved[0].status.replace('_', ' ')} now: it no longer needs "
                "information. Nothing was sent; open the form again from the thread."
            )
        events = await answer_events(session, case_id=case.id, notice_id=notice_id)
        if busy := [a for a in unsettled(events) if wanted & set(a.listing_ids)]:
            raise DeliveryError(
                f"<@{busy[0].actor}>'s answer to these listings is on its way to "
                f"{platform_name(notice.platform)}; the thread will say when it went. "
                "Nothing more was sent."
            )
        detail = answer_detail(
            message=message,
            evidence=links,
            listing_ids=[item.id or 0 for item in chosen],
            files=refs,
            asked={item.id or 0: item.status_reason for item in chosen},
        )
        answer_id = await add_answer(
            session, case_id=case.id, notice_id=notice_id, actor=actor, detail=detail
        )
        await payloads.enqueue(
            session,
            AnswerNotice(notice_id=notice_id, case_id=case.id, answer_id=answer_id),
            dedupe_key=f"answer:{answer_id}",
        )
    rt.wake_worker()


async def confirm_passed_on(rt: Runtime, *, notice_id: int, answer_id: int, actor: str) -> str:
    """**I sent it**: a person passed a guided answer on to the platform; its listings go back to
    in review. Returns what the person is told."""
    async with rt.db.sessions() as session:
        request = await answer_request(session, answer_id)
        notice, case, _ = await load_notice(session, notice_id)
    if request is None or request.notice_id != notice_id:
        raise DeliveryError("This button names no answer of this notice.")
    await _may_answer(rt, actor, notice, case)
    answer = Answer.of(request)
    async with rt.db.transaction() as session:
        notice, case, listings = await locked_notice(session, notice_id)
        assert case.id is not None
        events = await answer_events(session, case_id=case.id, notice_id=notice_id)
        if (done := outcome(answer_id, events)) is not None:
            who = f" by <@{done.actor}>" if done.actor != "bot" else ""
            raise DeliveryError(f"This answer was already recorded{who}: nothing changed.")
        if not guided(answer_id, events):
            raise DeliveryError("This answer was not shown to pass on; nothing changed.")
        moved = await record_answered(
            session, notice=notice, case=case, listings=listings, answer=answer, passed_on_by=actor
        )
    rt.wake_worker()
    name = platform_name(notice.platform)
    if not moved:
        return f"Recorded: the answer was passed on to {name}."
    count = f"{len(moved)} listing{'s are' if len(moved) != 1 else ' is'}"
    return f"Recorded: the answer was passed on to {name}, and {count} back in review."
