"""One error handler: the project's exceptions become a message for the person; others are logged."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime

log = logging.getLogger("takedown.handlers")


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Listeners catch what they can answer; anything reaching here is a bug or an outage.
        log.error(
            "unhandled error in a Slack listener (%s)",
            body.get("type") or body.get("command"),
            exc_info=error,
        )
