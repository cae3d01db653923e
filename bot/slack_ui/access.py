"""Who may do what: `access.reporters` may file reports, `access.approvers` may change statuses,
withdraw and retry. Lists hold user ids (U…/W…) and user group ids (S…); group members are read
with `usergroups.users.list` and cached for a few minutes. An empty list lets everyone in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("takedown.access")


class AccessDenied(Exception):
    """The user may not do this; the message names who can help."""


@dataclass
class AccessControl:
    slack: AsyncWebClient
    reporters: Sequence[str]
    approvers: Sequence[str]
    ttl: float = 300.0
    _groups: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    _reading: dict[str, asyncio.Task[frozenset[str]]] = field(default_factory=dict)

    async def _members(self, group_id: str) -> frozenset[str]:
        cached = self._groups.get(group_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        # One read per group at a time: requests arriving together share it.
        reading = self._reading.get(group_id)
        if reading is None:
            reading = asyncio.create_task(self._read(group_id))
            self._reading[group_id] = reading
            reading.add_done_callback(lambda _task: self._reading.pop(group_id, None))
        return await asyncio.shield(reading)

    async def _read(self, group_id: str) -> frozenset[str]:
        cached = self._groups.get(group_id)
        try:
            response = await self.slack.usergroups_users_list(usergroup=group_id)
            members = frozenset(response.get("users") or [])
        except SlackApiError as exc:
            log.warning("could not read user group %s: %s", group_id, exc.response.get("error"))
            # Fail closed, but keep serving a recent answer when Slack is briefly unavailable.
            return cached[1] if cached else frozenset()
        self._groups[group_id] = (time.monotonic() + self.ttl, members)
        return members

    async def _allowed(self, user_id: str, allowed: Sequence[str]) -> bool:
        if not allowed or user_id in allowed:
            return True
        for entry in allowed:
            if entry.startswith("S") and user_id in await self._members(entry):
                return True
        return False

    async def require_reporter(self, user_id: str) -> None:
        if not await self._allowed(user_id, self.reporters):
            raise AccessDenied(
                "Only the brand-protection team can file reports with this bot. "
                f"Ask {_who(self.reporters)} to add you to `access.reporters`."
            )

    async def require_approver(self, user_id: str, *, reporter_id: str | None = None) -> None:
        """Approvers may act on any case; `reporter_id`, when given, may act on their own."""
        if user_id == reporter_id or await self._allowed(user_id, self.approvers):
            return
        raise AccessDenied(
            f"Only approvers can change a case's status. Ask {_who(self.approvers)} "
            "(listed in `access.approvers`)."
        )


def _who(ids: Sequence[str]) -> str:
    mentions = [f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids[:5]]
    return ", ".join(mentions) or "your workspace admin"
