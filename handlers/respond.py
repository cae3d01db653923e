"""Ephemeral answers that cannot fail the listener (a failed answer is only logged)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncRespond

log = logging.getLogger("takedown.handlers")


async def say_privately(
    respond: AsyncRespond, text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    try:
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
    except Exception:
        log.warning("could not answer the user", exc_info=True)
