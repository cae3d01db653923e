"""A fake Slack Web API: a real aiohttp server on loopback that records every call.

The bot's AsyncWebClient reaches it through SLACK_API_URL (`{url}/api/`). Tests script failures
(`fail_next`, `refuse_channel`), read what was sent (`calls`, `calls_to`), and wait for asynchronous posts
(`wait_for`). Slash commands get a `response_url` on the same server, recorded as `responses`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakes.server import FakeServer


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class FakeSlack(FakeServer[Call]):
    access_log = False

    def __init__(self) -> None:
        super().__init__()
        self.responses: list[dict[str, Any]] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) → latest message
        self.usergroups: dict[str, list[str]] = {}
        # Conversations the bot can see: id → {"is_private": bool, "members": [user ids]}. An id
        # not listed is a public channel when it starts with C, else one the bot cannot see.
        self.channels: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}  # file id → bytes uploaded to its upload URL
        self._upload_names: dict[
            str, str
        ] = {}  # file id → the filename its upload URL was asked for
        self.files: dict[str, tuple[dict[str, Any], bytes]] = {}  # file id → (file object, bytes)
        self.downloads: list[dict[str, str]] = []  # each file download: its path and Authorization
        self._scripted: dict[str, list[Scripted]] = {}
        self._refused: dict[str, str] = {}  # channel → the error every post or update there gets
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()

    @property
    def calls(self) -> list[Call]:
        """The Web API calls received, in order (this fake's request log)."""
        return self.requests

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/{method}", self._api)
        router.add_post("/respond/{id}", self._respond)
        router.add_post("/upload/{file_id}", self._upload)
        router.add_get("/files-pri/{file_id}/{name}", self._download)
        router.add_get("/api/{method}", self._api_get)  # slack_sdk GETs files.info

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/respond/{name}"

    # -- scripting ------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        times: int = 1,
        status: int = 200,
        error: str = "internal_error",
        retry_after: int | None = None,
    ) -> None:
        """The next `times` calls of `method` fail (HTTP `status`, or ok=false with `error`)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        for _ in range(times):
            self._scripted.setdefault(method, []).append(
                Scripted(status=status, body={"ok": False, "error": error}, headers=headers)
            )

    def refuse_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Every later post or update in `channel` fails with `error`, as Slack answers a channel
        the bot cannot see (`channel_not_found`, also a DM between other people), is not a member
        of (`not_in_channel`) or that is archived (`is_archived`)."""
        self._refused[channel] = error

    def add_file(
        self, name: str, data: bytes, *, filetype: str | None = None, mimetype: str = "text/plain"
    ) -> dict[str, Any]:
        """A file as a user uploads it in a form's file input: its file object (as the view's
        state and files.info give it), downloadable from this server with any bearer token."""
        file_id = f"F{next(self._ts)}"
        url = f"{self.url}/files-pri/{file_id}/{name}"
        info = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype or name.rsplit(".", 1)[-1].lower(),
            "size": len(data),
            "user": "U0REPORTER",
            "url_private": url,
            "url_private_download": url,
        }
        self.files[file_id] = (info, data)
        return info

    def add_email_file(
        self,
        *,
        sender: tuple[str, str],
        subject: str,
        text: str,
        headers: dict[str, Any] | None = None,
        shown: int | None = None,
    ) -> dict[str, Any]:
        """An email forwarded into Slack (its forwarding address, or the Email app): a file of
        filetype `email` carrying the email's fields, in the shape Slack's events and files.info
        are seen to give (Slack does not document it). files.info gives it whole; what is
        returned is the copy a message carries: whole, or with only its first `shown`
        characters of text and `has_more` set."""
        file_id = f"F{next(self._ts)}"
        name, address = sender
        html = f"<html><body><pre>{text}</pre></body></html>".encode()
        info: dict[str, Any] = {
            "id": file_id,
            "created": 1_700_000_000,
            "name": subject,
            "title": subject,
            "mimetype": "text/html",
            "filetype": "email",
            "pretty_type": "Email",
            "mode": "email",
            "user": "USLACKBOT",
            "size": len(html),
            "url_private": f"{self.url}/files-pri/{file_id}/email.html",
            "url_private_download": f"{self.url}/files-pri/{file_id}/email.html",
            "subject": subject,
            "from": [{"address": address, "name": name, "original": f"{name} <{address}>"}],
            "to": [
                {
                    "address": "takedowns@acme.example",
                    "name": "Takedowns",
                    "original": "Takedowns <takedowns@acme.example>",
                }
            ],
            "cc": [],
            "attachments": [],
            "original_attachment_count": 0,
            "plain_text": text,
            "preview": text[:200],
            "preview_plain_text": text[:200],
            "headers": {
                "date": "Tue, 11 Jun 2024 09:30:00 +0800",
                "in_reply_to": None,
                "reply_to": None,
                "message_id": f"<{file_id}@mail.example>",
                **(headers or {}),
            },
            "has_more": False,
            "sent_to_self": False,
        }
        self.files[file_id] = (info, html)
        if shown is None:
            return dict(info)
        return {**info, "plain_text": text[:shown], "preview_plain_text": text[:shown],
                "has_more": True}  # fmt: skip

    # -- reading --------------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def uploaded(self, completed: Call) -> list[tuple[str, bytes]]:
        """The files a `files.completeUploadExternal` call shared (files_upload_v2's last step):
        each one's name, as given to `files.getUploadURLExternal`, and the bytes uploaded."""
        files = completed.params.get("files")
        files = json.loads(files) if isinstance(files, str) else files or []
        return [
            (self._upload_names.get(f["id"], ""), self.uploads.get(f["id"], b"")) for f in files
        ]

    async def wait_for(self, method: str, *, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until `method` has been called (successfully answered or not) `count` times."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while len(self.calls_to(method)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(
                        f"{method} called {len(self.calls_to(method))}x, wanted {count}; calls: {seen}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=remaining)
        return self.calls_to(method)

    async def wait_for_responses(
        self, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.responses) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.responses)} response_url posts, wanted {count}")
            await asyncio.sleep(0.02)
        return self.responses

    # -- handlers -------------------------------------------------------------------------------
    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        await self._record(Call(method, params))
        refused = self._refused.get(str(params.get("channel") or ""))
        if refused and method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            return web.json_response({"ok": False, "error": refused})
        scripted = self._scripted.get(method)
        if scripted:
            reply = scripted.pop(0)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        return web.json_response(self._answer(method, params))

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK - uploaded")

    async def _api_get(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = dict(request.query)
        await self._record(Call(method, params))
        scripted = self._scripted.get(method)
        if scripted:
            reply = scripted.pop(0)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        return web.json_response(self._answer(method, params))

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.downloads.append(
            {"path": request.path, "authorization": request.headers.get("Authorization", "")}
        )
        if file_id not in self.files or not request.headers.get("Authorization"):
            # Slack answers a request it cannot authorise with its sign-in page, not an error.
            return web.Response(text="<html>sign in</html>", content_type="text/html")
        info, data = self.files[file_id]
        return web.Response(body=data, content_type=info["mimetype"])

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append(body)
        return web.Response(text="ok")

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T1",
                "team": "Acme",
            }
        if method == "chat.postMessage":
            channel = params.get("channel", "")
            ts = f"{1_700_000_000 + next(self._ts)}.000100"
            self.messages[(channel, ts)] = params
            return {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"text": params.get("text")},
            }
        if method == "chat.update":
            key = (params.get("channel", ""), params.get("ts", ""))
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key] = params
            return {"ok": True, "channel": key[0], "ts": key[1]}
        if method in ("views.open", "views.update", "views.push"):
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", **(params.get("view") or {})}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts)}"
            self._upload_names[file_id] = str(params.get("filename") or "")
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = params.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            return {
                "ok": True,
                "files": [{"id": f["id"], "title": f.get("title")} for f in files or []],
            }
        if method == "files.info":
            found = self.files.get(str(params.get("file", "")))
            if found is None:
                return {"ok": False, "error": "file_not_found"}
            return {"ok": True, "file": found[0]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": "1.1"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", "X"))[1:]}}
        if method == "conversations.info":
            return self._conversation(str(params.get("channel", "")))
        if method == "conversations.members":
            return self._members(params)
        if method == "usergroups.users.list":
            group = params.get("usergroup", "")
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.usergroups[group]}
        return {"ok": True}

    def _conversation(self, channel: str) -> dict[str, Any]:
        known = self.channels.get(channel)
        if known is None and not channel.startswith("C"):
            return {"ok": False, "error": "channel_not_found"}
        private = bool(known and known.get("is_private"))
        return {"ok": True, "channel": {"id": channel, "is_private": private}}

    def _members(self, params: dict[str, Any]) -> dict[str, Any]:
        """A channel's members, a page at a time (`limit`, `cursor`) as Slack pages them."""
        known = self.channels.get(str(params.get("channel", "")))
        if known is None:
            return {"ok": False, "error": "channel_not_found"}
        members = list(known.get("members") or [])
        start, size = int(params.get("cursor") or 0), int(params.get("limit") or 100)
        after = start + size
        return {
            "ok": True,
            "members": members[start:after],
            "response_metadata": {"next_cursor": str(after) if after < len(members) else ""},
        }


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = await request.json()
        params = dict(data) if isinstance(data, dict) else {}
    else:
        params = dict((await request.post()).items())
    params = {**dict(request.query), **params}  # some methods send their arguments in the URL
    for key in ("blocks", "view", "attachments"):
        value = params.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params
