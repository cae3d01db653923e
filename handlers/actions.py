"""Buttons: the ones in status threads (confirm, decide, retry, withdraw, view a notice, correct
a decision, answer a platform's request for information) and the case list's pages. Each acks,
waits for every pending ack (bot.inflight), calls bot/ and answers; what it raises is answered by
`handlers.errors`."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import corrections
from bot.delivery import person as delivery
from bot.delivery.answers import forms as answers
from bot.desk import evidence
from bot.desk.case_list import PAGE_ACTION, list_answer
from bot.desk.notice_access import PressedNotice, pressed_notice, seal_notice_form
from bot.desk.notice_view import notice_view, send_file
from bot.runtime import Runtime
from bot.slack_ui import answer_form
from bot.slack_ui import evidence_form as ef
from bot.slack_ui import notice_blocks as nb
from bot.slack_ui.access import AccessDenied
from handlers.payload import button_value, channel, user
from handlers.respond import tell


async def _pressed(rt: Runtime, body: dict[str, Any], value: str | None = None) -> PressedNotice:
    """The button's notice (its value, or `value`), once the person may act on it from here
    (bot.desk.notice_access)."""
    named = button_value(body) if value is None else value
    return await pressed_notice(rt, user=user(body), value=named, channel=channel(body))


async def _notice_id(rt: Runtime, body: dict[str, Any]) -> int:
    return (await _pressed(rt, body)).notice_id


FormBuilder = Callable[..., Awaitable[dict[str, Any]]]


def _notice_form(build: FormBuilder) -> Callable[..., Awaitable[None]]:
    """The listener of a button that opens a notice's form: ack, check the person may act on the
    notice from here, build the form with `build(rt, notice_id=…, actor=…)` and open it sealed."""

    async def open_form(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
    ) -> None:
        await ack()
        await rt.inflight.quiet()
        pressed = await _pressed(rt, body)
        view = await build(rt, notice_id=pressed.notice_id, actor=user(body))
        await client.views_open(
            trigger_id=body["trigger_id"], view=seal_notice_form(rt, view, pressed)
        )

    return open_form


# Submitted… (a portal) and It arrived… (a held notice) ask for the platform's reference;
# Could not submit (a portal) asks why; Record decision…, Correct decision… (approvers), Answer the
# platform… (a request for information).
open_confirm_form = _notice_form(delivery.confirm_form)
open_not_filed_form = _notice_form(delivery.not_submitted_form)
open_decision_form = _notice_form(delivery.decision_form)
open_correction_form = _notice_form(corrections.correction_form)
open_answer_form = _notice_form(answers.answer_form)


async def view_notice(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    """View notice: the notice as it was sent, in a modal; a long one also as a file in the
    person's direct messages with the bot."""
    await ack()
    await rt.inflight.quiet()
    pressed = await _pressed(rt, body)
    shown = await notice_view(rt, pressed=pressed)
    await client.views_open(trigger_id=body["trigger_id"], view=shown.view)
    if shown.file is not None:
        await send_file(client, user=pressed.user, file=shown.file)


async def retry(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime) -> None:
    await ack()
    await rt.inflight.quiet()
    await delivery.retry_notice(rt, notice_id=await _notice_id(rt, body), actor=user(body))
    await tell(client, body, "Sending it again; the thread will say how it went.")


async def withdraw(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    """Withdraw: the notice is withdrawn if it was not sent; the person is told what became of it
    (already on its way, or already with the platform: what they can still do)."""
    await ack()
    await rt.inflight.quiet()
    answer = await delivery.withdraw(rt, notice_id=await _notice_id(rt, body), actor=user(body))
    rt.wake_worker()
    await tell(client, body, answer)


async def answer_passed_on(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    """I sent it: a person passed a guided answer on to the platform."""
    await ack()
    await rt.inflight.quiet()
    try:
        notice, answer_id = answer_form.parse_sent_value(button_value(body))
    except ValueError:
        raise AccessDenied("This button names no answer.") from None
    pressed = await _pressed(rt, body, notice)
    said = await answers.confirm_passed_on(
        rt, notice_id=pressed.notice_id, answer_id=answer_id, actor=user(body)
    )
    await tell(client, body, said)


async def open_evidence_form(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, rt: Runtime
) -> None:
    """**Add evidence** on a case's parent message: the form with a file input and a note."""
    await ack()
    await rt.inflight.quiet()
    view = await evidence.evidence_form(
        rt, user=user(body), ref=button_value(body), channel=channel(body)
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def turn_page(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, rt: Runtime
) -> None:
    """The case list's "Next" / "Previous": the same ephemeral message, another page."""
    await ack()
    await rt.inflight.quiet()
    wanted = json.loads(body["actions"][0]["value"])
    text, blocks = await list_answer(
        rt, user_id=user(body), what=str(wanted["what"]), page=int(wanted["page"])
    )
    await respond(text=text, blocks=blocks, replace_original=True, response_type="ephemeral")


def register(app: AsyncApp) -> None:
    app.action(nb.PORTAL_SUBMITTED)(open_confirm_form)
    app.action(nb.HELD_SENT)(open_confirm_form)
    app.action(nb.DECIDE)(open_decision_form)
    app.action(nb.VIEW_NOTICE)(view_notice)
    app.action(nb.CORRECT)(open_correction_form)
    app.action(nb.PORTAL_FAILED)(open_not_filed_form)
    app.action(nb.RETRY)(retry)
    app.action(nb.WITHDRAW)(withdraw)
    app.action(answer_form.ANSWER)(open_answer_form)
    app.action(answer_form.ANSWER_SENT)(answer_passed_on)
    app.action(ef.ADD_EVIDENCE)(open_evidence_form)
    app.action(re.compile(rf"^{PAGE_ACTION}:\d+$"))(turn_page)
