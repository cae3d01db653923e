"""What the correction tests share: pressing Record decision…, Correct decision… and the portal's
Submitted… as Slack sends them, and a Taobao case whose listing an approver rejected by mistake.

    notice_id = await rejected_by_mistake(bot)
    form = await open_form(bot, nb.CORRECT, notice_id, APPROVER_2)
    assert await correct(bot, form, to="in_review", reason="…") == {}   # {}: saved, form closed
"""

from __future__ import annotations

import json
from typing import Any

from conftest import SlackDriver, press, view_submission
from delivery_kit import APPROVER, APPROVER_2, REPORTER, TAOBAO, listings, notices, run_jobs

from bot.slack_ui import corrections as cf
from bot.slack_ui import notice_blocks as nb


async def open_form(bot: SlackDriver, action: str, notice_id: int, user: str) -> dict[str, Any]:
    before = len(bot.slack.calls_to("views.open"))
    await bot.interact(press(action, str(notice_id), user=user))
    calls = await bot.slack.wait_for("views.open", count=before + 1)
    view: dict[str, Any] = calls[-1].params["view"]
    return view


async def answer(bot: SlackDriver, payload: dict[str, Any]) -> dict[str, Any]:
    response = await bot.interact(payload)
    assert response.status == 200
    text = await response.text()
    return json.loads(text) if text.startswith("{") else {}


async def decide(bot: SlackDriver, notice_id: int, status: str, user: str = APPROVER) -> None:
    """Record decision… for every open listing of the notice."""
    form = await open_form(bot, nb.DECIDE, notice_id, user)
    options = form["blocks"][1]["element"]["options"]
    values = {
        "status": {"status": {"type": "static_select", "selected_option": {"value": status}}},
        "listings": {"listings": {"type": "multi_static_select", "selected_options": options}},
        "note": {"note": {"type": "plain_text_input", "value": None}},
    }
    payload = view_submission(nb.DECISION_VIEW, form["private_metadata"], values, user=user)
    assert await answer(bot, payload) == {}


async def correct(
    bot: SlackDriver,
    form: dict[str, Any],
    *,
    to: str = "in_review",
    reason: str = "Recorded Rejected by mistake: Alibaba is still reviewing it.",
    user: str = APPROVER_2,
) -> dict[str, Any]:
    """Submit the Correct decision… form for every listing it offers; the HTTP answer."""
    options = form["blocks"][1]["element"]["options"]
    values = {
        cf.LISTINGS: {cf.LISTINGS: {"type": "multi_static_select", "selected_options": options}},
        cf.STATUS: {
            cf.STATUS: {"type": "static_select", "selected_option": {"value": to}},
        },
        cf.REASON: {cf.REASON: {"type": "plain_text_input", "value": reason}},
    }
    return await answer(
        bot, view_submission(cf.CORRECTION_VIEW, form["private_metadata"], values, user=user)
    )


async def portal_case(bot: SlackDriver) -> int:
    """A Taobao case whose portal notice the reporter filed: its one listing is submitted."""
    await bot.submit_report(urls=TAOBAO)
    await run_jobs(bot)
    notice = (await notices(bot))[-1]
    assert notice.id is not None
    form = await open_form(bot, nb.PORTAL_SUBMITTED, notice.id, REPORTER)
    values = {"reference": {"reference": {"type": "plain_text_input", "value": "IPP-7"}}}
    payload = view_submission(nb.CONFIRM_VIEW, form["private_metadata"], values, user=REPORTER)
    assert await answer(bot, payload) == {}
    return notice.id


async def rejected_by_mistake(bot: SlackDriver) -> int:
    """A portal case whose listing an approver (APPROVER) recorded as rejected."""
    notice_id = await portal_case(bot)
    await decide(bot, notice_id, "rejected")
    assert [item.status for item in await listings(bot)] == ["rejected"]
    return notice_id
