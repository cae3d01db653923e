"""`/report-listing`: ack at once, then open the report form or answer ephemerally."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.desk.report import report_form
from bot.desk.slash import answer_command
from bot.runtime import Runtime
from bot.slack_ui.help import COMMAND


async def report_listing(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, rt: Runtime
) -> None:
    await ack()
    # Counted at once, in the order commands arrive (RateLimited past the minute's allowance).
    rt.access.take_command(body["user_id"])
    # The slow part waits until every request Slack is waiting on has its answer (this one's
    # included): under a burst of commands, every ack goes ahead of the follow-up work.
    await rt.inflight.quiet()
    user = body["user_id"]
    answer = await answer_command(rt, text=body.get("text", ""), user_id=user)
    if answer.open_form:
        view = await report_form(
            rt, user_id=user, urls=answer.urls, channel_id=body.get("channel_id")
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    else:
        await respond(
            text=answer.text,
            blocks=answer.blocks,
            response_type="ephemeral",
            replace_original=False,
        )


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(report_listing)
