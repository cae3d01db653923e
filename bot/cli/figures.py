"""`takedown-bot digest`, `scorecard` and `export`: the figures from the terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config.environment import Settings
from bot.config.loading import load_settings
from bot.config.schema import AppConfig
from storage.db import Database

EXIT_OK = 0


class FiguresInputError(ValueError):
    """A bad option value; the message says which and why."""


def parse_since(text: str | None, config: AppConfig) -> datetime | None:
    """`2026-11-01` → that day's start in the team's time zone."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise FiguresInputError(f"--since {text!r}: expected a date such as 2026-11-01") from None
    return day.replace(tzinfo=config.team.zone)


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


def cmd_digest(args: argparse.Namespace) -> int:
    from bot.figures.digest import build_digest
    from storage.models import utcnow

    settings = load_settings()
    channels = [args.channel] if args.channel else settings.config.team.digest.channels
    if not args.dry_run and not channels:
        raise FiguresInputError(
            "no channel: give --channel C… or set team.digest.channels (or use --dry-run)"
        )
    if not args.dry_run and settings.env.slack_bot_token is None:
        raise FiguresInputError(
            "posting needs SLACK_BOT_TOKEN (or use --dry-run to print the digest)"
        )

    async def work(db: Database) -> None:
        digest = await build_digest(db, settings.config, now=utcnow(), chart=not args.dry_run)
        if args.dry_run:
            print(render_text(digest.blocks))
            return
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.jobs.publish import post_digest

        assert settings.env.slack_bot_token is not None
        slack = AsyncWebClient(
            token=settings.env.slack_bot_token.get_secret_value(),
            base_url=settings.env.slack_api_url,
        )
        for channel in channels:
            ts = await post_digest(slack, channel=channel, digest=digest)
            print(f"posted the digest to {channel} (ts {ts})")

    asyncio.run(_with_db(settings, work))
    return EXIT_OK


def cmd_scorecard(args: argparse.Namespace) -> int:
    from bot.figures.scorecard import build_scorecard, scorecard_blocks, scorecard_csv
    from storage.models import utcnow

    settings = load_settings()
    since = parse_since(args.since, settings.config)

    async def work(db: Database) -> None:
        scores = await build_scorecard(db, settings.config, since=since, now=utcnow())
        if args.csv:
            sys.stdout.write(scorecard_csv(scores))
        else:
            print(render_text(scorecard_blocks(scores, since=since)[1]))

    asyncio.run(_with_db(settings, work))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from bot.figures.export import export_chunks

    settings = load_settings()
    since = parse_since(args.since, settings.config)

    async def work(db: Database) -> None:
        pieces = export_chunks(db, settings.config, format=args.format, since=since)
        if not args.output:
            async for piece in pieces:
                sys.stdout.write(piece)
            return
        # A CLI run: nothing else shares this event loop, so a blocking file is fine here.
        with Path(args.output).open("w", encoding="utf-8", newline="") as out:  # noqa: ASYNC230
            async for piece in pieces:
                out.write(piece)
        print(f"wrote {args.output}", file=sys.stderr)

    asyncio.run(_with_db(settings, work))
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    digest = sub.add_parser("digest", help="post (or print) the weekly digest now")
    digest.add_argument("--channel", help="post to this channel instead of team.digest.channels")
    digest.add_argument("--dry-run", action="store_true", help="print it instead of posting")
    digest.set_defaults(func=cmd_digest)

    scorecard = sub.add_parser(
        "scorecard", help="per platform: takedown rate, time to removal, SLA breaches"
    )
    scorecard.add_argument(
        "--since", help="a date (YYYY-MM-DD) in the team's time zone; default: all time"
    )
    scorecard.add_argument("--csv", action="store_true", help="CSV instead of a table")
    scorecard.set_defaults(func=cmd_scorecard)

    export = sub.add_parser(
        "export", help="cases and listings with their timeline (csv, json, lumen)"
    )
    export.add_argument("--format", choices=["csv", "json", "lumen"], required=True)
    export.add_argument(
        "--since", help="cases reported since this date (YYYY-MM-DD, team time zone)"
    )
    export.add_argument("--output", "-o", help="write to this file instead of standard output")
    export.set_defaults(func=cmd_export)
