"""`takedown-bot shell`: the real bot in a terminal, with a local stand-in for Slack.

Hubot's shell adapter is the idea, but through the doors Slack itself uses, so no handler has a
second implementation:

- `LocalSlack` is an aiohttp server on loopback that answers the Web API methods the bot calls
  (its AsyncWebClient reaches it through `SLACK_API_URL`), each request's `response_url` and
  file uploads, and hands every call to the shell to show.
- The bot (`create_app`, with its worker and scheduler) serves its real web app on loopback; the
  shell sends `POST /slack/events` what Slack would send, signed with a secret made for this run:
  slash commands, `block_actions` for a pressed button, `view_submission` for a filled-in form,
  `message_action` for the message shortcut, `app_home_opened`.
- `Shell` reads what the user types (a terminal or a pipe), asks forms field by field, and prints
  what the bot posts, rendered by `bot.shell_render`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import mimetypes
import os
import queue
import secrets
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from rich.console import Console
from rich.text import Text

from bot.config import Environment, Settings, load_config
from bot.logs import setup_logging
from bot.shell_render import Line, changed_lines, question, render_blocks, render_message, text_of
from bot.shell_render import thread_label as label_of
from storage import jobs
from storage.db import Database
from storage.models import utcnow

TEAM_ID, APP_ID = "T0SHELL", "A0SHELL"
BOT_USER_ID, BOT_ID, BOT_NAME = "U0TAKEDOWN", "B0TAKEDOWN", "takedown-bot"
USER_ID, USER_NAME = "U0SHELL", "you"
CHANNEL_ID, CHANNEL_NAME = "C0SHELL", "shell"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/shell.db"
IDLE_HORIZON = 10.0  # background work has settled when no job is running or due this soon
ANSWER_WAIT = 10.0
CANCEL = "!cancel"
_SILENT = {"auth.test", "conversations.open", "usergroups.users.list", "files.info"}
_SILENT |= {"files.getUploadURLExternal"}

SlackListener = Callable[[str, dict[str, Any], dict[str, Any]], None]

HELP = """\
Type what you would type in Slack:
  /report-listing …      a slash command (/report-listing help says what it does)
  any other text         a message in #shell; then `shortcut` runs "Report listing" on it
Shell commands:
  press N (or N)         press button [N]
  wait [SECONDS]         let background work finish (delivery, polling, thread replies)
  home                   open the bot's App Home
  help                   this text
  quit, exit, Ctrl-D     leave
In a form: answer field by field. Enter keeps the value shown or skips an optional field,
`-` clears it, a multi-line field ends with an empty line, !cancel closes the form."""


def sign_request(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with: v0 HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:%s:%s" % (ts.encode(), body), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


# -- the Slack Web API stand-in -------------------------------------------------------------------


class LocalSlack:
    """Answers the bot's Slack Web API calls on loopback as Slack would, and reports each one."""

    def __init__(self, *, token: str, listener: SlackListener, files_dir: Path) -> None:
        self.token = token
        self.listener = listener
        self.files_dir = files_dir
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{file_id}/{name}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def response_url(self, key: str) -> str:
        return f"{self.url}/respond/{key}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):06d}"

    def new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def open_view(self, view: Mapping[str, Any], *, view_id: str | None = None) -> dict[str, Any]:
        """A modal as Slack keeps it: with an id, a hash and an empty state."""
        view_id = view_id or self.new_id("V")
        return {
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "root_view_id": view_id,
            "previous_view_id": None,
            "private_metadata": "",
            "callback_id": "",
            **view,
            "state": {"values": {}},
            "hash": secrets.token_hex(6),
        }

    def add_file(self, path: Path, data: bytes) -> dict[str, Any]:
        """A local file as if the user had uploaded it to Slack (a form's file input)."""
        file_id = self.new_id("F")
        (self.files_dir / file_id).write_bytes(data)
        url = f"{self.url}/files/{file_id}/{path.name}"
        info = {
            "id": file_id,
            "name": path.name,
            "title": path.name,
            "mimetype": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            "filetype": path.suffix.lstrip(".").lower() or "binary",
            "size": len(data),
            "user": USER_ID,
            "url_private": url,
            "url_private_download": url,
        }
        self.files[file_id] = info
        return info

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = self.answer(method, params)
        self.listener(method, params, answer)
        return web.json_response(answer)

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.listener("response_url", {**body, "key": request.match_info["key"]}, {"ok": True})
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        info = self.files.get(request.match_info["file_id"])
        if info is None:
            return web.Response(status=404)
        data = await request.read()
        path = self.files_dir / f"{info['id']}-{Path(str(info['name'])).name}"
        await asyncio.to_thread(path.write_bytes, data)
        info.update(size=len(data), path=str(path))
        return web.Response(text=f"OK - {len(data)}")

    async def _download(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.FileResponse(self.files_dir / file_id)

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """What Slack would answer; methods the shell knows nothing about simply succeed."""
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://shell.invalid/",
                "team": "Shell",
                "user": BOT_NAME,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
        if method == "chat.postMessage":
            channel = str(params.get("channel") or "")
            channel = "D" + channel[1:] if channel[:1] in ("U", "W") else channel
            ts = self.new_ts()
            message = {**params, "channel": channel, "ts": ts, "user": BOT_USER_ID}
            self.messages[(channel, ts)] = message
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            key = (str(params.get("channel") or ""), str(params.get("ts") or ""))
            # A message from an earlier shell session is not known here; take the update anyway.
            self.messages[key] = {**self.messages.get(key, {}), **params, "user": BOT_USER_ID}
            return {"ok": True, "channel": key[0], "ts": key[1], "text": params.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.new_ts()}
        if method in ("views.open", "views.push", "views.update", "views.publish"):
            view_id = str(params.get("view_id") or "") or None
            return {"ok": True, "view": self.open_view(params.get("view") or {}, view_id=view_id)}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users") or "U")[1:]}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": [USER_ID]}  # in the shell, you are in every user group
        if method == "files.getUploadURLExternal":
            file_id = self.new_id("F")
            self.files[file_id] = {"id": file_id, "name": str(params.get("filename") or file_id)}
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            listed = params.get("files") if isinstance(params.get("files"), list) else []
            done = [self.files.setdefault(str(f.get("id")), dict(f)) for f in listed or []]
            for info, item in zip(done, listed or [], strict=True):
                info["title"] = item.get("title") or info.get("name")
            return {"ok": True, "files": done}
        if method == "files.info":
            found = self.files.get(str(params.get("file") or ""))
            return (
                {"ok": True, "file": found} if found else {"ok": False, "error": "file_not_found"}
            )
        return {"ok": True}


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = await request.json()
        params: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    else:
        params = dict((await request.post()).items())
    for key in ("blocks", "view", "attachments", "files"):
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


# -- reading what the user types ------------------------------------------------------------------


class LineReader:
    """One line whenever the shell asks, read in a daemon thread (so Ctrl-C and exit never wait
    on a blocked `input()`): `input()` with line editing on a terminal, plain lines from a pipe."""

    def __init__(self, stream: TextIO, *, interactive: bool) -> None:
        self.stream = stream
        self.interactive = interactive
        self.prompt: str | None = None  # while a read waits
        self._eof = False
        self._asks: queue.Queue[tuple[str, asyncio.Future[str | None]]] = queue.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        threading.Thread(target=self._run, name="shell-input", daemon=True).start()

    async def read(self, prompt: str) -> str | None:
        """The next line without its newline; None at the end of the input."""
        if self._eof:
            return None
        self._loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = self._loop.create_future()
        self.prompt = prompt
        self._asks.put((prompt, future))
        try:
            line = await future
        finally:
            self.prompt = None
        self._eof = line is None
        return line

    def _run(self) -> None:
        while True:
            prompt, future = self._asks.get()
            line: str | None
            try:
                line = input(prompt) if self.interactive else self.stream.readline() or None
            except (EOFError, OSError, ValueError):
                line = None
            line = line.rstrip("\r\n") if line is not None else None
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_resolve, future, line)


def _resolve(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


# -- the shell ------------------------------------------------------------------------------------


@dataclass
class Button:
    """What pressing button [n] sends: the element and the message it sits in."""

    element: dict[str, Any]
    block_id: str
    channel: str
    message: dict[str, Any] | None  # None: an ephemeral message


class Shell:
    """The conversation: what the user types becomes signed requests; what the bot sends, text."""

    def __init__(
        self,
        *,
        console: Console,
        reader: LineReader,
        slack: LocalSlack,
        secret: str,
        commands: Sequence[str],
        shortcuts: Mapping[str, str],
    ) -> None:
        self.console = console
        self.reader = reader
        self.slack = slack
        self.secret = secret
        self.commands = list(commands)
        self.shortcuts = dict(shortcuts)  # message shortcut callback id → name
        self.users = {USER_ID: USER_NAME, BOT_USER_ID: BOT_NAME}
        self.db: Database | None = None
        self.http: aiohttp.ClientSession | None = None
        self.events_url = ""
        self.rendered: dict[tuple[str, str], list[Line]] = {}
        self.buttons: dict[int, Button] = {}
        self._numbers: dict[tuple[str, ...], int] = {}
        self.modals: deque[dict[str, Any]] = deque()
        self.answers: set[str] = set()
        self.last_activity = time.monotonic()
        self.my_messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    # -- output -------------------------------------------------------------------------------------
    def show(self, lines: Sequence[Line], *, indent: str = "") -> None:
        """Print lines; on a terminal, around the prompt the user may be typing at."""
        prompt = self.reader.prompt if self.reader.interactive else None
        if prompt is not None:
            self.console.file.write("\r\x1b[2K")
        for line in lines:
            self.console.print(Text(indent + line.text, style=line.style), soft_wrap=True)
        if prompt is not None:
            typed = ""
            with contextlib.suppress(ImportError):
                import readline

                typed = readline.get_line_buffer()
            self.console.file.write(prompt + typed)
            self.console.file.flush()

    def say(self, text: str, style: str = "", *, indent: str = "") -> None:
        self.show([Line(line, style) for line in text.split("\n")], indent=indent)

    async def ask(self, prompt: str) -> str | None:
        line = await self.reader.read(prompt)
        if line is not None and not self.reader.interactive:  # a transcript shows the input
            self.console.print(Text(prompt, "dim") + Text(line), soft_wrap=True)
        return line

    def channel_name(self, channel: str) -> str:
        if channel == CHANNEL_ID:
            return "#" + CHANNEL_NAME
        return f"@{BOT_NAME} (DM)" if channel.startswith("D") else "#" + channel

    def _numberer(
        self, channel: str, message: dict[str, Any] | None
    ) -> Callable[[dict[str, Any], str], int]:
        """Numbers for a message's buttons; the same button keeps its number across updates."""

        def number(element: dict[str, Any], block_id: str) -> int:
            ts = str((message or {}).get("ts") or "ephemeral")
            key = (channel, ts, block_id, str(element.get("action_id")), str(element.get("value")))
            if message is None or key not in self._numbers:
                self._numbers[key] = len(self.buttons) + 1
            self.buttons[self._numbers[key]] = Button(element, block_id, channel, message)
            return self._numbers[key]

        return number

    def _render(
        self, channel: str, message: dict[str, Any] | None, source: Mapping[str, Any]
    ) -> list[Line]:
        number = self._numberer(channel, message)
        return render_message(
            source.get("text"), source.get("blocks"), users=self.users, number=number
        )

    # -- what the bot sends to Slack ----------------------------------------------------------------
    def on_slack_call(self, method: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        self.last_activity = time.monotonic()
        try:
            self._show_call(method, params, answer)
        except Exception as exc:  # showing a message must never break the stand-in's answer
            self.say(f"(could not show {method}: {type(exc).__name__}: {exc})", "red")

    def _show_call(self, method: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        if method == "chat.postMessage":
            self._show_message(answer["message"])
        elif method == "chat.update":
            self._show_update(answer["channel"], answer["ts"])
        elif method == "chat.postEphemeral":
            self.answers.add("ephemeral")
            channel, thread = str(params.get("channel")), str(params.get("thread_ts") or "")
            self._show_private(params, channel=channel, thread=thread)
        elif method in ("views.open", "views.push"):
            self.modals.append(answer["view"])
            self.answers.add(f"trigger:{params.get('trigger_id')}")
        elif method == "views.update":
            view = answer["view"]
            waiting = [i for i, v in enumerate(self.modals) if v["id"] == view["id"]]
            if waiting:
                self.modals[waiting[0]] = view
            else:
                self.modals.append(view)
        elif method == "views.publish":
            self.answers.add("home")
            self.say(f"App Home of @{USER_NAME}", "bold blue")
            number = self._numberer(CHANNEL_ID, None)
            blocks = answer["view"].get("blocks") or []
            self.show(render_blocks(blocks, users=self.users, number=number), indent="  ")
        elif method == "files.completeUploadExternal":
            channel, thread = str(params.get("channel_id")), str(params.get("thread_ts") or "")
            files = [
                Line(f"📎 {info.get('title')}" + (f" → {info['path']}" if info.get("path") else ""))
                for info in answer.get("files") or []
            ]
            self._print_as(channel, thread, BOT_NAME, files)
        elif method == "response_url":
            self.answers.add(f"respond:{params.get('key')}")
            if params.get("delete_original"):
                self.say("(your earlier answer from takedown-bot was deleted)", "dim")
            elif params.get("response_type") == "in_channel":
                self._show_message({**params, "channel": CHANNEL_ID, "ts": self.slack.new_ts()})
            else:
                replaced = bool(params.get("replace_original"))
                self._show_private(params, channel=CHANNEL_ID, thread="", replaced=replaced)
        elif method not in _SILENT:
            self.say(f"  · {BOT_NAME} called Slack's {method} (the shell answered ok)", "dim")

    def _print_as(
        self, channel: str, thread: str, author: str, lines: list[Line], style: str = "bold blue"
    ) -> None:
        """Show a message under a line saying who posted it where (a thread reply indented)."""
        if thread:
            head, indent = f"  └ {self._label(channel, thread)} thread · {author}", "      "
        else:
            head, indent = f"{self.channel_name(channel)} · {author}", "  "
        self.show([Line(head, style), *(Line(indent + x.text, x.style) for x in lines)])

    def _show_message(self, message: dict[str, Any]) -> None:
        channel, ts = str(message["channel"]), str(message["ts"])
        thread = str(message.get("thread_ts") or "")
        lines = self.rendered[(channel, ts)] = self._render(channel, message, message)
        author = self.users.get(str(message.get("user")), BOT_NAME)
        self._print_as(channel, thread if thread != ts else "", author, lines)

    def _show_update(self, channel: str, ts: str) -> None:
        message = self.slack.messages[(channel, ts)]
        before = self.rendered.get((channel, ts))
        lines = self.rendered[(channel, ts)] = self._render(channel, message, message)
        changed = changed_lines(before, lines) if before is not None else lines
        if changed:
            earlier = "" if before is not None else ", a message from an earlier session"
            head = Line(f"  ↻ (updated) {self._label(channel, ts)}{earlier}", "blue")
            self.show([head, *(Line("      " + x.text, x.style) for x in changed)])

    def _show_private(
        self, params: Mapping[str, Any], *, channel: str, thread: str, replaced: bool = False
    ) -> None:
        lines = self._render(channel, None, params)
        what = ", replacing the one before" if replaced else ""
        self._print_as(channel, thread, f"{BOT_NAME} (only visible to you{what})", lines, "magenta")

    def _label(self, channel: str, ts: str) -> str:
        parent = self.slack.messages.get((channel, ts))
        return label_of(parent.get("text"), parent.get("blocks")) if parent else ts

    # -- requests to the bot, as Slack sends them ---------------------------------------------------
    def _trigger(self) -> str:
        return f"{next(self._ids)}.{secrets.randbelow(10**9)}.{secrets.token_hex(8)}"

    def _base(self, kind: str) -> dict[str, Any]:
        """The fields every interaction payload from Slack carries."""
        return {
            "type": kind,
            "team": {"id": TEAM_ID, "domain": "shell"},
            "user": {"id": USER_ID, "username": USER_NAME, "name": USER_NAME, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "shell-verification-token",
            "trigger_id": self._trigger(),
            "is_enterprise_install": False,
        }

    async def _post(self, body: str, content_type: str) -> tuple[int, str]:
        assert self.http is not None
        data = body.encode()
        headers = {"Content-Type": content_type, **sign_request(self.secret, data)}
        async with self.http.post(self.events_url, data=data, headers=headers) as response:
            return response.status, await response.text()

    async def _send(
        self, what: str, payload: Mapping[str, Any], *, form: bool = False
    ) -> str | None:
        """Sign and send a request; the answer's body, or None (told) when the bot refused it."""
        if form:
            body, kind = urlencode(payload), "application/x-www-form-urlencoded"
        elif payload.get("type") == "event_callback":
            body, kind = json.dumps(payload), "application/json"
        else:
            body, kind = (
                urlencode({"payload": json.dumps(payload)}),
                "application/x-www-form-urlencoded",
            )
        status, text = await self._post(body, kind)
        if status == 200:
            return text
        why = {404: " (it has no listener for this)", 401: " (the signature was refused)"}
        self.say(f"{what} failed: {BOT_NAME} answered HTTP {status}{why.get(status, '')}", "red")
        return None

    async def _await_answer(self, keys: set[str], *, quiet: float | None, limit: float) -> bool:
        """Wait for one of `keys` (a form opened, an answer posted), or `quiet` seconds of silence."""
        started = time.monotonic()
        while not keys & self.answers:
            now = time.monotonic()
            if quiet is not None and now - max(started, self.last_activity) >= quiet:
                return False
            if now - started >= limit:
                return False
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # a message that follows the answer shows before the prompt
        return True

    def _expect(self, payload: Mapping[str, Any], key: str) -> set[str]:
        self.answers -= {"ephemeral", "home"}
        return {f"trigger:{payload.get('trigger_id')}", f"respond:{key}", "ephemeral"}

    async def command(self, line: str) -> None:
        name, _, text = line.partition(" ")
        if name not in self.commands:
            self.say(
                f"{BOT_NAME} has no {name} command (it has {', '.join(self.commands)}).", "red"
            )
            return
        key = str(next(self._ids))
        form = {
            "token": "shell-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "shell",
            "channel_id": CHANNEL_ID,
            "channel_name": CHANNEL_NAME,
            "user_id": USER_ID,
            "user_name": USER_NAME,
            "command": name,
            "text": text.strip(),
            "api_app_id": APP_ID,
            "response_url": self.slack.response_url(key),
            "trigger_id": self._trigger(),
        }
        keys = self._expect(form, key)
        body = await self._send(name, form, form=True)
        if body:  # an answer in the acknowledgement itself
            with contextlib.suppress(ValueError):
                self._show_private(json.loads(body), channel=CHANNEL_ID, thread="")
        elif body is not None and not await self._await_answer(keys, quiet=None, limit=ANSWER_WAIT):
            self.say(f"(no answer from {BOT_NAME} within {ANSWER_WAIT:.0f} s)", "red")

    async def press(self, number: int) -> None:
        if number not in self.buttons and not self.reader.interactive:
            # A script cannot see the button coming: wait for it while the bot is still busy.
            deadline = time.monotonic() + 30.0
            while number not in self.buttons and time.monotonic() < deadline:
                if await self._idle():
                    break
                await asyncio.sleep(0.1)
        button = self.buttons.get(number)
        if button is None:
            self.say(f"There is no button [{number}].", "red")
            return
        element, message = button.element, button.message
        confirm = element.get("confirm")
        if isinstance(confirm, dict):
            self.say(f"{text_of(confirm.get('title'))} {text_of(confirm.get('text'))}", "yellow")
            reply = await self.ask(f"{text_of(confirm.get('confirm')) or 'Yes'}? [y/N] ")
            if (reply or "").strip().lower() not in ("y", "yes"):
                self.say("(cancelled)", "dim")
                return
        key = str(next(self._ids))
        action = {
            "type": "button",
            "action_id": element.get("action_id"),
            "block_id": button.block_id,
            "text": element.get("text"),
            "value": element.get("value"),
            "action_ts": f"{time.time():.6f}",
        }
        container = {"type": "message", "channel_id": button.channel, "is_ephemeral": not message}
        payload = {
            **self._base("block_actions"),
            "container": container,
            "channel": {"id": button.channel, "name": self.channel_name(button.channel)[1:]},
            "response_url": self.slack.response_url(key),
            "state": {"values": {}},
            "actions": [action],
        }
        if message is not None:
            thread = {"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}
            container.update(message_ts=message["ts"], **thread)
            payload["message"] = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "ts": message["ts"],
                "text": message.get("text") or "",
                "blocks": message.get("blocks") or [],
                **thread,
            }
        self.say(f"(you pressed [{number}] {text_of(element.get('text'))})", "dim")
        keys = self._expect(payload, key)
        if await self._send(f"[{number}]", payload) is not None:
            await self._await_answer(keys, quiet=1.0, limit=ANSWER_WAIT)

    async def shortcut(self, name: str) -> None:
        if not self.shortcuts or not self.my_messages:
            self.say("Write a message with links first, then run the shortcut on it.", "red")
            return
        named = [cb for cb, label in self.shortcuts.items() if name.lower() in label.lower()]
        callback = (named or list(self.shortcuts))[0]
        message, key = self.my_messages[-1], str(next(self._ids))
        payload = {
            **self._base("message_action"),
            "callback_id": callback,
            "response_url": self.slack.response_url(key),
            "message_ts": message["ts"],
            "action_ts": f"{time.time():.6f}",
            "channel": {"id": CHANNEL_ID, "name": CHANNEL_NAME},
            "message": {"type": "message", "user": USER_ID, **message},
        }
        keys = self._expect(payload, key)
        if await self._send(self.shortcuts[callback], payload) is not None:
            await self._await_answer(keys, quiet=None, limit=ANSWER_WAIT)

    async def home(self) -> None:
        event = {
            "token": "shell-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": USER_ID,
                "channel": "D0HOME",
                "tab": "home",
            },
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        self.answers.discard("home")
        if await self._send("home", event) is not None and not await self._await_answer(
            {"home"}, quiet=None, limit=5.0
        ):
            self.say(f"({BOT_NAME} published no App Home)", "dim")

    # -- forms --------------------------------------------------------------------------------------
    async def run_modal(self, view: dict[str, Any]) -> None:
        """Ask a modal's inputs field by field, submit it, and follow the bot's answer."""
        while True:
            title = text_of(view.get("title"))
            blocks = view.get("blocks") or []
            if not any(b.get("type") == "input" for b in blocks):
                self.say(f"┌─ {title}", "bold green")
                self.show(render_blocks(blocks, users=self.users), indent="│ ")
                self.say(f"└─ [{text_of(view.get('close')) or 'Close'}]", "green")
                return
            self.say(f"┌─ {title}  (a form; {CANCEL} closes it)", "bold green")
            values: dict[str, dict[str, Any]] = {}
            errors: dict[str, str] = {}
            answer: dict[str, Any] = {}
            while True:
                for block in blocks:
                    if block.get("type") != "input":
                        if not values:
                            self.show(render_blocks([block], users=self.users), indent="│ ")
                        continue
                    block_id = str(block.get("block_id"))
                    if errors and block_id not in errors:
                        continue
                    if block_id in errors:
                        label = text_of(block.get("label"))
                        self.say(f"│ ✗ {label}: {errors[block_id]}", "red")
                    action_id = str((block.get("element") or {}).get("action_id"))
                    state = await self.ask_field(block, values.get(block_id, {}).get(action_id))
                    if state is None:
                        self.say("└─ (form closed)", "green")
                        return
                    values[block_id] = {action_id: state}
                self.say(f"└─ [{text_of(view.get('submit')) or 'Submit'}]", "green")
                payload = {
                    **self._base("view_submission"),
                    "view": {**view, "state": {"values": values}},
                    "response_urls": [],
                }
                body = await self._send("the form", payload)
                answer = json.loads(body) if body and body.lstrip().startswith("{") else {}
                if answer.get("response_action") != "errors":
                    break
                errors = {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
                if not errors.keys() & {str(b.get("block_id")) for b in blocks}:
                    self.say("│ " + "; ".join(errors.values()), "red")
                    errors, values = {}, {}
                self.say(f"┌─ {title} (please correct)", "bold green")
            if answer.get("response_action") not in ("update", "push"):
                await self._await_answer(set(), quiet=0.3, limit=2.0)
                return
            same = view["id"] if answer["response_action"] == "update" else None
            view = self.slack.open_view(answer.get("view") or {}, view_id=same)

    async def ask_field(
        self, block: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """One input's answer, shaped as Slack puts it in `state.values`; None: cancelled."""
        field = question(block, current)
        self.show(field.lines(), indent="│ ")
        while True:
            reply = await self.ask("│ › ")
            while field.multiline and reply and reply.strip() not in ("-", CANCEL):
                more = await self.ask("│ … ")
                if not more:
                    break
                reply = CANCEL if more.strip() == CANCEL else f"{reply}\n{more}"
            if reply is None or reply.strip() == CANCEL:
                return None
            if field.kind == "file_input" and reply.strip() not in ("", "-"):
                state, problem = await self._upload(reply)
            else:
                state, problem = field.answer(reply)
            if state is not None:
                return state
            self.say(f"│ ✗ {problem}", "red")

    async def _upload(self, reply: str) -> tuple[dict[str, Any] | None, str | None]:
        files = []
        for name in (part.strip() for part in reply.split(",") if part.strip()):
            try:
                path, data = await asyncio.to_thread(_read_file, name)
            except OSError as exc:
                return None, f"cannot read {name}: {exc.strerror or exc}"
            files.append(self.slack.add_file(path, data))
        return {"type": "file_input", "files": files}, None

    # -- the loop -----------------------------------------------------------------------------------
    async def loop(self, *, wait: float) -> None:
        """Act on lines until quit or the end of the input; then let background work settle."""
        while True:
            if self.modals:
                await self.run_modal(self.modals.popleft())
                continue
            line = await self.ask(f"{USER_NAME}> ")
            if line is None:
                break
            if not await self.handle(line.strip()):
                return
        if self.reader.interactive:
            return
        if not await self.settle(wait):
            self.say(f"(stopped waiting after {wait:g} s: background work is still due)", "dim")
        for view in self.modals:
            self.say(f"(form “{text_of(view.get('title'))}” closed: the input ended)", "dim")

    async def handle(self, line: str) -> bool:
        """Act on one line; False to leave."""
        word, _, rest = line.partition(" ")
        word, rest = word.lower(), rest.strip()
        button = rest if word == "press" else line
        if not line:
            pass
        elif word in ("quit", "exit"):
            return False
        elif word in ("help", "?"):
            self.say(HELP)
        elif line.startswith("/"):
            await self.command(line)
        elif button.strip("[]").isdigit():
            await self.press(int(button.strip("[]")))
        elif word == "wait":
            try:
                seconds = float(rest) if rest else None
            except ValueError:
                self.say("wait takes a number of seconds, e.g. wait 5", "red")
            else:
                if seconds is not None:
                    await asyncio.sleep(max(0.0, seconds))
                elif not await self.settle(60.0):
                    self.say("(background work is still due after 60 s)", "dim")
        elif word == "home":
            await self.home()
        elif word == "shortcut":
            await self.shortcut(rest)
        else:
            self.my_messages.append({"ts": self.slack.new_ts(), "text": line})
            names = " / ".join(f"“{name}”" for name in self.shortcuts.values())
            self.say(f"(posted in #{CHANNEL_NAME}; `shortcut` runs {names} on it)", "dim")
        return True

    async def settle(self, limit: float) -> bool:
        """Wait until no job is running or due within IDLE_HORIZON seconds (at most `limit`)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if await self._idle():
                return True
            await asyncio.sleep(0.2)
        return False

    async def _idle(self) -> bool:
        if time.monotonic() - self.last_activity < 0.5:
            return False
        assert self.db is not None
        running, due = await jobs.outstanding(self.db)  # one read: a claim cannot slip between
        if running:
            return False
        return due is None or due > utcnow() + timedelta(seconds=IDLE_HORIZON)


def _read_file(name: str) -> tuple[Path, bytes]:
    path = Path(name).expanduser()
    return path, path.read_bytes()


# -- putting it together --------------------------------------------------------------------------


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
