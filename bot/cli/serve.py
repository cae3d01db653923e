"""`takedown-bot serve`, `worker` and `migrate`: the bot's processes, and the schema they need."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from bot.cli.errors import EXIT_OK, EXIT_USAGE, print_error
from bot.config.environment import Settings
from storage.db import Database, DatabaseError

log = logging.getLogger("takedown.cli")


def migrate(*, database_url: str) -> int:
    """Create or upgrade the schema of the database at `database_url`."""
    head = asyncio.run(_migrate(database_url))
    print(f"database is at schema {head}")
    return EXIT_OK


async def _migrate(url: str) -> str:
    db = Database(url)
    try:
        await db.migrate()
        return (await db.schema_status()).head
    finally:
        await db.dispose()


def serve(settings: Settings, *, socket_mode: bool, worker: bool) -> int:
    """Serve Slack over HTTP on $PORT (or in Socket Mode), with the job worker unless `worker` is
    false; returns when SIGTERM or SIGINT arrives."""
    missing = (
        settings.env.missing_for_socket_mode() if socket_mode else settings.env.missing_for_http()
    )
    if missing:
        print_error(_missing_slack_message(missing, socket_mode=socket_mode))
        return EXIT_USAGE
    asyncio.run(_serve(settings, socket_mode=socket_mode, worker=worker))
    return EXIT_OK


def work(settings: Settings) -> int:
    """Run only the job worker, until SIGTERM or SIGINT."""
    if settings.env.slack_bot_token is None:
        print_error(_missing_slack_message(["SLACK_BOT_TOKEN"], socket_mode=False))
        return EXIT_USAGE
    asyncio.run(_work(settings))
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


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def _serve(settings: Settings, *, socket_mode: bool, worker: bool) -> None:
    from bot.app import create_app, settle_heap

    bot = create_app(settings, run_worker=worker)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    runners = await bot.listen(socket_mode=socket_mode)  # where: bot.app.listeners
    try:
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
        for runner in reversed(runners):
            await runner.cleanup()


async def _work(settings: Settings) -> None:
    from bot.app import create_app, settle_heap

    bot = create_app(settings, run_worker=True)
    stop = asyncio.Event()
    _stop_on_signals(stop)
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
