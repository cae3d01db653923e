"""Block Kit for answering a platform's request for information: the **Answer the platform…**
button under a "needs information" reply, the form it opens, the guide a person passes an answer
on with (channels without a way to send it), and what the thread says of an answer's fate.

Action ids are read by `handlers.actions`, the form's callback id by `handlers.views`; the form's
block ids are the keys of its errors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.core.platforms import platform_name
from bot.slack_ui.mrkdwn import (
    Blocks,
    button,
    context,
    escape,
    escape_cut,
    link_url,
    listing_link,
    mrkdwn,
    plain,
)

ANSWER = "notice_answer"  # the button that opens the form
ANSWER_SENT = "answer_sent"  # "I sent it", under a guide
ANSWER_VIEW = "notice_answer_form"  # the form's callback id

TEXT = "answer_text"
LINKS = "answer_links"
FILES = "answer_files"
LISTINGS = "answer_listings"

TEXT_MAX = 3000  # Slack's limit for a text input, and a readable answer
LINKS_MAX = 20
FILES_MAX = 5
FILE_TYPES = [
    "pdf",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "webp",
    "txt",
    "csv",
    "doc",
    "docx",
    "xls",
    "xlsx",
]
_SECTION = 2800
_GUIDE_PIECES = 44  # a message holds 50 blocks: the intro, these, a note and the button
_SHOWN = 10

# How a person passes an answer on where the channel has no call for it, by adapter.
_HOW: dict[str, str] = {
    "ebay_vero": (
        "eBay's VeRO API has no call to answer a request for clarification: answer eBay where it "
        "asked (its email to your VeRO contact address, or the VeRO programme's pages)"
    ),
    "mercadolibre": (
        "Mercado Libre's Brand Protection Program API has no call for a member to answer a "
        "denounce: answer it in the Brand Protection Program's pages"
    ),
    "portal": "The bot cannot fill in the platform's form: add this answer to your complaint there",
}


def answer_button(notice_id: int) -> dict[str, Any]:
    """Under a reply that says a platform needs information: the button to answer it."""
    return {
        "type": "actions",
        "block_id": f"answer:{notice_id}",
        "elements": [button("Answer the platform…", ANSWER, str(notice_id), style="primary")],
    }


def answer_view(
    *, notice_id: int, platform: str, listings: Sequence[tuple[int, str, str | None]]
) -> dict[str, Any]:
    """The answer form: the person's words, evidence links, files, and which of the notice's
    listings needing information it answers (`listings`: id, key, what the platform asked)."""
    name = platform_name(platform)
    options = [
        {"text": plain(key, limit=75), "value": str(listing_id)}
        for listing_id, key, _ in listings[:100]
    ]
    asked = [
        f"• {escape_cut(key, 100)}: {escape_cut(reason, 300)}"
        for _, key, reason in listings[:_SHOWN]
        if reason
    ]
    intro = f"{escape(name)} asked for more information. Your answer goes to {escape(name)} in the rights holder's name."
    blocks: Blocks = [{"type": "section", "text": mrkdwn(intro)}]
    if asked:
        blocks.append(context("What it asked:\n" + "\n".join(asked)))
    blocks += [
        _input(
            TEXT,
            f"Your answer to {name}",
            {
                "type": "plain_text_input",
                "action_id": TEXT,
                "multiline": True,
                "max_length": TEXT_MAX,
            },
        ),
        _input(
            LINKS,
            "Evidence links (one per line)",
            {"type": "plain_text_input", "action_id": LINKS, "multiline": True, "max_length": 3000},
            optional=True,
            hint=f"http(s) links the platform can open, up to {LINKS_MAX}.",
        ),
        _input(
            FILES,
            "Files",
            {
                "type": "file_input",
                "action_id": FILES,
                "filetypes": FILE_TYPES,
                "max_files": FILES_MAX,
            },
            optional=True,
            hint="Attached to the email, or sent with the message; up to 5 MB each.",
        ),
        _input(
            LISTINGS,
            "Listings it answers",
            {
                "type": "multi_static_select",
                "action_id": LISTINGS,
                "options": options,
                "initial_options": options,
            },
        ),
    ]
    return {
        "type": "modal",
        "callback_id": ANSWER_VIEW,
        "private_metadata": json.dumps({"notice_id": notice_id}),
        "title": plain("Answer the platform", limit=24),
        "submit": plain("Send", limit=24),
        "close": plain("Cancel", limit=24),
        "blocks": blocks,
    }


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, limit=2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, limit=2000)
    return block


def _listings(listings: Sequence[tuple[str, str]]) -> str:
    shown = ", ".join(listing_link(url, key[:100]) for url, key in listings[:_SHOWN])
    more = f" and {len(listings) - _SHOWN:,} more" if len(listings) > _SHOWN else ""
    return shown + more


def _quoted(message: str, evidence: Sequence[str], files: Sequence[str]) -> str:
    """The person's words quoted, then their links and files: at most about 2,900 characters."""
    lines = [f"> {line}" for line in escape_cut(message, 1500).splitlines() or [""]]
    if evidence:
        shown = ", ".join(escape_cut(link, 100) for link in evidence[:_SHOWN])
        more = f" and {len(evidence) - _SHOWN} more" if len(evidence) > _SHOWN else ""
        lines.append(f"Evidence: {shown}{more}")
    if files:
        lines.append("Files: " + ", ".join(escape_cut(name, 60) for name in files[:_SHOWN]))
    return "\n".join(lines)


def answer_guide(
    *,
    notice_id: int,
    answer_id: int,
    adapter: str,
    platform: str,
    text: str,
    where: tuple[str, str],
    files: Sequence[str],
) -> tuple[str, Blocks]:
    """An answer the channel cannot send: ready to paste where the platform asked, with the
    portal's link when known, and **I sent it** to record that it went."""
    name = escape_cut(platform_name(platform), 100)
    portal, url = where
    place = f"<{link_url(url)}|{escape_cut(portal, 200)}>" if url else escape_cut(portal, 200)
    how = _HOW.get(
        adapter,
        f"The {adapter} channel cannot send answers: pass it on to {platform_name(platform)}",
    )
    attach = (
        f" Attach the files yourself: {', '.join(escape_cut(item, 100) for item in files)}."
        if files
        else ""
    )
    intro = (
        f":speech_balloon: *Pass this answer on to {name}* ({place}). {escape(how)}.{attach} "
        "Then press *I sent it*; the listings go back to in review."
    )
    blocks: Blocks = [{"type": "section", "text": mrkdwn(intro)}]
    pieces = _pieces(text)
    for piece in pieces[:_GUIDE_PIECES]:
        blocks.append({"type": "section", "text": mrkdwn(f"```{piece}```")})
    if len(pieces) > _GUIDE_PIECES:  # far beyond an answer's limits; said rather than dropped
        blocks.append(context("… the answer is longer than one message holds: it is cut here."))
    blocks.append(
        {
            "type": "actions",
            "block_id": f"answer_guide:{answer_id}",
            "elements": [
                button("I sent it", ANSWER_SENT, f"{notice_id}:{answer_id}", style="primary")
            ],
        }
    )
    return f"Pass this answer on to {name}, then press I sent it", blocks


def _pieces(text: str) -> list[str]:
    """`text` escaped and split at line ends into pieces a section holds (a line longer than a
    piece is cut, never inside an escape)."""
    pieces: list[str] = []
    current = ""
    for line in escape(text).splitlines() or [" "]:
        while len(line) > _SECTION:
            cut_at = _SECTION
            if (amp := line.rfind("&", cut_at - 4, cut_at)) >= 0 and ";" not in line[amp:cut_at]:
                cut_at = amp
            pieces.append(line[:cut_at])
            line = line[cut_at:]
        if current and len(current) + 1 + len(line) > _SECTION:
            pieces.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    pieces.append(current or " ")
    return pieces


def parse_sent_value(value: str) -> tuple[str, int]:
    """An **I sent it** button's value: the notice (as a button names one) and the answer.
    ValueError when it is not one."""
    notice, _, answer = value.partition(":")
    if not notice.isdigit() or not answer.isdigit():
        raise ValueError(f"not an answer button's value: {value[:50]!r}")
    return notice, int(answer)


def answer_sent(
    *,
    actor: str,
    platform: str,
    message: str,
    evidence: Sequence[str],
    files: Sequence[str],
    back_in_review: Sequence[tuple[str, str]],
    passed_on_by: str | None = None,
    via: str = "",
) -> tuple[str, Blocks]:
    """The thread's reply once an answer reached the platform (sent by the bot, or passed on by
    `passed_on_by`); its listings are back in review."""
    name = escape_cut(platform_name(platform), 100)
    head = f":speech_balloon: <@{actor}> answered {name}'s request for information:"
    sections = [f"{head}\n{_quoted(message, evidence, files)}"]
    if back_in_review:
        sections.append(f":mag: *In review* on {name} again: {_listings(back_in_review)}")
    through = f" through {escape_cut(via, 100)}" if via else ""
    by = f"Passed on to {name} by <@{passed_on_by}>" if passed_on_by else f"Sent to {name}{through}"
    text = f"{name}'s request for information answered: {escape_cut(message, 200)}"
    blocks: Blocks = [{"type": "section", "text": mrkdwn(part)} for part in sections]
    return text, [*blocks, context(by)]


def answer_failed(*, actor: str, platform: str, error: str, notice_id: int) -> tuple[str, Blocks]:
    """The answer could not be sent: the listings still need information."""
    name = escape_cut(platform_name(platform), 100)
    said = (
        f":warning: *Could not send <@{actor}>'s answer to {name}:* {escape_cut(error, 1000)}\n"
        "Its listings still need information; fix the cause and answer again."
    )
    text = f"Could not send the answer to {name}: {escape_cut(error, 500)}"
    return text, [{"type": "section", "text": mrkdwn(said)}, answer_button(notice_id)]


def answer_uncertain(*, actor: str, platform: str, error: str, channel: str) -> tuple[str, Blocks]:
    """The answer may have reached the platform; it is not sent again on its own."""
    name = escape_cut(platform_name(platform), 100)
    said = (
        f":grey_question: *<@{actor}>'s answer to {name} may have arrived*: "
        f"{escape_cut(error, 1000)}\nIt is not sent again on its own ({escape_cut(channel, 100)} "
        f"cannot be asked). Check the sent mail or with {name}; if it did not arrive, answer again."
    )
    text = f"The answer to {name} may or may not have arrived"
    return text, [{"type": "section", "text": mrkdwn(said)}]


def answer_not_needed(*, actor: str, platform: str) -> tuple[str, Blocks]:
    """Its listings were decided before the answer left: it was not sent."""
    name = escape_cut(platform_name(platform), 100)
    said = (
        f"<@{actor}>'s answer was not sent: {name} decided its listings before it left, so "
        "none of them needs information any more."
    )
    return f"The answer was not sent: {name} decided meanwhile", [context(said)]
