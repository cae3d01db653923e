"""The terminal side of `takedown-bot shell`: what the user types, and what the bot sends to Slack
shown as a Slack client would show it (rendered by `bot.shell.render`), its buttons numbered.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from bot.shell.render import Line, changed_lines, render_blocks, render_message
from bot.shell.render import thread_label as label_of
from bot.shell.slack import (
    BOT_NAME,
    BOT_USER_ID,
    CHANNEL_ID,
    CHANNEL_NAME,
    USER_ID,
    USER_NAME,
    LocalSlack,
)

_SILENT = {"auth.test", "conversations.open", "usergroups.users.list", "files.info"}
_SILENT |= {"files.getUploadURLExternal"}

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


# -- what the user sees ---------------------------------------------------------------------------


@dataclass
class Button:
    """What pressing button [n] sends: the element and the message it sits in."""

    element: dict[str, Any]
    block_id: str
    channel: str
    message: dict[str, Any] | None  # None: an ephemeral message


class Screen:
    """What the user sees of Slack: the bot's messages, updates, forms and App Home as text; and
    what arrived that the conversation waits for (answers, forms to fill in, numbered buttons)."""

    def __init__(self, *, console: Console, reader: LineReader, slack: LocalSlack) -> None:
        self.console = console
        self.reader = reader
        self.slack = slack
        self.users = {USER_ID: USER_NAME, BOT_USER_ID: BOT_NAME}
        self.rendered: dict[tuple[str, str], list[Line]] = {}
        self.buttons: dict[int, Button] = {}
        self._numbers: dict[tuple[str, ...], int] = {}
        self.modals: deque[dict[str, Any]] = deque()
        self.answers: set[str] = set()
        self.last_activity = time.monotonic()

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
            self._replace_modal(answer["view"])
        elif method == "views.publish":
            self.answers.add("home")
            self._show_home(answer["view"])
        elif method == "files.completeUploadExternal":
            self._show_files(params, answer.get("files") or [])
        elif method == "response_url":
            self.answers.add(f"respond:{params.get('key')}")
            self._show_response(params)
        elif method not in _SILENT:
            self.say(f"  · {BOT_NAME} called Slack's {method} (the shell answered ok)", "dim")

    def _replace_modal(self, view: dict[str, Any]) -> None:
        """An updated form takes the place of the waiting one it updates (else it waits last)."""
        waiting = [i for i, v in enumerate(self.modals) if v["id"] == view["id"]]
        if waiting:
            self.modals[waiting[0]] = view
        else:
            self.modals.append(view)

    def _show_home(self, view: Mapping[str, Any]) -> None:
        self.say(f"App Home of @{USER_NAME}", "bold blue")
        number = self._numberer(CHANNEL_ID, None)
        blocks = view.get("blocks") or []
        self.show(render_blocks(blocks, users=self.users, number=number), indent="  ")

    def _show_files(self, params: Mapping[str, Any], files: list[dict[str, Any]]) -> None:
        channel, thread = str(params.get("channel_id")), str(params.get("thread_ts") or "")
        lines = [
            Line(f"📎 {info.get('title')}" + (f" → {info['path']}" if info.get("path") else ""))
            for info in files
        ]
        self._print_as(channel, thread, BOT_NAME, lines)

    def _show_response(self, params: Mapping[str, Any]) -> None:
        """What the bot sent to an action's response_url: deleted, in the channel, or private."""
        if params.get("delete_original"):
            self.say("(your earlier answer from takedown-bot was deleted)", "dim")
        elif params.get("response_type") == "in_channel":
            self._show_message({**params, "channel": CHANNEL_ID, "ts": self.slack.new_ts()})
        else:
            replaced = bool(params.get("replace_original"))
            self._show_private(params, channel=CHANNEL_ID, thread="", replaced=replaced)

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
