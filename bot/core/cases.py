"""A case as people name and reach it: `TD-42`, its thread link, its state from its listings."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.core.states import SHOWN_IN_ORDER, SHOWN_OPEN_STATUSES, CaseState

MAX_LISTINGS_PER_CASE = 10_000
_CASE_REF = re.compile(r"^(?:TD-?)?(\d{1,12})$", re.IGNORECASE)


def case_ref(case_id: int) -> str:
    return f"TD-{case_id}"


def parse_case_ref(text: str) -> int | None:
    """`TD-42`, `td42` or `42` → 42; anything else → None."""
    match = _CASE_REF.match(text.strip())
    return int(match.group(1)) if match else None


def thread_link(channel_id: str, ts: str) -> str:
    """A link that opens a message in Slack (the archives form needs no workspace domain)."""
    return f"https://slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


def summarise(counts: Mapping[str, int]) -> str:
    """`2 queued · 1 awaiting you · 1 removed` in lifecycle order (shown statuses)."""
    return " · ".join(
        f"{counts[s]:,} {s.replace('_', ' ')}" for s in SHOWN_IN_ORDER if counts.get(s)
    )


def case_state(counts: Mapping[str, int]) -> str:
    """A case's status, derived from its listings: `open` while any listing is, else `closed`."""
    open_ = any(counts.get(s) for s in SHOWN_OPEN_STATUSES)
    return CaseState.OPEN if open_ else CaseState.CLOSED
