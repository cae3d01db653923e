"""Ephemeral answers to the person who acted; an answer that cannot be delivered is only logged
(it must not turn into an error of its own)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("takedown.handlers")


async def say_privately(
    respond: AsyncRespond, text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    """An ephemeral answer to a slash command (through its response_url)."""
    try:
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
    except Exception:
        log.warning("could not answer the user", exc_info=True)


async def tell(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    """An ephemeral answer to the person who pressed a button or used a shortcut, in that channel:
    for a button, in the thread of its message (a status thread); for a message shortcut, in the
    channel itself (the message it was used on may have no thread)."""
    channel = (body.get("channel") or {}).get("id")
    if not channel:
        return
    thread_ts = None
    if body.get("type") == "block_actions":
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts")
    try:
        await client.chat_postEphemeral(
            channel=channel, user=body["user"]["id"], text=text, thread_ts=thread_ts
        )
    except Exception:
        log.warning("could not answer the user", exc_info=True)
