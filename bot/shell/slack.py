"""Slack, as `takedown-bot shell` stands in for it: a workspace of one user and one channel, the
Web API the bot calls (`LocalSlack`, on loopback), and the signature on Slack's requests to the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import mimetypes
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

TEAM_ID, APP_ID = "T0SHELL", "A0SHELL"
BOT_USER_ID, BOT_ID, BOT_NAME = "U0TAKEDOWN", "B0TAKEDOWN", "takedown-bot"
USER_ID, USER_NAME = "U0SHELL", "you"
CHANNEL_ID, CHANNEL_NAME = "C0SHELL", "shell"

SlackListener = Callable[[str, dict[str, Any], dict[str, Any]], None]


def sign_request(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with: v0 HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:%s:%s" % (ts.encode(), body), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


class LocalSlack:
    """Answers the bot's Slack Web API calls on loopback as Slack would, and reports each one."""

    def __init__(self, *, token: str, listener: SlackListener, files_dir: Path) -> None:
        self.token = token
        self.listener = listener
        self.files_dir = files_dir
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._session = _base36(time.time_ns() // 1000)
        self._last_ts = 0  # the latest message ts given, in microseconds
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk GETs conversations.info & co.
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
        """An id in Slack's shape (`V…`, `F…`) that no session of the shell gives twice, even on
        one database: this session's start, in microseconds, in base 36, then a counter. (Ids
        starting again at 1 each session made the next session's first form look like the last
        session's, already filed.)"""
        return f"{prefix}{self._session}{next(self._ids):04d}"

    def new_ts(self) -> str:
        """A message ts as Slack writes one (seconds.microseconds), later than any before it, so
        no two messages share one, within a session or across sessions on one database."""
        self._last_ts = max(self._last_ts + 1, time.time_ns() // 1000)
        seconds, micros = divmod(self._last_ts, 1_000_000)
        return f"{seconds}.{micros:06d}"

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


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = digits[digit] + out
        if not number:
            return out


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = await request.json()
        params: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    else:
        params = dict((await request.post()).items())
    params = {**dict(request.query), **params}  # a GET's arguments are in its URL
    for key in ("blocks", "view", "attachments", "files"):
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params
