"""`takedown-bot` (also `python -m bot`): the bot, its worker, and the team's tools.

Exit status: 0 ok, 2 bad input or configuration (the message says what to fix), 1 other failure.
Errors go to stderr as one readable message, never as a traceback.

This module declares every command and is all that `--help` loads: a command's module, and the
Slack, SQL and chart libraries it needs, are imported when that command runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.errors import EXIT_FAILURE, EXIT_USAGE, CliError, print_error

if TYPE_CHECKING:
    from bot.config.environment import Settings

log = logging.getLogger("takedown.cli")


def _settings() -> Settings:
    from bot.config.loading import load_settings

    return load_settings()


def _check_config(args: argparse.Namespace) -> int:
    from bot.cli.setup import check_config

    return check_config(args.path)


def _manifest(args: argparse.Namespace) -> int:
    from bot.cli.setup import print_manifest

    return print_manifest(url=args.url, socket_mode=args.socket_mode)


def _migrate(args: argparse.Namespace) -> int:
    from bot.cli.serve import migrate
    from bot.config.environment import Environment

    return migrate(database_url=args.database_url or Environment.from_environ().database_url)


def _serve(args: argparse.Namespace) -> int:
    from bot.cli.serve import serve

    return serve(_settings(), socket_mode=args.socket_mode, worker=not args.no_worker)


def _worker(_args: argparse.Namespace) -> int:
    from bot.cli.serve import work

    return work(_settings())


def _digest(args: argparse.Namespace) -> int:
    from bot.cli.figures import digest

    return digest(channel=args.channel, dry_run=args.dry_run)


def _scorecard(args: argparse.Namespace) -> int:
    from bot.cli.figures import scorecard

    return scorecard(since_text=args.since, csv=args.csv)


def _export(args: argparse.Namespace) -> int:
    from bot.cli.figures import export

    return export(format=args.format, since_text=args.since, output=args.output)


def _notice(args: argparse.Namespace) -> int:
    from bot.cli.notice import print_notice

    return print_notice(case_text=args.case, notice_id=args.notice, raw=args.raw)


def _bundle(args: argparse.Namespace) -> int:
    from bot.cli.bundle import bundle

    return bundle(case=args.case, output=args.output)


def _shell(args: argparse.Namespace) -> int:
    import asyncio

    from bot.shell.run import run_shell

    return asyncio.run(run_shell(config_path=args.config, wait=args.wait))


def _report(args: argparse.Namespace) -> int:
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
    serve.set_defaults(func=_serve)

    worker = sub.add_parser(
        "worker", help="run only the job worker (delivery, polling, Slack posts)"
    )
    worker.set_defaults(func=_worker)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--database-url", help="default: $DATABASE_URL or ./data/takedown.db")
    migrate.set_defaults(func=_migrate)

    check = sub.add_parser("check-config", help="validate app.yaml and print a summary")
    check.add_argument("path", nargs="?", help="default: $TAKEDOWN_CONFIG or ./app.yaml")
    check.set_defaults(func=_check_config)

    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    manifest.add_argument("--url", help="the bot's public https base URL (HTTP mode)")
    manifest.add_argument("--socket-mode", action="store_true", help="a manifest for Socket Mode")
    manifest.set_defaults(func=_manifest)

    digest = sub.add_parser("digest", help="post (or print) the weekly digest now")
    digest.add_argument("--channel", help="post to this channel instead of team.digest.channels")
    digest.add_argument("--dry-run", action="store_true", help="print it instead of posting")
    digest.set_defaults(func=_digest)

    scorecard = sub.add_parser(
        "scorecard", help="per platform: takedown rate, time to removal, SLA breaches"
    )
    scorecard.add_argument(
        "--since", help="a date (YYYY-MM-DD) in the team's time zone; default: all time"
    )
    scorecard.add_argument("--csv", action="store_true", help="CSV instead of a table")
    scorecard.set_defaults(func=_scorecard)

    export = sub.add_parser(
        "export", help="cases and listings with their timeline (csv, json, lumen)"
    )
    export.add_argument("--format", choices=["csv", "json", "lumen"], required=True)
    export.add_argument(
        "--since", help="cases reported since this date (YYYY-MM-DD, team time zone)"
    )
    export.add_argument("--output", "-o", help="write to this file instead of standard output")
    export.set_defaults(func=_export)

    notice = sub.add_parser(
        "notice",
        help="print a case's notices exactly as they were sent",
        description=(
            "Print each kept notice of the case: a header (notice, platform, adapter, outcome, "
            "time, SHA-256, Message-ID or path), then its content. With --raw, the exact bytes "
            "of one notice's latest record (its SHA-256 is of these bytes)."
        ),
    )
    notice.add_argument("case", metavar="CASE", help="the case, e.g. TD-42")
    notice.add_argument("--notice", type=int, metavar="N", help="only this notice of the case")
    notice.add_argument(
        "--raw", action="store_true", help="write the exact bytes as sent (one notice)"
    )
    notice.set_defaults(func=_notice)

    bundle = sub.add_parser(
        "bundle",
        help="a case's evidence bundle (ZIP): notices as sent, timeline, evidence, summary PDF",
    )
    bundle.add_argument("case", metavar="CASE", help="the case, for example TD-42")
    bundle.add_argument(
        "--output", "-o", metavar="FILE", help="default: TD-42-evidence.zip in this folder"
    )
    bundle.set_defaults(func=_bundle)

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
    shell.set_defaults(func=_shell)

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
    report.set_defaults(func=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.config.environment import Environment
    from bot.config.logs import setup_logging
    from bot.config.schema import ConfigError

    try:
        setup_logging(Environment.from_environ())
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except CliError as exc:
        print_error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Only a command that uses the database can raise its errors, and that command has loaded
        # storage.db already: the others pay for this import only when they fail.
        from storage.db import DatabaseError

        if isinstance(exc, DatabaseError):
            print_error(str(exc))
            return EXIT_USAGE
        log.debug("failure", exc_info=True)
        print_error(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
