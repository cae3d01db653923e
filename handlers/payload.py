"""What listeners read from a Slack payload: who acted, the pressed button's value, and the
channel it was pressed in."""

from __future__ import annotations

from typing import Any


def user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def button_value(body: dict[str, Any]) -> str:
    """The pressed button's value ("" when it has none)."""
    return str(((body.get("actions") or [{}])[0]).get("value") or "")


def channel(body: dict[str, Any]) -> str | None:
    """The channel of the message the button is on (None in a modal or the App Home)."""
    found = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return str(found) if found else None
