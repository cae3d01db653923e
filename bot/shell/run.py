"""`takedown-bot shell`: the real bot in a terminal, with a local stand-in for Slack.

Hubot's shell adapter is the idea, but through the doors Slack itself uses, so no handler has a
second implementation:

- `LocalSlack` (`bot.shell.slack`) is an aiohttp server on loopback that answers the Web API
  methods the bot calls (its AsyncWebClient reaches it through `SLACK_API_URL`), each request's
  `response_url` and file uploads, and hands every call to the shell to show.
- The bot (`create_app`, with its worker and scheduler) serves its real web app on loopback; the
  shell sends `POST /slack/events` what Slack would send, signed with a secret made for this run:
  slash commands, `block_actions` for a pressed button, `view_submission` for a filled-in form,
  `message_action` for the message shortcut, `app_home_opened`.
- `Shell` (`bot.shell.conversation`) reads what the user types (a terminal or a pipe), asks forms
  field by field, and prints what the bot posts (`bot.shell.screen`, rendered by
  `bot.shell.render`).

`run_shell`, here, puts them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import TextIO

import aiohttp
from aiohttp import web
from rich.console import Console

from bot.config.environment import Environment, Settings
from bot.config.loading import load_config
from bot.config.logs import setup_logging
from bot.shell.conversation import Shell
from bot.shell.screen import LineReader
from bot.shell.slack import CHANNEL_NAME, USER_NAME, LocalSlack

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/shell.db"


async def run_shell(
    *, config_path: str | None = None, wait: float = 30.0, stdin: TextIO | None = None
) -> int:
    """Run the bot against the local Slack stand-in and talk to it from this terminal."""
    from bot.app import create_app
    from bot.manifest import build_manifest

    stdin = stdin or sys.stdin
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):  # would switch Bolt to OAuth mode
        os.environ.pop(name, None)
    outer = Environment.from_environ()
    config_path = config_path or outer.config_path
    config = load_config(config_path)
    features = build_manifest(url=None, socket_mode=True)["features"]
    commands = [c["command"] for c in features.get("slash_commands", [])]
    shortcuts = {s["callback_id"]: s["name"] for s in features.get("shortcuts", [])}
    if stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 (line editing and history for input())
    token, secret = f"xoxb-shell-{secrets.token_hex(16)}", secrets.token_hex(32)
    console = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
    reader = LineReader(stdin, interactive=stdin.isatty())
    files = Path(tempfile.mkdtemp(prefix="takedown-shell-"))
    slack = LocalSlack(
        token=token, listener=lambda *call: shell.on_slack_call(*call), files_dir=files
    )
    shell = Shell(
        console=console,
        reader=reader,
        slack=slack,
        secret=secret,
        commands=commands,
        shortcuts=shortcuts,
    )
    await slack.start()
    environ = {
        **os.environ,
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": f"{slack.url}/api/",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "TAKEDOWN_CONFIG": config_path,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL")
        or "WARNING",  # the terminal is for the bot's words
    }
    environ.pop("SLACK_APP_TOKEN", None)
    env = Environment.from_environ(environ)
    setup_logging(env, extra_secrets=[token, secret])
    db = env.database()
    runner: web.AppRunner | None = None
    try:
        await db.migrate()
        shell.db = db
        bot = create_app(Settings(config=config, env=env), db=db, worker_poll_interval=0.25)
        runner = web.AppRunner(bot.web_app(), access_log=None)
        try:
            await runner.setup()  # starts the worker and the scheduler
        except BaseException:
            await bot.close()
            raise
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        shell.events_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        async with aiohttp.ClientSession() as http:
            shell.http = http
            where = _display_url(env.database_url)
            shell.say(f"takedown-bot shell · config {config_path} · database {where}", "dim")
            shell.say(
                f"Slack is simulated here: you are @{USER_NAME} in #{CHANNEL_NAME}. "
                f"Try {commands[0]} help; `help` lists the shell's own commands.",
                "dim",
            )
            await shell.loop(wait=wait)
    finally:
        if runner is not None:
            await runner.cleanup()
        await slack.stop()
        await db.dispose()
        with contextlib.suppress(OSError):
            await asyncio.to_thread(files.rmdir)  # kept if the bot uploaded something there
    return 0


def _display_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or url
    return parsed.render_as_string(hide_password=True)
