"""Buttons in status threads and the small forms they open (complaint number, decision)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import person as delivery
from bot.delivery.person import DeliveryError
from bot.desk.case_list import PAGE_ACTION, list_answer
from bot.runtime import Runtime
from bot.slack_ui import notice_blocks as nb
from bot.slack_ui.access import AccessDenied

log = logging.getLogger("takedown.handlers")


def _notice_id(body: dict[str, Any]) -> int:
    return int(body["actions"][0]["value"])


async def _tell(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    """An ephemeral answer in the thread the button was in; failures are only logged."""
    channel = (body.get("channel") or {}).get("id")
    message = body.get("message") or {}
    try:
        if channel:
            await client.chat_postEphemeral(
                channel=channel,
                user=body["user"]["id"],
                text=text,
                thread_ts=message.get("thread_ts") or message.get("ts"),
            )
    except Exception:
        log.warning("could not answer the user", exc_info=True)


def register(app: AsyncApp, rt: Runtime) -> None:
    def button(
        action_id: str, act: Callable[[dict[str, Any], AsyncWebClient, str], Awaitable[str | None]]
    ) -> None:
        @app.action(action_id)
        async def listener(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await rt.inflight.quiet()  # every pending ack first
            user = body["user"]["id"]
            try:
                answer = await act(body, client, user)
            except (AccessDenied, DeliveryError) as exc:
                answer = str(exc)
            except Exception:
                log.exception("button %s failed", action_id)
                answer = ":warning: Something went wrong on our side; nothing was changed. Please try again."
            if answer:
                await _tell(client, body, answer)

    async def open_confirm(body: dict[str, Any], client: AsyncWebClient, user: str) -> str | None:
        view = await delivery.confirm_form(rt, notice_id=_notice_id(body), actor=user)
        await client.views_open(trigger_id=body["trigger_id"], view=view)
        return None

    async def open_decision(body: dict[str, Any], client: AsyncWebClient, user: str) -> str | None:
        view = await delivery.decision_form(rt, notice_id=_notice_id(body), actor=user)
        await client.views_open(trigger_id=body["trigger_id"], view=view)
        return None

    async def portal_failed(body: dict[str, Any], _client: AsyncWebClient, user: str) -> str | None:
        await delivery.not_submitted(rt, notice_id=_notice_id(body), actor=user)
        rt.wake_worker()
        return None

    async def retry(body: dict[str, Any], _client: AsyncWebClient, user: str) -> str | None:
        await delivery.retry_notice(rt, notice_id=_notice_id(body), actor=user)
        return "Sending it again; the thread will say how it went."

    async def withdraw(body: dict[str, Any], _client: AsyncWebClient, user: str) -> str | None:
        count = await delivery.withdraw(rt, notice_id=_notice_id(body), actor=user)
        rt.wake_worker()
        return (
            None
            if count
            else "Nothing left to withdraw: every listing of this notice is already decided."
        )

    button(nb.PORTAL_SUBMITTED, open_confirm)
    button(nb.HELD_SENT, open_confirm)
    button(nb.DECIDE, open_decision)
    button(nb.PORTAL_FAILED, portal_failed)
    button(nb.RETRY, retry)
    button(nb.WITHDRAW, withdraw)

    @app.action(re.compile(rf"^{PAGE_ACTION}:\d+$"))
    async def page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        try:
            wanted = json.loads(body["actions"][0]["value"])
            text, blocks = await list_answer(
                rt, user_id=body["user"]["id"], what=str(wanted["what"]), page=int(wanted["page"])
            )
            await respond(
                text=text, blocks=blocks, replace_original=True, response_type="ephemeral"
            )
        except Exception:
            log.exception("paging the case list failed")

    @app.view(nb.CONFIRM_VIEW)
    async def confirm(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        reference = (values.get("reference", {}).get("reference", {}).get("value")) or ""
        try:
            await delivery.confirm_submission(
                rt,
                notice_id=int(view["private_metadata"]),
                reference=reference,
                actor=body["user"]["id"],
            )
        except (AccessDenied, DeliveryError) as exc:
            await ack(response_action="errors", errors={"reference": str(exc)})
            return
        except Exception:
            log.exception("confirming a submission failed")
            await ack(
                response_action="errors",
                errors={"reference": "Could not save this just now; please try again."},
            )
            return
        await ack()
        rt.wake_worker()

    @app.view(nb.DECISION_VIEW)
    async def decide(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        status = ((values.get("status", {}).get("status", {}).get("selected_option")) or {}).get(
            "value", ""
        )
        chosen = values.get("listings", {}).get("listings", {}).get("selected_options") or []
        note = values.get("note", {}).get("note", {}).get("value") or ""
        if status not in nb.PERSON_STATUSES:
            await ack(
                response_action="errors", errors={"status": "Choose what the platform decided."}
            )
            return
        if not chosen:
            await ack(response_action="errors", errors={"listings": "Choose at least one listing."})
            return
        try:
            await delivery.record_decision(
                rt,
                notice_id=int(view["private_metadata"]),
                status=status,
                listing_ids=[int(option["value"]) for option in chosen],
                note=note,
                actor=body["user"]["id"],
            )
        except (AccessDenied, DeliveryError) as exc:
            await ack(response_action="errors", errors={"status": str(exc)})
            return
        except Exception:
            log.exception("recording a decision failed")
            await ack(
                response_action="errors",
                errors={"status": "Could not save this just now; please try again."},
            )
            return
        await ack()
        rt.wake_worker()
