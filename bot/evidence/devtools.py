"""Chromium's DevTools protocol over `--remote-debugging-pipe` (`evidence.devtools`).

Chromium reads commands from its file descriptor 3 and writes answers and events to its
descriptor 4, each message a JSON object ended by a NUL byte: no port, no websocket, no library.
`Pipe` starts the browser with its two ends in place (a few lines of Python put them at 3 and
4, then become the browser), sends one command at a time and waits for its answer, keeping the
events that arrive meanwhile for `event`.

    async with Pipe.start([binary, "--headless", "--remote-debugging-pipe", ...]) as browser:
        target = await browser.call("Target.createTarget", {"url": "about:blank"})
        ...
        await browser.event("Page.loadEventFired", session)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Self

# Puts the pipe's ends (argv 1 and 2) at the browser's descriptors 3 and 4, then becomes the
# browser (argv 3 on). Python, not /bin/sh: dash redirects only descriptors 0 to 9.
_AT_3_AND_4 = (
    "import os, sys; ends = [os.dup(int(fd)) for fd in sys.argv[1:3]]; "
    "os.dup2(ends[0], 3); os.dup2(ends[1], 4); os.closerange(5, 1024); "
    "os.set_inheritable(3, True); os.set_inheritable(4, True); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)
_LIMIT = 256 * 1024 * 1024  # one message (a screenshot in base64) may be this large


class DevToolsError(Exception):
    """The browser answered a command with an error, or went away."""


class Pipe:
    def __init__(
        self,
        process: asyncio.subprocess.Process,
        commands: int,
        reader: asyncio.StreamReader,
        transport: asyncio.ReadTransport,
    ) -> None:
        self._process = process
        self._commands = commands
        self._reader = reader
        self._transport = transport
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, arguments: list[str], log: Path) -> Pipe:
        """Start the browser (`arguments`, which include `--remote-debugging-pipe`); what it
        says on stderr goes to the file `log`."""
        to_browser_read, to_browser_write = os.pipe()
        from_browser_read, from_browser_write = os.pipe()
        try:
            with log.open("wb") as err:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-I", "-S", "-c", _AT_3_AND_4, str(to_browser_read),
                    str(from_browser_write), *arguments,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=err,
                    pass_fds=(to_browser_read, from_browser_write),
                )  # fmt: skip
        except BaseException:
            os.close(to_browser_write)
            os.close(from_browser_read)
            raise
        finally:  # the browser's ends are the browser's alone
            os.close(to_browser_read)
            os.close(from_browser_write)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_LIMIT)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_browser_read, "rb", 0)
        )
        return cls(process, to_browser_write, reader, transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """End the browser (politely if it still listens) and wait for it."""
        if self._process.returncode is None:
            with contextlib.suppress(OSError):
                self._send("Browser.close", {}, None)
            try:
                async with asyncio.timeout(5):
                    await self._process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()
        with contextlib.suppress(OSError):
            os.close(self._commands)
        self._transport.close()

    def _send(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:  # the pipe is blocking; a command is far smaller than its buffer
            data = data[os.write(self._commands, data) :]
        return self._next_id

    async def _receive(self) -> dict[str, Any]:
        try:
            data = await self._reader.readuntil(b"\0")
        except asyncio.IncompleteReadError as error:
            raise DevToolsError("chromium closed its DevTools pipe") from error
        message: dict[str, Any] = json.loads(data[:-1])
        return message

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send a command (to a page's `session`, or to the browser) and return its result."""
        sent = self._send(method, params or {}, session)
        while True:
            message = await self._receive()
            if message.get("id") != sent:
                if "method" in message:
                    self._events.append(message)
                continue
            if "error" in message:
                error = message["error"]
                raise DevToolsError(f"{method}: {error.get('message', error)}")
            result: dict[str, Any] = message.get("result", {})
            return result

    async def event(self, method: str, session: str | None = None) -> dict[str, Any]:
        """The first event `method` (of `session`) not yet taken, waiting for it if need be."""
        while True:
            for index, message in enumerate(self._events):
                if message["method"] == method and message.get("sessionId") == session:
                    del self._events[index]
                    params: dict[str, Any] = message.get("params", {})
                    return params
            message = await self._receive()
            if "method" in message:
                self._events.append(message)
