"""Message shortcut "Report listing": the report form, prefilled with the message's marketplace
links (saying which others it left out)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.desk.report import message_form
from bot.manifest import SHORTCUT
from bot.runtime import Runtime


async def report_from_message(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    await ack()
    await rt.inflight.quiet()  # every pending ack first (bot.inflight)
    view = await message_form(
        rt,
        user_id=body["user"]["id"],
        text=(body.get("message") or {}).get("text", ""),
        channel_id=(body.get("channel") or {}).get("id"),
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


def register(app: AsyncApp) -> None:
    app.message_shortcut(SHORTCUT)(report_from_message)
