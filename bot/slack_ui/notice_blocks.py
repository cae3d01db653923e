"""Block Kit for notices in a case's status thread: the portal guide, failures, held notices,
and the buttons people press (action ids are read by `handlers.actions`)."""

from __future__ import annotations

from typing import Any

from bot.core.platforms import platform_name
from bot.core.states import ListingStatus
from bot.slack_ui.mrkdwn import Blocks, escape, escape_cut, link_url, mrkdwn, plain

# Action ids (handlers.actions registers one listener each) and modal callback ids.
PORTAL_SUBMITTED = "portal_submitted"
PORTAL_FAILED = "portal_failed"
RETRY = "notice_retry"
DECIDE = "notice_decide"
WITHDRAW = "notice_withdraw"
HELD_SENT = "held_sent"
CONFIRM_VIEW = "notice_confirm"
DECISION_VIEW = "notice_decision"
PERSON_STATUSES: dict[str, str] = {
    ListingStatus.IN_REVIEW: "In review",
    ListingStatus.REMOVED: "Removed",
    ListingStatus.REJECTED: "Rejected",
    ListingStatus.NEEDS_INFO: "Needs information",
}

_SECTION = 2900
_MAX_BLOCKS = 45


def _button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": plain(text, limit=75),
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {
        "title": plain(title, limit=100),
        "text": plain(text, limit=300),
        "confirm": plain(yes, limit=30),
        "deny": plain("Cancel", limit=30),
    }


def _pieces(text: str) -> list[str]:
    """Escape text and split it, at line ends where it can, into pieces a section can hold.

    The split is made on the escaped text (escaping makes text longer) and never inside an
    escape such as `&lt;`.
    """
    pieces, current = [], ""
    for line in escape(text).splitlines() or [""]:
        if len(line) > _SECTION and current:
            pieces.append(current)  # what came before goes first
            current = ""
        while len(line) > _SECTION:
            cut = _SECTION
            if (amp := line.rfind("&", cut - 4, cut)) >= 0 and ";" not in line[amp:cut]:
                cut = amp
            pieces.append(line[:cut])
            line = line[cut:]
        if len(current) + len(line) + 1 > _SECTION:
            pieces.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    pieces.append(current)
    return pieces


def portal_guide(
    *,
    notice_id: int,
    platform: str,
    listings: int,
    fields: list[tuple[str, str]],
    portal: str,
    url: str,
) -> tuple[str, Blocks]:
    """The notice ready to paste into the platform's form, field by field, with its buttons."""
    value = str(notice_id)
    name = escape_cut(portal, 200)
    where = f"<{link_url(url)}|{name}>" if url else name
    blocks: Blocks = [
        {
            "type": "section",
            "text": mrkdwn(
                f":clipboard: *File this notice on {where}* ({listings:,} {escape(platform_name(platform))} listing{'s' if listings != 1 else ''}). Copy each field into the form, then press *Submitted…* and enter the complaint number."
            ),
        },
    ]
    for label, text in fields:
        for piece in _pieces(text):
            if len(blocks) >= _MAX_BLOCKS:
                break
            blocks.append(
                {
                    "type": "section",
                    "text": mrkdwn(f"*{escape(label)}*\n```{piece or ' '}```"),
                }
            )
    blocks.append(
        {
            "type": "actions",
            "block_id": f"portal:{value}",
            "elements": [
                _button("Submitted…", PORTAL_SUBMITTED, value, style="primary"),
                _button("Could not submit", PORTAL_FAILED, value),
            ],
        }
    )
    return f"File this notice on {name} and confirm with the complaint number", blocks


def notice_failed(
    *, notice_id: int, platform: str, channel: str, error: str, reporter_id: str
) -> tuple[str, Blocks]:
    text = (
        f"Could not deliver the notice to {escape_cut(platform_name(platform), 100)}: "
        f"{escape_cut(error, 1500)}"
    )
    return text, [
        {
            "type": "section",
            "text": mrkdwn(
                f":warning: *Could not deliver the notice to {escape_cut(platform_name(platform), 100)}* (channel `{escape_cut(channel, 100)}`) <@{reporter_id}>\n> {escape_cut(error, 1500)}"
            ),
        },
        {
            "type": "actions",
            "block_id": f"failed:{notice_id}",
            "elements": [
                _button("Retry", RETRY, str(notice_id), style="primary"),
                _withdraw(notice_id),
            ],
        },
    ]


def notice_held(*, notice_id: int, platform: str, error: str) -> tuple[str, Blocks]:
    text = f"The notice to {escape_cut(platform_name(platform), 100)} may or may not have arrived; check before sending again"
    return text, [
        {
            "type": "section",
            "text": mrkdwn(
                f":grey_question: *The notice to {escape_cut(platform_name(platform), 100)} may have arrived.* The connection broke after it was sent and the platform cannot tell us, so it is not sent again automatically. Check the platform, then say what happened.\n> {escape_cut(error, 1000)}"
            ),
        },
        {
            "type": "actions",
            "block_id": f"held:{notice_id}",
            "elements": [
                _button("It arrived…", HELD_SENT, str(notice_id), style="primary"),
                _button(
                    "Send again",
                    RETRY,
                    str(notice_id),
                    confirm=_confirm(
                        "Send again?",
                        "Only if the platform has no record of this notice: a second notice would be a duplicate.",
                        "Send again",
                    ),
                ),
            ],
        },
    ]


def _withdraw(notice_id: int) -> dict[str, Any]:
    return _button(
        "Withdraw",
        WITHDRAW,
        str(notice_id),
        style="danger",
        confirm=_confirm(
            "Withdraw these listings?",
            "They stop being tracked in this case. If the platform already has the notice, tell it yourself.",
            "Withdraw",
        ),
    )


def tracking_buttons(notice_id: int) -> dict[str, Any]:
    """Buttons under a sent notice: record the platform's decision, withdraw."""
    return {
        "type": "actions",
        "block_id": f"track:{notice_id}",
        "elements": [_button("Record decision…", DECIDE, str(notice_id)), _withdraw(notice_id)],
    }


def confirm_view(
    *, notice_id: int, platform: str, title: str = "Confirm submission"
) -> dict[str, Any]:
    """Asks for the platform's complaint / report number."""
    return {
        "type": "modal",
        "callback_id": CONFIRM_VIEW,
        "private_metadata": str(notice_id),
        "title": plain(title, limit=24),
        "submit": plain("Save", limit=24),
        "close": plain("Cancel", limit=24),
        "blocks": [
            {
                "type": "input",
                "block_id": "reference",
                "label": plain(f"{platform_name(platform)} complaint or report number", limit=2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reference",
                    "max_length": 200,
                },
            }
        ],
    }


def decision_view(
    *, notice_id: int, platform: str, listings: list[tuple[int, str]]
) -> dict[str, Any]:
    """Record a platform's decision for some or all listings of a notice."""
    options = [
        {"text": plain(key, limit=75), "value": str(listing_id)}
        for listing_id, key in listings[:100]
    ]
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": "listings",
        "options": options,
        "initial_options": options,
    }
    return {
        "type": "modal",
        "callback_id": DECISION_VIEW,
        "private_metadata": str(notice_id),
        "title": plain("Record decision", limit=24),
        "submit": plain("Save", limit=24),
        "close": plain("Cancel", limit=24),
        "blocks": [
            {
                "type": "input",
                "block_id": "status",
                "label": plain(f"What did {platform_name(platform)} decide?", limit=2000),
                "element": {
                    "type": "static_select",
                    "action_id": "status",
                    "options": [
                        {"text": plain(label), "value": key}
                        for key, label in PERSON_STATUSES.items()
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "listings",
                "label": plain("Listings", limit=2000),
                "element": element,
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": plain("Note (the platform's words, what it needs)", limit=2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "note",
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
    }
