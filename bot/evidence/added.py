"""Files people add to a case (the report form's evidence input, **Add evidence** in its thread):
queued with the form's answer, then fetched from Slack, checked and kept by the `keep_files` job.

A form is answered within Slack's 3 seconds, too soon to fetch 20 MB; so it checks what Slack's
file objects say (types, sizes, the case's room: `bot.evidence.files.check_declared`) and queues
the job. The job fetches every file with the bot token, only from Slack's hosts
(`bot.slack_ui.files`), checks the bytes themselves, keeps them in the evidence store, and then,
in one transaction, adds an `evidence` row and an `evidence_added` event per file and the thread
reply listing each with its name, size and SHA-256. A submission's files are kept all together
or not at all; a refusal is said in the thread. The case's `keep_files` jobs run one at a time
(a serial key), so two submissions cannot both fit the case's last megabytes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref
from bot.evidence.files import EvidenceRefused, Limits, check_bytes, check_case_total, megabytes
from bot.evidence.files import too_big as too_big_text
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.payloads import KeepFiles, enqueue, evidence_serial_key
from bot.jobs.worker import JobContext, RetryLater
from bot.runtime import Runtime
from bot.slack_ui.evidence_form import KeptFile, kept_message, refused_text
from bot.slack_ui.files import SlackFileError, fetch_slack_file, file_name
from storage.events import add_event
from storage.evidence import add_item, case_bytes
from storage.jobs import ClaimedJob
from storage.models import EvidenceItem

log = logging.getLogger("takedown.evidence")

DOWNLOAD_SECONDS = 120.0  # one file of up to `evidence.file_max_mb`
# What the job keeps of a Slack file object: enough to fetch it and name it.
_FILE_KEYS = (
    "id",
    "name",
    "title",
    "filetype",
    "mimetype",
    "size",
    "url_private",
    "url_private_download",
)


async def queue_files(
    session: AsyncSession,
    *,
    case_id: int,
    files: Sequence[Mapping[str, Any]],
    added_by: str,
    note: str = "",
) -> None:
    """Queue the `keep_files` job for files a person added (in the caller's transaction)."""
    if not files:
        return
    trimmed = [{key: file[key] for key in _FILE_KEYS if key in file} for file in files]
    payload = KeepFiles(case_id=case_id, added_by=added_by, files=trimmed, note=note)
    await enqueue(session, payload, serial_key=evidence_serial_key(case_id))


async def run_keep_files(rt: Runtime, ctx: JobContext[KeepFiles]) -> None:
    """The `keep_files` job."""
    args = ctx.args
    limits = Limits.of(rt.config.evidence)
    async with rt.db.sessions() as session:
        held = await case_bytes(session, args.case_id)
    fetched: list[tuple[bytes, str]] = []
    try:
        for file in args.files:  # the case's room is checked as each arrives, not at the end
            fetched.append(await _fetch(rt, file, limits))
            total = held + sum(len(data) for data, _ in fetched)
            check_case_total(total, limits=limits, held=held)
    except SlackFileError as exc:
        if exc.transient:
            raise RetryLater(str(exc)) from None
        await _refuse(rt, ctx, str(exc))
        return
    except EvidenceRefused as exc:
        await _refuse(rt, ctx, str(exc))
        return
    # Into the store first: an item is never recorded without its bytes. A run that dies between
    # the two leaves bytes no item names, and the next run puts the same bytes (the same object).
    kept = [await rt.evidence.put(data) for data, _ in fetched]
    listed: list[KeptFile] = []
    async with rt.db.transaction() as session:
        for file, (data, media_type), stored in zip(args.files, fetched, kept, strict=True):
            name = file_name(file)
            await add_item(session, _item(args, file, name, media_type, stored.sha256, len(data)))
            detail = {
                "name": name,
                "sha256": stored.sha256,
                "size": len(data),
                "media_type": media_type,
            }
            await add_event(
                session,
                case_id=args.case_id,
                actor=args.added_by,
                kind="evidence_added",
                detail=detail,
            )
            listed.append(KeptFile(name, megabytes(len(data)), stored.sha256, media_type))
        text, blocks = kept_message(listed, by=args.added_by, note=args.note)
        await enqueue_thread_reply(session, case_id=args.case_id, text=text, blocks=blocks)
        await ctx.complete(session)
    log.info("%s: kept %s file(s) from %s", case_ref(args.case_id), len(listed), args.added_by)


async def _fetch(rt: Runtime, file: Mapping[str, Any], limits: Limits) -> tuple[bytes, str]:
    name = file_name(file)
    data = await fetch_slack_file(
        file,
        http=rt.http,
        slack=rt.slack,
        limit=limits.file_bytes,
        seconds=DOWNLOAD_SECONDS,
        too_big=too_big_text(name, limits),
    )
    return data, check_bytes(data, name=name, limits=limits)


def _item(
    args: KeepFiles, file: Mapping[str, Any], name: str, media_type: str, sha256: str, size: int
) -> EvidenceItem:
    source = file.get("url_private") or file.get("url_private_download")
    return EvidenceItem(
        case_id=args.case_id,
        kind="file",
        sha256=sha256,
        media_type=media_type,
        size=size,
        name=name,
        source_url=str(source) if source else None,
        note=args.note.strip() or None,
        added_by=args.added_by,
    )


async def _refuse(rt: Runtime, ctx: JobContext[KeepFiles], reason: str) -> None:
    """Nothing of this submission is kept; its thread says why, to the person who added it."""
    args = ctx.args
    text = refused_text(by=args.added_by, count=len(args.files), reason=reason)
    async with rt.db.transaction() as session:
        await enqueue_thread_reply(session, case_id=args.case_id, text=text)
        await ctx.complete(session)


async def on_keep_files_dead(rt: Runtime, job: ClaimedJob, error: str) -> None:
    """The files could not be kept after every try (Slack or the store kept failing): said in
    the case's thread, not lost in silence."""
    case_id, by = int(job.payload["case_id"]), str(job.payload.get("added_by") or "")
    count = len(job.payload.get("files") or [])
    reason = f"{rt.scrub(error)}. Add them again with *Add evidence*."
    async with rt.db.transaction() as session:
        await enqueue_thread_reply(
            session, case_id=case_id, text=refused_text(by=by, count=count, reason=reason)
        )
