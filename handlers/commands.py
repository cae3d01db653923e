"""`/report-listing`: ack at once, then open the report form or answer ephemerally."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.desk.slash import answer_command
from bot.runtime import Runtime
from bot.slack_ui.access import AccessDenied
from bot.slack_ui.help import COMMAND, notice_text
from bot.slack_ui.report_form import report_modal
from handlers.respond import say_privately

log = logging.getLogger("takedown.handlers")


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.command(COMMAND)
    async def report_listing(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        # The slow part waits until every request Slack is waiting on has its answer (this one's
        # included): under a burst of commands, every ack goes ahead of the follow-up work.
        await rt.inflight.quiet()
        # Nothing after the ack may raise: Bolt could turn a late exception into an error answer.
        try:
            answer = await answer_command(rt, text=body.get("text", ""), user_id=body["user_id"])
            if answer.open_form:
                await rt.access.require_reporter(body["user_id"])
                view = report_modal(
                    rt.config, urls=answer.urls, metadata={"channel": body.get("channel_id")}
                )
                await client.views_open(trigger_id=body["trigger_id"], view=view)
            else:
                await respond(
                    text=answer.text,
                    blocks=answer.blocks,
                    response_type="ephemeral",
                    replace_original=False,
                )
        except AccessDenied as exc:
            await say_privately(respond, str(exc))
        except Exception:
            log.exception("%s failed after the ack", COMMAND)
            await say_privately(
                respond,
                *notice_text(
                    ":warning: Something went wrong on our side; nothing was filed. Please try again in a minute."
                ),
            )
