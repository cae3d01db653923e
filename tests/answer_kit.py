"""What the answer tests share: pressing **Answer the platform…** and sending its form through the
bot's real endpoint, as a person in Slack would.

    form = await open_answer_form(bot, notice_id, user=REPORTER)    # the modal the bot opened
    answer = await send_answer(bot, form, "Here is the certificate", links="https://…")
"""

from __future__ import annotations

import json
from typing import Any

from conftest import SlackDriver, press, view_submission
from delivery_kit import APPROVER, REPORTER, rows
from sqlalchemy import select

from bot.slack_ui import notice_blocks as nb
from bot.slack_ui.answer_form import ANSWER, ANSWER_VIEW, FILES, LINKS, LISTINGS, TEXT
from storage.models import Event, NoticeRecord

PROOF = b"%PDF-1.4\n% registration certificate 018123456\n"


async def open_answer_form(
    bot: SlackDriver, notice_id: int, *, user: str = REPORTER
) -> dict[str, Any]:
    """Press Answer the platform… in the case's thread; the form the bot opened."""
    before = len(bot.slack.calls_to("views.open"))
    response = await bot.interact(press(ANSWER, str(notice_id), user=user))
    assert response.status == 200
    calls = await bot.slack.wait_for("views.open", count=before + 1)
    view: dict[str, Any] = calls[-1].params["view"]
    return view


def form_listings(form: dict[str, Any]) -> list[dict[str, Any]]:
    """The listing options the form offers (all chosen to begin with)."""
    [block] = [b for b in form["blocks"] if b.get("block_id") == LISTINGS]
    options: list[dict[str, Any]] = block["element"]["initial_options"]
    return options


def answer_values(
    text: str,
    *,
    links: str = "",
    listings: list[dict[str, Any]] | None = None,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The form's state as Slack sends it on submission."""
    return {
        TEXT: {TEXT: {"type": "plain_text_input", "value": text or None}},
        LINKS: {LINKS: {"type": "plain_text_input", "value": links or None}},
        FILES: {FILES: {"type": "file_input", "files": files or []}},
        LISTINGS: {LISTINGS: {"type": "multi_static_select", "selected_options": listings or []}},
    }


async def send_answer(
    bot: SlackDriver,
    form: dict[str, Any],
    text: str,
    *,
    links: str = "",
    files: list[dict[str, Any]] | None = None,
    user: str = REPORTER,
) -> dict[str, Any]:
    """Submit the answer form with every listing it offers; the HTTP answer ({} once accepted)."""
    values = answer_values(text, links=links, listings=form_listings(form), files=files)
    response = await bot.interact(
        view_submission(ANSWER_VIEW, form["private_metadata"], values, user=user)
    )
    assert response.status == 200
    body = await response.text()
    return json.loads(body) if body.startswith("{") else {}


async def confirm_portal(bot: SlackDriver, notice_id: int, reference: str) -> None:
    """The reporter filed the portal notice and confirms it with the complaint number."""
    before = len(bot.slack.calls_to("views.open"))
    await bot.interact(press(nb.PORTAL_SUBMITTED, str(notice_id), user=REPORTER))
    form = (await bot.slack.wait_for("views.open", count=before + 1))[-1].params["view"]
    values = {"reference": {"reference": {"type": "plain_text_input", "value": reference}}}
    response = await bot.interact(
        view_submission(nb.CONFIRM_VIEW, form["private_metadata"], values, user=REPORTER)
    )
    assert await response.text() == ""


async def record_needs_info(bot: SlackDriver, notice_id: int, note: str) -> None:
    """An approver records that the platform needs information (Record decision…)."""
    before = len(bot.slack.calls_to("views.open"))
    await bot.interact(press(nb.DECIDE, str(notice_id), user=APPROVER))
    form = (await bot.slack.wait_for("views.open", count=before + 1))[-1].params["view"]
    values = {
        "status": {"status": {"type": "static_select", "selected_option": {"value": "needs_info"}}},
        "listings": {
            "listings": {
                "type": "multi_static_select",
                "selected_options": form["blocks"][1]["element"]["options"],
            }
        },
        "note": {"note": {"type": "plain_text_input", "value": note}},
    }
    response = await bot.interact(
        view_submission(nb.DECISION_VIEW, form["private_metadata"], values, user=APPROVER)
    )
    assert await response.text() == ""


async def answer_records(bot: SlackDriver) -> list[NoticeRecord]:
    async with bot.bot.db.sessions() as session:
        found = await session.execute(
            select(NoticeRecord).where(NoticeRecord.kind == "answer").order_by(NoticeRecord.id)
        )
        return list(found.scalars())


async def answer_kinds(bot: SlackDriver) -> list[str]:
    """The answer events, in order (`answer_requested`, `answer_sending`, …)."""
    return [e.kind for e in await rows(bot, Event) if e.kind.startswith("answer_")]
