"""The conversation in `takedown-bot shell`: what the user types becomes what Slack would send
the bot (slash commands, button presses, the message shortcut, App Home, forms filled in field by
field), signed and posted to its `/slack/events`; and the shell's own commands (`help`, `wait`…).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from rich.console import Console

from bot.shell.render import question, render_blocks, text_of
from bot.shell.screen import LineReader, Screen
from bot.shell.slack import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    CHANNEL_ID,
    CHANNEL_NAME,
    TEAM_ID,
    USER_ID,
    USER_NAME,
    LocalSlack,
    sign_request,
)
from storage.db import Database
from storage.jobs import JobQueue
from storage.models import utcnow

IDLE_HORIZON = 10.0  # background work has settled when no job is running or due this soon
ANSWER_WAIT = 10.0
CANCEL = "!cancel"

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


class Shell(Screen):
    """The conversation: what the user types becomes signed requests (what the bot sends is shown
    by `Screen`)."""

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
        super().__init__(console=console, reader=reader, slack=slack)
        self.secret = secret
        self.commands = list(commands)
        self.shortcuts = dict(shortcuts)  # message shortcut callback id → name
        self.db: Database | None = None
        self.http: aiohttp.ClientSession | None = None
        self.events_url = ""
        self.my_messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

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
            blocks = view.get("blocks") or []
            if not any(b.get("type") == "input" for b in blocks):
                self.say(f"┌─ {text_of(view.get('title'))}", "bold green")
                self.show(render_blocks(blocks, users=self.users), indent="│ ")
                self.say(f"└─ [{text_of(view.get('close')) or 'Close'}]", "green")
                return
            answer = await self._fill_form(view)
            if answer is None:
                return
            if answer.get("response_action") not in ("update", "push"):
                await self._await_answer(set(), quiet=0.3, limit=2.0)
                return
            same = view["id"] if answer["response_action"] == "update" else None
            view = self.slack.open_view(answer.get("view") or {}, view_id=same)

    async def _fill_form(self, view: dict[str, Any]) -> dict[str, Any] | None:
        """Ask the form's inputs and submit it until the bot takes it (asking again only the fields
        it refused); the bot's answer, or None when the person closed the form."""
        title = text_of(view.get("title"))
        blocks = view.get("blocks") or []
        self.say(f"┌─ {title}  (a form; {CANCEL} closes it)", "bold green")
        values: dict[str, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        while True:
            if not await self._ask_inputs(blocks, values, errors):
                self.say("└─ (form closed)", "green")
                return None
            self.say(f"└─ [{text_of(view.get('submit')) or 'Submit'}]", "green")
            payload = {
                **self._base("view_submission"),
                "view": {**view, "state": {"values": values}},
                "response_urls": [],
            }
            body = await self._send("the form", payload)
            answer: dict[str, Any] = (
                json.loads(body) if body and body.lstrip().startswith("{") else {}
            )
            if answer.get("response_action") != "errors":
                return answer
            errors = {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
            if not errors.keys() & {str(b.get("block_id")) for b in blocks}:
                self.say("│ " + "; ".join(errors.values()), "red")
                errors, values = {}, {}
            self.say(f"┌─ {title} (please correct)", "bold green")

    async def _ask_inputs(
        self,
        blocks: list[dict[str, Any]],
        values: dict[str, dict[str, Any]],
        errors: dict[str, str],
    ) -> bool:
        """Ask each input block (only those with an error, if any), filling `values` in place;
        False when the person cancelled. Other blocks are shown on the first pass only."""
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
                return False
            values[block_id] = {action_id: state}
        return True

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
            await self.wait(rest)
        elif word == "home":
            await self.home()
        elif word == "shortcut":
            await self.shortcut(rest)
        else:
            self.my_messages.append({"ts": self.slack.new_ts(), "text": line})
            names = " / ".join(f"“{name}”" for name in self.shortcuts.values())
            self.say(f"(posted in #{CHANNEL_NAME}; `shortcut` runs {names} on it)", "dim")
        return True

    async def wait(self, seconds: str) -> None:
        """`wait 5`: let 5 seconds pass; `wait`: until background work settles (at most 60 s)."""
        try:
            delay = float(seconds) if seconds else None
        except ValueError:
            self.say("wait takes a number of seconds, e.g. wait 5", "red")
            return
        if delay is not None:
            await asyncio.sleep(max(0.0, delay))
        elif not await self.settle(60.0):
            self.say("(background work is still due after 60 s)", "dim")

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
        running, due = await JobQueue(
            self.db
        ).outstanding()  # one read: a claim cannot slip between
        if running:
            return False
        return due is None or due > utcnow() + timedelta(seconds=IDLE_HORIZON)


def _read_file(name: str) -> tuple[Path, bytes]:
    path = Path(name).expanduser()
    return path, path.read_bytes()
