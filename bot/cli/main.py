"""`takedown-bot` (also `python -m bot`): the bot, its worker, and the team's tools.

Exit status: 0 ok, 2 bad input or configuration (the message says what to fix), 1 other failure.
Errors go to stderr as one readable message, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.cli.figures import FiguresInputError
from bot.config.environment import Environment, Settings
from bot.config.loading import load_config, load_settings
from bot.config.logs import setup_logging
from bot.config.schema import ConfigError
from storage.db import Database, DatabaseError

log = logging.getLogger("takedown.cli")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str) -> None:
    print(f"takedown-bot: {message}", file=sys.stderr)


def _settings() -> Settings:
    return load_settings()


def cmd_check_config(args: argparse.Namespace) -> int:
    path = args.path or Environment.from_environ().config_path
    config = load_config(path)
    rights = sum(len(brand.rights) for brand in config.brands)
    print(f"ok: {path}")
    print(f"  rights holder: {config.rights_holder.name} <{config.rights_holder.email}>")
    print(f"  brands: {', '.join(b.name for b in config.brands)} ({rights} rights)")
    for name, entry in config.platforms.items():
        serves = f" (serves {', '.join(entry.serves)})" if entry.serves else ""
        print(f"  platform {name}: {entry.adapter}{serves}, SLA {entry.sla_days} days")
    print("  other platforms: portal (guided web form)")
    print(
        f"  timezone: {config.team.timezone}; report channel: {config.team.report_channel or 'where the command is used'}"
    )
    reporters = ", ".join(config.access.reporters) or "everyone"
    approvers = ", ".join(config.access.approvers) or "everyone"
    print(f"  reporters: {reporters}; approvers: {approvers}")
    return EXIT_OK


def cmd_manifest(args: argparse.Namespace) -> int:
    from bot.manifest import build_manifest

    if not args.socket_mode and not args.url:
        raise CliError(
            "give the bot's public URL (--url https://bot.example.com) or use --socket-mode"
        )
    if args.url and not args.url.startswith("https://"):
        raise CliError("--url must be an https:// URL (Slack only calls https endpoints)")
    if args.url and not urlsplit(args.url).hostname:
        raise CliError(f"--url {args.url!r} names no host (e.g. https://bot.example.com)")
    manifest = build_manifest(url=args.url, socket_mode=args.socket_mode)
    print(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


async def _migrate(url: str) -> str:
    db = Database(url)
    try:
        await db.migrate()
        return (await db.schema_status()).head
    finally:
        await db.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    env = Environment.from_environ()
    head = asyncio.run(_migrate(args.database_url or env.database_url))
    print(f"database is at schema {head}")
    return EXIT_OK


def _missing_slack_message(missing: list[str], *, socket_mode: bool) -> str:
    mode = "Socket Mode" if socket_mode else "HTTP mode"
    how = (
        "takedown-bot manifest --socket-mode"
        if socket_mode
        else "takedown-bot manifest --url https://YOUR-HOST"
    )
    return (
        f"Slack credentials missing for {mode}: {', '.join(missing)}.\n"
        "To connect a workspace:\n"
        f"  1. `{how}` prints the app manifest;\n"
        "  2. at https://api.slack.com/apps choose Create New App → From a manifest and paste it;\n"
        + (
            "  3. install it, then set SLACK_BOT_TOKEN (Bot User OAuth Token) and SLACK_APP_TOKEN\n"
            "     (Basic Information → App-Level Tokens, scope connections:write).\n"
            if socket_mode
            else "  3. install it, then set SLACK_BOT_TOKEN (Bot User OAuth Token) and SLACK_SIGNING_SECRET\n"
            "     (Basic Information).\n"
        )
        + "See README.md, Connecting Slack."
    )


async def _serve(settings: Settings, *, socket_mode: bool, worker: bool) -> None:
    from aiohttp import web

    from bot.app import create_app, settle_heap

    bot = create_app(settings, run_worker=worker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(bot.web_app(), access_log=None)
    try:
        try:
            await runner.setup()
        except BaseException:
            # The app's cleanup only closes what a completed start-up opened (e.g. the schema
            # check failed): close the bot's sessions and database here.
            await bot.close()
            raise
        site = web.TCPSite(runner, host="0.0.0.0", port=settings.env.port)  # noqa: S104 (a server)
        await site.start()
        log.info("listening on :%s (POST /slack/events, GET /healthz)", settings.env.port)
        settle_heap()
        socket_handler = None
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            assert settings.env.slack_app_token is not None
            socket_handler = AsyncSocketModeHandler(
                bot.bolt, settings.env.slack_app_token.get_secret_value()
            )
            await socket_handler.connect_async()
            log.info("connected to Slack in Socket Mode")
        await stop.wait()
        log.info("stopping")
        if socket_handler is not None:
            await socket_handler.close_async()
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()
    missing = (
        settings.env.missing_for_socket_mode()
        if args.socket_mode
        else settings.env.missing_for_http()
    )
    if missing:
        _fail(_missing_slack_message(missing, socket_mode=args.socket_mode))
        return EXIT_USAGE
    asyncio.run(_serve(settings, socket_mode=args.socket_mode, worker=not args.no_worker))
    return EXIT_OK


async def _work(settings: Settings) -> None:
    from bot.app import create_app, settle_heap

    bot = create_app(settings, run_worker=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await _start_when_database_is_up(bot, stop)
        settle_heap()
        await stop.wait()
    finally:
        await bot.close()


async def _start_when_database_is_up(
    bot: Any, stop: asyncio.Event, *, patience: float = 60.0
) -> None:
    """Start the worker; a database that is not up yet (a restart) is waited for, up to a minute.
    An outdated schema is not waited for: that needs `takedown-bot migrate`."""
    deadline = loop_time() + patience
    delay = 0.5
    while True:
        try:
            await bot.start()
            return
        except DatabaseError:
            raise
        except (OSError, ConnectionError, TimeoutError) as exc:
            if stop.is_set():
                return
            if loop_time() > deadline:
                raise
            log.warning("database not reachable (%s); trying again in %.1fs", exc, delay)
        except Exception as exc:  # asyncpg/SQLAlchemy wrap connection failures in their own types
            if stop.is_set():
                return
            if "connect" not in str(exc).lower() or loop_time() > deadline:
                raise
            log.warning(
                "database not reachable (%s); trying again in %.1fs", type(exc).__name__, delay
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, 5.0)


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def cmd_worker(_args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.env.slack_bot_token is None:
        _fail(_missing_slack_message(["SLACK_BOT_TOKEN"], socket_mode=False))
        return EXIT_USAGE
    asyncio.run(_work(settings))
    return EXIT_OK


def cmd_shell(args: argparse.Namespace) -> int:
    from bot.shell.run import run_shell

    return asyncio.run(run_shell(config_path=args.config, wait=args.wait))


def cmd_report(args: argparse.Namespace) -> int:
    from bot.cli.report import ReportRequest, run_report

    request = ReportRequest(
        urls=args.urls,
        file=args.file,
        brand=args.brand,
        right_id=args.right,
        infringement=args.infringement,
        reporter=args.reporter,
        description=args.description,
        evidence=args.evidence,
        seller=args.seller,
        channel=args.channel,
        skip_invalid=args.skip_invalid,
    )
    return run_report(request, out=sys.stdout, err=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="takedown-bot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the bot (HTTP on $PORT, or Socket Mode) with its worker"
    )
    serve.add_argument(
        "--socket-mode", action="store_true", help="connect with SLACK_APP_TOKEN instead of HTTP"
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="serve Slack only; run `takedown-bot worker` apart"
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker", help="run only the job worker (delivery, polling, Slack posts)"
    )
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--database-url", help="default: $DATABASE_URL or ./data/takedown.db")
    migrate.set_defaults(func=cmd_migrate)

    check = sub.add_parser("check-config", help="validate app.yaml and print a summary")
    check.add_argument("path", nargs="?", help="default: $TAKEDOWN_CONFIG or ./app.yaml")
    check.set_defaults(func=cmd_check_config)

    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    manifest.add_argument("--url", help="the bot's public https base URL (HTTP mode)")
    manifest.add_argument("--socket-mode", action="store_true", help="a manifest for Socket Mode")
    manifest.set_defaults(func=cmd_manifest)

    from bot.cli.figures import add_parsers as add_figures

    add_figures(sub)

    shell = sub.add_parser(
        "shell", help="the bot in this terminal, with a local stand-in for Slack (no workspace)"
    )
    shell.add_argument("--config", help="default: $TAKEDOWN_CONFIG or ./app.yaml")
    shell.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="when piped input ends, wait up to this long for background work (default 30)",
    )
    shell.set_defaults(func=cmd_shell)

    report = sub.add_parser(
        "report",
        help="file one case from listing URLs and/or a file of them (TXT or CSV)",
        description=(
            "File one case, as the report form does. Every line is checked first; when any is "
            "bad, nothing is stored (unless --skip-invalid). Running the same report again files "
            "nothing new: it prints the case it filed the first time."
        ),
    )
    report.add_argument("urls", nargs="*", metavar="URL", help="listing URLs")
    report.add_argument(
        "--file",
        type=Path,
        help="TXT: one URL per line (# comments); CSV: a header row with a url column, "
        "optional seller and evidence columns",
    )
    report.add_argument("--brand", required=True, help="a brand from app.yaml")
    report.add_argument("--right", required=True, metavar="ID", help="an IP right id from app.yaml")
    report.add_argument(
        "--type",
        required=True,
        dest="infringement",
        metavar="TYPE",
        help="counterfeit, trademark, copyright, design or patent",
    )
    report.add_argument("--description", default="", help="why these listings infringe")
    report.add_argument(
        "--evidence", action="append", default=[], metavar="URL", help="an evidence link (repeat)"
    )
    report.add_argument("--seller", help="the seller, for listings whose CSV row names none")
    report.add_argument(
        "--reporter",
        required=True,
        metavar="U…",
        help="the Slack user who files the report (mentioned in its thread)",
    )
    report.add_argument(
        "--channel",
        metavar="C…",
        help="where the status thread goes when app.yaml sets no team.report_channel "
        "(default: a direct message to the reporter)",
    )
    report.add_argument(
        "--skip-invalid", action="store_true", help="list the bad lines and file the others"
    )
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        env = Environment.from_environ()
        setup_logging(env)
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        _fail(str(exc))
        return EXIT_USAGE
    except (CliError, FiguresInputError) as exc:
        _fail(str(exc))
        return exc.code if isinstance(exc, CliError) else EXIT_USAGE
    except DatabaseError as exc:
        _fail(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("failure", exc_info=True)
        _fail(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
