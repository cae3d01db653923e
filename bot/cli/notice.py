"""`takedown-bot notice TD-42 [--notice N] [--raw]`: a case's notices exactly as they were sent.

Each kept record is printed with its header (notice, platform, adapter, outcome, time, SHA-256,
Message-ID or path), then what it says (an email's headers and decoded body, a JSON body
pretty-printed, a portal guide). `--raw` writes the exact bytes of one notice's latest record, the
bytes its SHA-256 is of, and nothing else. Reads only the database: app.yaml is not needed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import BinaryIO, TextIO

from bot.cli.errors import EXIT_OK, CliError
from bot.config.environment import Environment
from bot.core.cases import case_ref, parse_case_ref
from bot.delivery.kept import KeptNotice, kept_of_case, readable
from storage.cases import case_of_notice, get_case
from storage.db import Database

_NONE_KEPT = "were not sent yet, or were sent before the bot kept notices"


def print_notice(*, case_text: str, notice_id: int | None, raw: bool) -> int:
    """Print the case's kept notices (one with `notice_id`); `raw`: one record's exact bytes."""
    case_id = parse_case_ref(case_text)
    if case_id is None:
        raise CliError(f"{case_text!r} is not a case reference (expected one such as TD-42)")
    db = Environment.from_environ().database()
    chosen = asyncio.run(_chosen(db, case_id, notice_id))
    if raw:
        write_raw(_one(chosen, case_id), sys.stdout.buffer)
    else:
        write_text(chosen, sys.stdout)
    return EXIT_OK


async def _chosen(db: Database, case_id: int, notice_id: int | None) -> list[KeptNotice]:
    try:
        await db.require_schema()
        async with db.sessions() as session:
            if await get_case(session, case_id) is None:
                raise CliError(f"{case_ref(case_id)} does not exist")
            if notice_id is not None:
                owner = await case_of_notice(session, notice_id)
                if owner is None:
                    raise CliError(f"notice {notice_id} does not exist")
                if owner.id != case_id:
                    raise CliError(
                        f"notice {notice_id} belongs to {case_ref(owner.id or 0)}, "
                        f"not to {case_ref(case_id)}"
                    )
            kept = await kept_of_case(session, case_id)
    finally:
        await db.dispose()
    if notice_id is not None:
        kept = [item for item in kept if item.notice_id == notice_id]
        if not kept:
            raise CliError(
                f"no copy of notice {notice_id} of {case_ref(case_id)} was kept: it was not sent "
                "yet, or was sent before the bot kept notices"
            )
    elif not kept:
        raise CliError(f"{case_ref(case_id)} has no kept notice: its notices {_NONE_KEPT}")
    return kept


def _one(kept: list[KeptNotice], case_id: int) -> KeptNotice:
    """The record `--raw` writes: the chosen notice's latest (what the platform has)."""
    notices = sorted({item.notice_id for item in kept})
    if len(notices) > 1:
        listed = ", ".join(str(notice) for notice in notices)
        raise CliError(
            f"{case_ref(case_id)} has {len(notices)} kept notices ({listed}): "
            "choose one with --notice N"
        )
    return kept[-1]


def write_raw(kept: KeptNotice, out: BinaryIO) -> None:
    out.write(kept.record.body)
    out.flush()


def write_text(kept: list[KeptNotice], out: TextIO) -> None:
    for index, item in enumerate(kept):
        if index:
            out.write("\n")
        title = f"{item.case_ref}, notice {item.notice_id} (record {item.record.id})"
        out.write(f"== {title} ==\n")
        width = max(len(label) for label, _ in item.header())
        for label, value in item.header():
            out.write(f"{label + ':':<{width + 1}} {value}\n")
        out.write("\n" + readable(item.record).rstrip("\n") + "\n")
