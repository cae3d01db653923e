"""The portal guide's files to upload: each evidence file that goes with the notice, named, with
its download link (a separate block of the guide, `bot.delivery.record.record_awaiting_person`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack_ui.mrkdwn import Blocks, escape, escape_cut, link_url, mrkdwn

_SECTION_MAX = 3000
NO_LINKS = (
    "The bot cannot link these files (no PUBLIC_URL): add them to the form from the case's "
    "evidence (`/report-listing bundle`)."
)


@dataclass(frozen=True, slots=True)
class UploadFile:
    name: str
    detail: str  # media type and size
    url: str | None  # a signed download link, or None when the bot cannot make one


def files_to_upload(files: Sequence[UploadFile]) -> Blocks:
    """One section naming each file to upload into the portal's form, linked where it can be;
    none when there are no files. Files that do not fit in the section are counted."""
    if not files:
        return []
    head = f":paperclip: *Upload {'this file' if len(files) == 1 else 'these files'} to the form*"
    lines: list[str] = []
    for number, item in enumerate(files):
        name = escape_cut(item.name, 150)
        shown = f"<{link_url(item.url)}|{name}>" if item.url else name
        line = f"• {shown} ({escape(item.detail)})"
        rest = len(files) - number
        if len(head) + sum(len(x) + 1 for x in lines) + len(line) + 80 > _SECTION_MAX:
            lines.append(f"…and {rest} more: see the notice's kept copy (*View notice*)")
            break
        lines.append(line)
    if any(item.url is None for item in files):
        lines.append(f"_{NO_LINKS}_")
    return [{"type": "section", "text": mrkdwn("\n".join([head, *lines]))}]
