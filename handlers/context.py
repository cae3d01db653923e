"""What listeners need, through Bolt's context: the bot's `Runtime`, as `context["rt"]`.

Bolt passes each context key to a listener (or the error handler) that names a parameter after it,
so a listener declares `rt: Runtime` and gets this bot's runtime; nothing is bound at import time,
and several bots can run side by side (the tests do).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncBoltRequest
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse
from typing_extensions import override

from bot.runtime import Runtime

RUNTIME = "rt"


class RuntimeInContext(AsyncMiddleware):
    """A global middleware: every request's context carries the runtime under `RUNTIME`."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @override
    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        req.context[RUNTIME] = self.rt
        return await next()
