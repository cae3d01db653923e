"""The report form (a modal): its fields, the ids handlers read values by, and the view it turns
into once the case is open.

Lines that cannot be filed are listed line by line, as many as Slack shows (`fit_lines`): beside
the field when the form is refused, in the filed view when the person chose to skip them. The
form's last field is that choice ("Skip the lines that cannot be filed"), as `takedown-bot report
--skip-invalid` is on the command line. Opened from a message, the form says which of the
message's links it left out, and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config.schema import INFRINGEMENT_TYPES, AppConfig
from bot.core.cases import MAX_LISTINGS_PER_CASE
from bot.slack_ui.evidence_form import evidence_file_input, evidence_hint
from bot.slack_ui.mrkdwn import context, cut, escape, escape_cut, mrkdwn, plain

REPORT_CALLBACK = "report_listing"
FILE_FIELD = "url_file"  # the report form's file input (a bulk report's URL file)

# Block and action ids of the report modal; handlers and tests read values by these.
URLS, BRAND, RIGHT, TYPE, DESCRIPTION, EVIDENCE, SELLER = (
    "urls",
    "brand",
    "right",
    "type",
    "description",
    "evidence",
    "seller",
)

SKIP_INVALID = "skip_invalid"  # the checkbox: file the good lines, skip the others
SKIP_OPTION = "Skip the lines that cannot be filed"

_TEXT_MAX = 3000  # a plain_text_input's max_length, and the prefilled URLs' length
# A form error's text, per field. Slack documents no limit of its own for it; this keeps to what
# it takes for an input block's label and hint, the other texts shown with a field.
ERROR_LIMIT = 2000
_SECTION_MAX = 3000  # a section's or context element's text
_LINE_MAX = 400  # one listed line, cut: a long pasted line must not crowd out the others


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A link of a message that the form does not prefill, and why."""

    link: str
    reason: str


def fit_lines(
    lines: Sequence[str], *, limit: int, more: Callable[[int], str], end: str = ""
) -> tuple[str, int]:
    """As many of `lines` as fit in `limit` characters, one a line, then `more(n)` saying how many
    were left out (if any) and `end`; and how many lines it shows."""

    def size(shown: int, used: int) -> int:
        left = len(lines) - shown
        return used + (len(more(left)) + 1 if left else 0) + (len(end) + 1 if end else 0)

    cut_lines = [cut(line, _LINE_MAX) for line in lines]
    shown, used = 0, 0
    while shown < len(lines) and size(shown + 1, used + len(cut_lines[shown]) + 1) <= limit + 1:
        used += len(cut_lines[shown]) + 1
        shown += 1
    left = len(lines) - shown
    text = "\n".join([*cut_lines[:shown], *([more(left)] if left else []), *([end] if end else [])])
    return cut(text, limit), shown


def report_modal(
    config: AppConfig,
    *,
    urls: Sequence[str] = (),
    left_out: Sequence[LeftOut] = (),
    from_message: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report form, prefilled with `urls` (one per line, as many whole ones as the field
    holds). A file of URLs (CSV or TXT) may come instead of, or besides, the typed ones
    (`bot.intake.bulk` reads it). Opened `from_message`, it says which of the message's links it
    `left_out` and why (and those the field had no room for)."""
    prefill, no_room = _prefill(urls)
    left_out = [*no_room, *left_out]  # listings first: they matter most
    said = left_out or (from_message and not prefill)
    note = [_left_out_note(len(prefill), left_out)] if said else []
    return {
        "type": "modal",
        "callback_id": REPORT_CALLBACK,
        "title": plain("Report listings", limit=24),
        "submit": plain("File report", limit=24),
        "close": plain("Cancel", limit=24),
        "private_metadata": _metadata(metadata),
        "blocks": [
            *note,
            _urls_input(prefill),
            _brand_input(config),
            _right_input(config),
            _type_input(),
            _input(
                DESCRIPTION,
                "Why these listings infringe",
                _text(DESCRIPTION, max_length=_TEXT_MAX, multiline=True),
                optional=True,
            ),
            _input(
                EVIDENCE,
                "Evidence links (test buys, screenshots), one per line",
                _text(EVIDENCE, max_length=_TEXT_MAX, multiline=True),
                optional=True,
            ),
            _input(SELLER, "Seller (optional)", _text(SELLER, max_length=200), optional=True),
            # Last, so the form keeps its order for those who type URLs.
            _file_input(),
            # Apart from the URL file: a CSV or TXT there is read as listings, one here is kept
            # as evidence as it is; the person says which by where they put it.
            evidence_file_input(
                label="Evidence files (optional)",
                optional=True,
                hint=evidence_hint(config.evidence.file_max_mb, config.evidence.case_max_mb),
            ),
            _skip_input(),
        ],
    }


def case_filed_view(
    ref: str, listings: int, created: bool, *, skipped: Sequence[str] = ()
) -> dict[str, Any]:
    """What the form turns into once the case is open; with the lines it `skipped` ("line 3: …"),
    as many as fit (`skipped_shown`), saying that the rest were sent as a file."""
    what = (
        f"*{escape(ref)}* is open with {listings:,} listing{'s' if listings != 1 else ''}."
        if created
        else f"*{escape(ref)}* was already filed."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(f":white_check_mark: {what}")}
    ]
    if skipped:
        blocks.append({"type": "section", "text": mrkdwn(_skipped_text(skipped)[0])})
    blocks.append(context("Its status thread follows in the team channel."))
    return {
        "type": "modal",
        "title": plain("Report filed", limit=24),
        "close": plain("Done", limit=24),
        "blocks": blocks,
    }


def skipped_shown(skipped: Sequence[str]) -> int:
    """How many of the `skipped` lines the filed view shows."""
    return _skipped_text(skipped)[1]


def more_sent_as_file(count: int) -> str:
    """The line that stands for the `count` lines a list leaves out (they go as a file)."""
    return f"… and {count:,} more: the full list was sent to you as a file, in our direct messages."


def _skipped_text(skipped: Sequence[str]) -> tuple[str, int]:
    head = f"Skipped {_lines(len(skipped))} that cannot be filed:"
    body, shown = fit_lines(
        [escape_cut(line, _LINE_MAX) for line in skipped],
        limit=_SECTION_MAX - len(head) - 1,
        more=more_sent_as_file,
    )
    return f"{head}\n{body}", shown


def _lines(count: int) -> str:
    return f"{count:,} line{'s' if count != 1 else ''}"


# -- the fields -----------------------------------------------------------------------------------


def _prefill(urls: Sequence[str]) -> tuple[list[str], list[LeftOut]]:
    """The URLs the field holds whole (never one cut in half), and those it has no room for."""
    kept: list[str] = []
    used = 0
    for url in urls:
        used += len(url) + (1 if kept else 0)
        if used > _TEXT_MAX:
            break
        kept.append(url)
    room = f"no room in the field ({_TEXT_MAX:,} characters): paste it in another report"
    return kept, [LeftOut(url, room) for url in urls[len(kept) :]]


def _left_out_note(prefilled: int, left_out: Sequence[LeftOut]) -> dict[str, Any]:
    """What the form left out of the message it was opened from."""
    if not left_out:
        return context("The message has no links; paste the listing URLs below.")
    links = f"{len(left_out):,} link{'s' if len(left_out) != 1 else ''}"
    head = (
        f"Left out {links} of the message:"
        if prefilled
        else f":warning: None of the message's links can be filed, so none is filled in below "
        f"({links}):"
    )
    items = [
        f"• `{escape_cut(item.link.replace('`', ''), 100)}`: {escape_cut(item.reason, 250)}"
        for item in left_out
    ]
    body, _ = fit_lines(
        items, limit=_SECTION_MAX - len(head) - 1, more=lambda count: f"… and {count:,} more"
    )
    return context(f"{head}\n{body}")


def _urls_input(urls: Sequence[str]) -> dict[str, Any]:
    element = _text(URLS, max_length=_TEXT_MAX, multiline=True)
    element["placeholder"] = plain("https://www.ebay.com/itm/123456789012")
    if prefill := "\n".join(urls):
        element["initial_value"] = prefill
    return _input(URLS, "Listing URLs, one per line", element, optional=True)


def _brand_input(config: AppConfig) -> dict[str, Any]:
    options = [_option(brand.name, brand.name) for brand in config.brands][:100]
    element = _select(BRAND, options)
    if len(config.brands) == 1:
        element["initial_option"] = options[0]
    return _input(BRAND, "Brand", element)


def _right_input(config: AppConfig) -> dict[str, Any]:
    rights = [
        _option(f"{brand.name}: {right.label()}", right.id)
        for brand in config.brands
        for right in brand.rights
    ]
    return _input(RIGHT, "IP right", _select(RIGHT, rights[:100]))


def _type_input() -> dict[str, Any]:
    kinds = [_option(label, key) for key, label in INFRINGEMENT_TYPES.items()]
    return _input(TYPE, "Infringement type", _select(TYPE, kinds))


def _file_input() -> dict[str, Any]:
    element = {
        "type": "file_input",
        "action_id": FILE_FIELD,
        "filetypes": ["csv", "txt"],
        "max_files": 1,
    }
    hint = (
        "Instead of or besides the URLs above. TXT: one URL per line. CSV: a url column; seller "
        f"and evidence columns optional. Up to {MAX_LISTINGS_PER_CASE:,} listings in one report."
    )
    return {
        **_input(FILE_FIELD, "Listing URLs from a file", element, optional=True),
        "hint": plain(hint, limit=2000),
    }


def _skip_input() -> dict[str, Any]:
    option = {
        "text": plain(SKIP_OPTION, limit=75),
        "description": plain(
            "Lines that are not marketplace listings, or whose listing is in an open case "
            "already, are left out; the rest is filed, and you see what was left out.",
            limit=150,
        ),
        "value": "skip",
    }
    element = {"type": "checkboxes", "action_id": SKIP_INVALID, "options": [option]}
    return _input(SKIP_INVALID, "If some lines cannot be filed", element, optional=True)


# -- Block Kit pieces -----------------------------------------------------------------------------


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, limit=2000),
        "element": element,
        "optional": optional,
    }


def _text(action_id: str, *, max_length: int, multiline: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id}
    if multiline:
        element["multiline"] = True
    element["max_length"] = max_length
    return element


def _select(action_id: str, options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "static_select", "action_id": action_id, "options": options}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, limit=75), "value": value[:150]}


def _metadata(metadata: Mapping[str, Any] | None) -> str:
    """The form's private_metadata: compact JSON, never cut (a cut would not parse back)."""
    text = json.dumps(dict(metadata or {}), separators=(",", ":"))
    if len(text) > 3000:
        raise ValueError(f"private_metadata of {len(text)} characters; Slack takes at most 3,000")
    return text
