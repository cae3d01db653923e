"""Evidence people add: the **Add evidence** button on a case's parent message, the form it opens
(a file input and a note), the report form's evidence file input, and what the thread says of
the files kept or refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.slack_ui.mrkdwn import Blocks, button, context, cut, escape, escape_cut, mrkdwn, plain

ADD_EVIDENCE = "add_evidence"  # the button's action id; its value is the case's ref (TD-42)
EVIDENCE_VIEW = "add_evidence_form"  # the form's callback id
FILES_FIELD = "evidence_files"  # the file input's block and action id, in both forms
NOTE_FIELD = "evidence_note"
# Slack's `filetypes` for the input: what `bot.evidence.files` accepts.
FILETYPES = ("png", "jpg", "jpeg", "gif", "webp", "heic", "pdf", "txt", "csv")
MAX_FILES = 10
_NOTE_MAX = 500


@dataclass(frozen=True, slots=True)
class KeptFile:
    """A file as the thread lists it."""

    name: str
    size: str  # as people read it: 1.4 MB
    sha256: str
    media_type: str


def evidence_button(ref: str) -> dict[str, Any]:
    """The actions block on a case's parent message."""
    return {
        "type": "actions",
        "block_id": ADD_EVIDENCE,
        "elements": [button("Add evidence", ADD_EVIDENCE, ref)],
    }


def evidence_file_input(*, label: str, optional: bool, hint: str) -> dict[str, Any]:
    """The file input for evidence (the same block id in the report form and the evidence form)."""
    element = {
        "type": "file_input",
        "action_id": FILES_FIELD,
        "filetypes": list(FILETYPES),
        "max_files": MAX_FILES,
    }
    return {
        "type": "input",
        "block_id": FILES_FIELD,
        "label": plain(label, limit=2000),
        "element": element,
        "optional": optional,
        "hint": plain(hint, limit=2000),
    }


def evidence_hint(file_mb: float, case_mb: float) -> str:
    return (
        "Screenshots, test-buy photos, invoices: images, PDF, plain text or CSV. Up to "
        f"{file_mb:g} MB a file and {case_mb:g} MB a case; each is kept with its SHA-256."
    )


def evidence_modal(ref: str, *, file_mb: float, case_mb: float) -> dict[str, Any]:
    """The form **Add evidence** opens; its private_metadata is sealed by `bot.desk`."""
    return {
        "type": "modal",
        "callback_id": EVIDENCE_VIEW,
        "title": plain("Add evidence", limit=24),
        "submit": plain("Add", limit=24),
        "close": plain("Cancel", limit=24),
        "blocks": [
            {"type": "section", "text": mrkdwn(f"Evidence for *{escape(ref)}*")},
            evidence_file_input(
                label="Files", optional=False, hint=evidence_hint(file_mb, case_mb)
            ),
            {
                "type": "input",
                "block_id": NOTE_FIELD,
                "label": plain("Note (optional)", limit=2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_FIELD,
                    "multiline": True,
                    "max_length": _NOTE_MAX,
                },
                "optional": True,
            },
        ],
    }


def accepted_view(ref: str, count: int) -> dict[str, Any]:
    """What the form turns into once its files are queued to be kept."""
    files = f"{count} file{'s' if count != 1 else ''}"
    return {
        "type": "modal",
        "title": plain("Add evidence", limit=24),
        "close": plain("Done", limit=24),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(
                    f":inbox_tray: Fetching {files} from Slack; {escape(ref)}'s thread lists "
                    "each one kept, with its SHA-256."
                ),
            }
        ],
    }


def kept_message(files: Sequence[KeptFile], *, by: str, note: str) -> tuple[str, Blocks]:
    """The thread reply listing the files kept: name, size and SHA-256 of each."""
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    text = f"<@{by}> added {count} of evidence"
    lines = [
        f"• *{escape_cut(item.name, 200)}* ({escape(item.size)}, {escape(item.media_type)})\n"
        f"   SHA-256 `{item.sha256}`"
        for item in files
    ]
    blocks: Blocks = [{"type": "section", "text": mrkdwn(f":paperclip: {text}:")}]
    for start in range(0, len(lines), 5):  # a section holds 3,000 characters
        blocks.append({"type": "section", "text": mrkdwn("\n".join(lines[start : start + 5]))})
    if note.strip():
        blocks.append(context(f"Note: {escape(cut(note.strip(), 500))}"))
    return text, blocks


def refused_text(*, by: str, count: int, reason: str) -> str:
    files = f"the {count} files" if count != 1 else "the file"
    return f":warning: <@{by}>, {files} you added could not be kept: {escape(reason)}"
