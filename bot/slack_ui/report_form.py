"""The report form (a modal): its fields, the ids handlers read values by, and the view it turns
into once the case is open."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.config.schema import INFRINGEMENT_TYPES, AppConfig
from bot.core.cases import MAX_LISTINGS_PER_CASE
from bot.slack_ui.evidence_form import evidence_file_input, evidence_hint
from bot.slack_ui.mrkdwn import context, escape, mrkdwn, plain

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

_TEXT_MAX = 3000  # a plain_text_input's max_length, and the prefilled URLs' length


def report_modal(
    config: AppConfig, *, urls: Sequence[str] = (), metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The report form, prefilled with `urls` (one per line). A file of URLs (CSV or TXT) may
    come instead of, or besides, the typed ones (`bot.intake.bulk` reads it)."""
    return {
        "type": "modal",
        "callback_id": REPORT_CALLBACK,
        "title": plain("Report listings", limit=24),
        "submit": plain("File report", limit=24),
        "close": plain("Cancel", limit=24),
        "private_metadata": _metadata(metadata),
        "blocks": [
            _urls_input(urls),
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
        ],
    }


def case_filed_view(ref: str, listings: int, created: bool) -> dict[str, Any]:
    """What the form turns into once the case is open."""
    what = (
        f"*{escape(ref)}* is open with {listings:,} listing{'s' if listings != 1 else ''}."
        if created
        else f"*{escape(ref)}* was already filed."
    )
    return {
        "type": "modal",
        "title": plain("Report filed", limit=24),
        "close": plain("Done", limit=24),
        "blocks": [
            {"type": "section", "text": mrkdwn(f":white_check_mark: {what}")},
            context("Its status thread follows in the team channel."),
        ],
    }


# -- the fields -----------------------------------------------------------------------------------


def _urls_input(urls: Sequence[str]) -> dict[str, Any]:
    element = _text(URLS, max_length=_TEXT_MAX, multiline=True)
    element["placeholder"] = plain("https://www.ebay.com/itm/123456789012")
    prefill = "\n".join(urls)
    if prefill:
        element["initial_value"] = prefill[:_TEXT_MAX]
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
