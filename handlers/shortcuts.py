"""Message shortcut "Report listing": the report form, prefilled with the message's URLs."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.listings import find_urls
from bot.manifest import SHORTCUT
from bot.runtime import Runtime
from bot.slack_ui.access import AccessDenied
from bot.slack_ui.blocks import report_modal

log = logging.getLogger("takedown.handlers")


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.message_shortcut(SHORTCUT)
    async def report_from_message(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await rt.inflight.quiet()  # every pending ack first (bot.inflight)
        user = body["user"]["id"]
        try:
            await rt.access.require_reporter(user)
            urls = find_urls((body.get("message") or {}).get("text", ""))
            channel = (body.get("channel") or {}).get("id")
            view = report_modal(rt.config, urls=urls, metadata={"channel": channel})
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except AccessDenied as exc:
            await _tell(client, body, str(exc))
        except Exception:
            log.exception("the report shortcut failed after the ack")
            await _tell(
                client,
                body,
                ":warning: Something went wrong on our side; please try again in a minute.",
            )


async def _tell(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    channel = (body.get("channel") or {}).get("id")
    try:
        if channel:
            await client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)
    except Exception:
        log.warning("could not answer the user", exc_info=True)
