"""The View notice modal: a notice as it was sent, its header and its text, read-only.

Slack takes at most 100 blocks in a modal and 3000 characters in a section. The text is shown in
code sections of whole lines; a notice longer than MODAL_SECTIONS of them is not shown here (a
modal of tens of thousands of characters can be neither read nor copied whole): the modal says
where its exact bytes went as a file instead (`bot.desk.notice_view`).
"""

from __future__ import annotations

from typing import Any

from bot.slack_ui.mrkdwn import Blocks, context, escape, mrkdwn, plain

VIEW_CALLBACK = "notice_view"
MODAL_SECTIONS = 4  # the longest text shown in the modal: about 12,000 characters (~200 lines)
_CODE = 2990  # a section's 3000, less its ``` fences


def code_pieces(text: str) -> list[str]:
    """`text`, escaped, in pieces a code section holds: whole lines where they fit, a longer
    line cut before it is escaped (so never inside an `&lt;`)."""
    pieces: list[str] = []
    current = ""
    for line in _short_lines(text):
        escaped = escape(line)
        if current and len(current) + 1 + len(escaped) > _CODE:
            pieces.append(current)
            current = escaped
        else:
            current = f"{current}\n{escaped}" if current else escaped
    pieces.append(current)
    return pieces


def _short_lines(text: str) -> list[str]:
    lines = []
    for line in text.split("\n"):
        while len(escape(line)) > _CODE:
            head = line[:_CODE]
            excess = len(escape(head)) - _CODE  # each character left out shortens it by 1 to 5
            head = line[: _CODE - excess] if excess > 0 else head
            lines.append(head)
            line = line[len(head) :]
        lines.append(line)
    return lines


def fits_in_modal(text: str) -> bool:
    return len(code_pieces(text)) <= MODAL_SECTIONS


def notice_view_modal(
    *,
    title: str,
    header: list[tuple[str, str]],
    text: str | None,
    sent_as_file: str | None = None,
    records: int = 1,
    every: str = "",
) -> dict[str, Any]:
    """The modal: `title` (`TD-42, notice 7`), the header's label/value lines, then `text`; when
    `text` is None, where the notice went as a file (`sent_as_file`, its name). A notice kept
    more than once (`records`) points to the command that prints every record (`every`)."""
    lines = "\n".join(f"*{escape(label)}:* `{escape(value)}`" for label, value in header)
    blocks: Blocks = [
        {"type": "section", "text": mrkdwn(f"*{escape(title)}*, exactly as sent")},
        {"type": "section", "text": mrkdwn(lines)},
    ]
    if records > 1:
        blocks.append(
            context(
                f"The latest of its {records} kept records (it went out, or may have, more than "
                f"once): `{escape(every)}` prints them all."
            )
        )
    blocks.append({"type": "divider"})
    if text is None:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(
                    ":page_facing_up: Too long to show here: its exact bytes are sent to you as a "
                    f"file, `{escape(sent_as_file or '')}`, in your direct messages with the bot."
                ),
            }
        )
    else:
        blocks += [
            {"type": "section", "text": mrkdwn(f"```{piece or ' '}```")}
            for piece in code_pieces(text)
        ]
    return {
        "type": "modal",
        "callback_id": VIEW_CALLBACK,
        "title": plain("Notice as sent", limit=24),
        "close": plain("Close", limit=24),
        "blocks": blocks,
    }
