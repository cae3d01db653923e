"""Block Kit for notices in a case's status thread: the portal guide, failures, held notices,
and the buttons people press (action ids are read by `handlers.actions`); the forms they open.
What became of a notice afterwards is said with `bot.slack_ui.notice_outcomes`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.core.platforms import platform_name
from bot.slack_ui.mrkdwn import Blocks, button, escape, escape_cut, link_url, mrkdwn, plain
from bot.slack_ui.notice_outcomes import PERSON_STATUSES, every

# Action ids (handlers.actions registers one listener each) and modal callback ids.
PORTAL_SUBMITTED = "portal_submitted"
PORTAL_FAILED = "portal_failed"
RETRY = "notice_retry"
DECIDE = "notice_decide"
WITHDRAW = "notice_withdraw"
CORRECT = "notice_correct"  # opens bot.slack_ui.corrections' form
HELD_SENT = "held_sent"
VIEW_NOTICE = "notice_view_open"  # the notice as sent (bot.desk.notice_view)
CONFIRM_VIEW = "notice_confirm"
DECISION_VIEW = "notice_decision"
NOT_FILED_VIEW = "notice_not_filed"
MAX_REASON = 1000  # characters of why a notice could not be filed

_SECTION = 2900
_MAX_BLOCKS = 45


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
                f":clipboard: *Awaiting you: file this notice on {where}* ({listings:,} {escape(platform_name(platform))} listing{'s' if listings != 1 else ''}). Copy each field into the form, then press *Submitted…* and enter the complaint number, or *Could not submit* and say why."
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
                button("Submitted…", PORTAL_SUBMITTED, value, style="primary"),
                button("Could not submit", PORTAL_FAILED, value),
                _view(notice_id),
            ],
        }
    )
    return f"Awaiting you: file this notice on {name} and confirm with the complaint number", blocks


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
                button("Retry", RETRY, str(notice_id), style="primary"),
                _withdraw(notice_id),
            ],
        },
    ]


def portal_not_filed(
    *, notice_id: int, platform: str, actor: str, reason: str, reporter_id: str
) -> tuple[str, Blocks]:
    """A person could not file a portal notice on the platform's form, and said why."""
    name = escape_cut(platform_name(platform), 100)
    text = f"The notice could not be filed on {name}'s form: {escape_cut(reason, 1500)}"
    mention = f" <@{reporter_id}>" if reporter_id != actor else ""
    return text, [
        {
            "type": "section",
            "text": mrkdwn(
                f":warning: *The notice could not be filed on {name}'s form*{mention}\n> {escape_cut(' '.join(reason.split()), 1500)}"
            ),
        },
        {"type": "context", "elements": [mrkdwn(f"by <@{actor}> · Retry posts the guide again")]},
        {
            "type": "actions",
            "block_id": f"failed:{notice_id}",
            "elements": [
                button("Retry", RETRY, str(notice_id), style="primary"),
                _withdraw(notice_id),
            ],
        },
    ]


def notice_held(
    *,
    notice_id: int,
    platform: str,
    error: str,
    look_every: timedelta | None = None,
    withdrawal_asked: bool = False,
) -> tuple[str, Blocks]:
    """A notice whose fate is unknown: it may have reached the platform. With `look_every`, the
    bot keeps asking the platform that often and settles the hold itself when it answers."""
    name = escape_cut(platform_name(platform), 100)
    text = f"The notice to {name} may or may not have arrived; check before sending again"
    lines = [
        f":grey_question: *The notice to {name} may have arrived.* Its fate is unknown, so it is not sent again on its own."
    ]
    if look_every is not None:
        lines.append(
            f"{name} could not be asked just now. The bot asks again every {every(look_every)} and says here when {name} answers; or check {name} yourself and say what happened."
        )
    else:
        lines.append(f"{name} cannot tell us. Check {name}, then say what happened.")
    if withdrawal_asked:
        lines.append(
            f"Its withdrawal was asked for while it was on its way: it will not be sent again, and if {name} has it, ask {name} to withdraw it."
        )
    lines.append(f"> {escape_cut(error, 1000)}")
    return text, [
        {"type": "section", "text": mrkdwn("\n".join(lines))},
        {
            "type": "actions",
            "block_id": f"held:{notice_id}",
            "elements": [
                button("It arrived…", HELD_SENT, str(notice_id), style="primary"),
                button(
                    "Send again",
                    RETRY,
                    str(notice_id),
                    confirm=_confirm(
                        "Send again? It may create a duplicate",
                        f"For approvers only. If the notice did reach {platform_name(platform)}, sending it again files a duplicate notice. Send again only once {platform_name(platform)} shows no record of it.",
                        "Send again",
                    ),
                ),
                _withdraw(notice_id),
            ],
        },
    ]


def _withdraw(notice_id: int) -> dict[str, Any]:
    return button(
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
    """Buttons under a sent notice: record the platform's decision, withdraw, view it as sent, and
    correct a decision recorded by mistake (last: the rare one)."""
    return {
        "type": "actions",
        "block_id": f"track:{notice_id}",
        "elements": [
            button("Record decision…", DECIDE, str(notice_id)),
            _withdraw(notice_id),
            _view(notice_id),
            button("Correct decision…", CORRECT, str(notice_id)),
        ],
    }


def _view(notice_id: int) -> dict[str, Any]:
    return button("View notice", VIEW_NOTICE, str(notice_id))


@dataclass(frozen=True)
class OpenedFor:
    """What a confirm form was opened for: the notice, the state it was in and its count of
    sends then (None for a form opened by an earlier version, which kept the notice id alone)."""

    notice_id: int
    state: str | None = None
    sends: int | None = None


def confirm_view(
    *,
    notice_id: int,
    platform: str,
    opened_for: str | None = None,
    sends: int | None = None,
    title: str = "Confirm submission",
) -> dict[str, Any]:
    """Asks for the platform's complaint / report number. The form remembers the notice's state
    and count of sends when it was opened (`confirm_form_notice` reads them back): saved once the
    notice has moved on, it is refused."""
    metadata = {"notice_id": notice_id, "opened_for": opened_for, "sends": sends}
    return {
        "type": "modal",
        "callback_id": CONFIRM_VIEW,
        "private_metadata": json.dumps(metadata),
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


def not_filed_view(
    *, notice_id: int, platform: str, opened_for: str | None = None, sends: int | None = None
) -> dict[str, Any]:
    """Asks why a portal notice could not be filed (required). Remembers, as the confirm form
    does, the notice's state and count of sends when it was opened (`confirm_form_notice`)."""
    metadata = {"notice_id": notice_id, "opened_for": opened_for, "sends": sends}
    return {
        "type": "modal",
        "callback_id": NOT_FILED_VIEW,
        "private_metadata": json.dumps(metadata),
        "title": plain("Could not submit", limit=24),
        "submit": plain("Save", limit=24),
        "close": plain("Cancel", limit=24),
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": plain(
                    f"Why could it not be filed on {platform_name(platform)}?", limit=2000
                ),
                "hint": plain(
                    "For example: the form rejects the registration number. The thread shows "
                    "this, and Retry posts the guide again.",
                    limit=2000,
                ),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reason",
                    "multiline": True,
                    "max_length": MAX_REASON,
                },
            }
        ],
    }


def confirm_form_notice(private_metadata: str) -> OpenedFor:
    """What a confirm form was opened for, from its `private_metadata` (ValueError if it is not
    a confirm form's)."""
    text = private_metadata.strip()
    if text.isdigit():
        return OpenedFor(int(text))
    try:
        data = json.loads(text)
        state, sends = data.get("opened_for"), data.get("sends")
        return OpenedFor(
            int(data["notice_id"]),
            None if state is None else str(state),
            None if sends is None else int(sends),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ValueError(f"not the metadata of a confirm form: {text[:100]!r}") from None


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
