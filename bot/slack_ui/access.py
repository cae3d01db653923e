"""Who may do what: `access.reporters` may file reports, `access.approvers` may change statuses,
withdraw and retry, `access.viewers` may read cases (left out: the reporters and the approvers;
approvers always read what they decide). Lists hold user ids (U…/W…) and user group ids (S…);
group members are read with `usergroups.users.list` and cached for five minutes. An empty list
lets everyone in.

A case filed from a private channel is readable only by that channel's members and the approvers.
Members are read with `conversations.members` and cached for a minute: someone removed from the
channel loses the case within a minute, and a burst of lists and Home tabs reads each channel once
(the method allows about a hundred calls a minute).

And how often: slash commands per person per minute (`limits.commands_per_minute`), counted in
this process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("takedown.access")

MINUTE = 60.0


class AccessDenied(Exception):
    """The user may not do this; the message names who can help."""


class RateLimited(AccessDenied):
    """The user did this too often just now; the message says when to try again."""


@dataclass
class _Cached:
    """Sets of user ids Slack gives per key (a user group, a channel), kept for `ttl` seconds;
    requests arriving together share one read. `read` returns None when Slack could not answer."""

    read: Callable[[str], Awaitable[frozenset[str] | None]]
    ttl: float
    keep_on_error: bool  # serve the last answer, however old, while Slack cannot answer
    _kept: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _reading: dict[str, asyncio.Task[frozenset[str]]] = field(default_factory=dict)

    async def get(self, key: str) -> frozenset[str]:
        kept = self._kept.get(key)
        if kept and kept[0] > time.monotonic():
            return kept[1]
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.create_task(self._refresh(key))
            self._reading[key] = reading
            reading.add_done_callback(lambda _task: self._reading.pop(key, None))
        return await asyncio.shield(reading)

    async def _refresh(self, key: str) -> frozenset[str]:
        found = await self.read(key)
        if found is None:  # fail closed, unless a recent answer may stand in
            kept = self._kept.get(key)
            return kept[1] if kept and self.keep_on_error else frozenset()
        self._kept[key] = (time.monotonic() + self.ttl, found)
        return found


@dataclass
class AccessControl:
    slack: AsyncWebClient
    reporters: Sequence[str]
    approvers: Sequence[str]
    viewers: Sequence[str] | None = None  # None: the reporters and the approvers
    commands_per_minute: int = 30
    ttl: float = 300.0  # user groups' members
    members_ttl: float = MINUTE  # private channels' members
    _groups: _Cached = field(init=False)
    _channels: _Cached = field(init=False)
    _commands: dict[str, deque[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._groups = _Cached(self._read_group, self.ttl, keep_on_error=True)
        # A channel's members are the confidentiality boundary: never an old answer.
        self._channels = _Cached(self._read_channel, self.members_ttl, keep_on_error=False)

    # -- reading Slack ------------------------------------------------------------------------------

    async def _read_group(self, group_id: str) -> frozenset[str] | None:
        try:
            response = await self.slack.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("could not read user group %s: %s", group_id, _error(exc))
            return None
        return frozenset(response.get("users") or [])

    async def _read_channel(self, channel: str) -> frozenset[str] | None:
        members: set[str] = set()
        cursor = None
        try:
            while True:
                response = await self.slack.conversations_members(
                    channel=channel, limit=1000, cursor=cursor
                )
                members.update(response.get("members") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return frozenset(members)
        except SlackApiError as exc:
            log.warning("could not read members of %s: %s", channel, _error(exc))
            return None

    async def _allowed(self, user_id: str, allowed: Sequence[str]) -> bool:
        if not allowed or user_id in allowed:
            return True
        for entry in allowed:
            if entry.startswith("S") and user_id in await self._groups.get(entry):
                return True
        return False

    # -- filing and changing -------------------------------------------------------------------------

    async def require_reporter(self, user_id: str) -> None:
        if not await self._allowed(user_id, self.reporters):
            raise AccessDenied(
                "Only the brand-protection team can file reports with this bot. "
                f"Ask {_who(self.reporters)} to add you to `access.reporters`."
            )

    async def is_approver(self, user_id: str) -> bool:
        return await self._allowed(user_id, self.approvers)

    async def require_approver(
        self,
        user_id: str,
        *,
        reporter_id: str | None = None,
        doing: str = "change a case's status",
    ) -> None:
        """Approvers may act on any case; `reporter_id`, when given, may act on their own.
        `doing` names the action in the refusal."""
        if user_id == reporter_id or await self.is_approver(user_id):
            return
        raise AccessDenied(
            f"Only approvers can {doing}. Ask {_who(self.approvers)} "
            "(listed in `access.approvers`)."
        )

    async def require_answerer(self, user_id: str, *, reporter_id: str, doing: str) -> None:
        """The case's reporter or an approver: who may `doing` (answer a platform's request for
        information on the case)."""
        if user_id == reporter_id or await self.is_approver(user_id):
            return
        raise AccessDenied(
            f"Only the case's reporter (<@{reporter_id}>) or an approver can {doing}. Ask them, "
            f"or {_who(self.approvers)} (listed in `access.approvers`)."
        )

    # -- reading ----------------------------------------------------------------------------------

    async def is_viewer(self, user_id: str) -> bool:
        if await self.is_approver(user_id):
            return True
        if self.viewers is not None:
            return await self._allowed(user_id, self.viewers)
        return await self._allowed(user_id, self.reporters)

    def viewer_refusal(self) -> str:
        """What a person who may not read cases is told."""
        return (
            "Only the brand-protection team can read cases here. "
            f"Ask {_who(self.approvers or self.viewers or self.reporters)} to add you to "
            "`access.viewers`."
        )

    async def require_viewer(self, user_id: str) -> None:
        if not await self.is_viewer(user_id):
            raise AccessDenied(self.viewer_refusal())

    async def in_channel(self, user_id: str, channel: str) -> bool:
        return user_id in await self._channels.get(channel)

    async def require_reader(self, user_id: str, *, ref: str, private_channel: str | None) -> None:
        """The person may read case `ref` (and act on it, as far as their role allows): a viewer,
        and for a case filed in a private channel, an approver or a member of that channel."""
        await self.require_viewer(user_id)
        if private_channel is None or await self.is_approver(user_id):
            return
        if not await self.in_channel(user_id, private_channel):
            raise AccessDenied(
                f"{ref} was filed in a private channel: only its members and the approvers can "
                f"read it or act on it. Ask {_who(self.approvers)} if you need it."
            )

    async def readable_channels(self, user_id: str, channels: Sequence[str]) -> list[str] | None:
        """Of the private channels cases were filed from, those whose cases the person may read;
        None for an approver, who reads them all."""
        if await self.is_approver(user_id):
            return None
        member = await asyncio.gather(*(self.in_channel(user_id, c) for c in channels))
        return [channel for channel, inside in zip(channels, member, strict=True) if inside]

    async def private_channel(self, channel: str | None) -> str | None:
        """`channel` if it is private (a G… id, or conversations.info says so), else None. Raises
        AccessDenied when it is private and the bot is not in it (nor can tell its members), or
        when Slack cannot say."""
        if not channel or channel.startswith("D"):  # a direct message: not a channel
            return None
        try:
            response = await self.slack.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = _error(exc)
            if error == "channel_not_found":  # private, and the bot was never invited
                raise AccessDenied(
                    "This conversation is private and takedown-bot is not in it, so its cases "
                    "could not be kept to its members. Add the bot to the channel "
                    "(`/invite @takedown-bot`) or report from another channel."
                ) from None
            log.warning("could not read channel %s: %s", channel, error)
            if error == "missing_scope":
                data = exc.response.data if isinstance(exc.response.data, dict) else {}
                needed = data.get("needed") or "channels:read, groups:read"
                raise AccessDenied(
                    "takedown-bot may not read this conversation's details (Slack scope "
                    f"`{needed}`), so nothing was opened. Ask your Slack "
                    "admin to reinstall it from `takedown-bot manifest`, or report from a channel."
                ) from None
            raise AccessDenied(
                "Could not check whether this channel is private just now; nothing was opened. "
                "Please try again in a minute."
            ) from None
        private = bool((response.get("channel") or {}).get("is_private"))
        return channel if private or channel.startswith("G") else None

    # -- how often --------------------------------------------------------------------------------

    def take_command(self, user_id: str, *, now: float | None = None) -> None:
        """Count one slash command of `user_id`; raises RateLimited past the minute's allowance.
        Counted in this process: with several processes behind a load balancer, each allows it."""
        now = time.monotonic() if now is None else now
        recent = self._commands.setdefault(user_id, deque())
        while recent and recent[0] <= now - MINUTE:
            recent.popleft()
        if len(recent) >= self.commands_per_minute:
            wait = max(1, math.ceil(recent[0] + MINUTE - now))
            raise RateLimited(
                f"That is {len(recent)} commands in the last minute "
                f"(`limits.commands_per_minute` is {self.commands_per_minute}); "
                f"try again in {wait} s."
            )
        recent.append(now)
        if len(self._commands) > 10_000:  # forget people idle for a minute
            for user in [u for u, times in self._commands.items() if times[-1] <= now - MINUTE]:
                del self._commands[user]


def _error(exc: SlackApiError) -> str:
    """Slack's error code, or the HTTP status when the answer was not Slack's JSON."""
    data = exc.response.data
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {exc.response.status_code}"


def _who(ids: Sequence[str]) -> str:
    mentions = [f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids[:5]]
    return ", ".join(mentions) or "your workspace admin"
