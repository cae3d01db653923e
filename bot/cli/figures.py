"""`takedown-bot digest`, `scorecard` and `export`: the figures from the terminal."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.errors import EXIT_OK, CliError
from bot.config.environment import Settings
from bot.config.loading import load_settings
from bot.config.schema import AppConfig
from bot.figures.since import BadSince, read_since
from storage.db import Database

if TYPE_CHECKING:
    from bot.figures.export import ExportFormat


class FiguresInputError(CliError, ValueError):
    """A bad option value; the message says which and why (also for the slash command's
    `scorecard --since`)."""


def parse_since(text: str | None, config: AppConfig) -> datetime | None:
    """`--since`, read as the figures read it (`bot.figures.since`); bad input exits 2."""
    try:
        return read_since(text, config)
    except BadSince as exc:
        raise FiguresInputError(str(exc)) from None


def render_text(blocks: list[dict[str, Any]]) -> str:
    from bot.shell.render import render_blocks

    return "\n".join(line.text for line in render_blocks(blocks))


async def _with_db(settings: Settings, work: Any) -> Any:
    db = settings.env.database()
    try:
        await db.require_schema()
        return await work(db)
    finally:
        await db.dispose()


def digest(*, channel: str | None, dry_run: bool) -> int:
    """Post the weekly digest now to `channel` (default: team.digest.channels), or print it."""
    from bot.figures.digest import build_digest
    from storage.models import utcnow

    settings = load_settings()
    channels = [channel] if channel else settings.config.team.digest.channels
    if not dry_run and not channels:
        raise FiguresInputError(
            "no channel: give --channel C… or set team.digest.channels (or use --dry-run)"
        )
    if not dry_run and settings.env.slack_bot_token is None:
        raise FiguresInputError(
            "posting needs SLACK_BOT_TOKEN (or use --dry-run to print the digest)"
        )

    async def work(db: Database) -> None:
        built = await build_digest(db, settings.config, now=utcnow(), chart=not dry_run)
        if dry_run:
            print(render_text(built.blocks))
            return
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.jobs.publish import post_digest

        assert settings.env.slack_bot_token is not None
        slack = AsyncWebClient(
            token=settings.env.slack_bot_token.get_secret_value(),
            base_url=settings.env.slack_api_url,
        )
        for to in channels:
            ts = await post_digest(slack, channel=to, digest=built)
            print(f"posted the digest to {to} (ts {ts})")

    asyncio.run(_with_db(settings, work))
    return EXIT_OK


def scorecard(*, since_text: str | None, csv: bool) -> int:
    """Print each platform's takedown rate, time to removal and SLA breaches (a table or CSV)."""
    from bot.figures.scorecard import build_scorecard, scorecard_blocks, scorecard_csv
    from storage.models import utcnow

    settings = load_settings()
    since = parse_since(since_text, settings.config)

    async def work(db: Database) -> None:
        scores = await build_scorecard(db, settings.config, since=since, now=utcnow())
        if csv:
            sys.stdout.write(scorecard_csv(scores))
        else:
            print(render_text(scorecard_blocks(scores, since=since)[1]))

    asyncio.run(_with_db(settings, work))
    return EXIT_OK


def export_target(output: str) -> Path:
    """`--output`, checked before any work: a file path in a folder that exists (bad input
    exits 2, naming the path)."""
    target = Path(output)
    if target.is_dir():
        raise FiguresInputError(f"--output {output} is a directory: give a file path in it")
    if not target.parent.is_dir():
        raise FiguresInputError(f"--output {output}: the folder {target.parent} does not exist")
    return target


def export(*, format: ExportFormat, since_text: str | None, output: str | None) -> int:
    """Write every case with its listings and timeline as csv, json or lumen (to `output`, or to
    standard output)."""
    from bot.figures.export import export_chunks

    target = export_target(output) if output else None
    settings = load_settings()
    since = parse_since(since_text, settings.config)

    async def work(db: Database) -> None:
        pieces = export_chunks(db, settings.config, format=format, since=since)
        if target is None:
            async for piece in pieces:
                sys.stdout.write(piece)
            return
        # Written beside the target and renamed into place once complete: a failed export leaves
        # no partial file, and an earlier export at that path stays as it was.
        try:
            part = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, or removed)
                "w",
                encoding="utf-8",
                newline="",
                dir=target.parent,
                prefix=f".{target.name}.",
                suffix=".part",
                delete=False,
            )
        except OSError as exc:
            raise FiguresInputError(f"cannot write in {target.parent}: {exc.strerror}") from None
        try:
            # A CLI run: nothing else shares this event loop, so a blocking file is fine here.
            with part:
                async for piece in pieces:
                    part.write(piece)
            os.replace(part.name, target)
        except BaseException:
            Path(part.name).unlink(missing_ok=True)  # noqa: ASYNC240 (a CLI run, as above)
            raise
        print(f"wrote {target}", file=sys.stderr)

    asyncio.run(_with_db(settings, work))
    return EXIT_OK
