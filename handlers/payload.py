"""What listeners read from a Slack payload: who acted, the pressed button's value, the
channel it was pressed in, and what a form's field holds."""

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


def field_value(values: dict[str, Any], block_id: str) -> str:
    """A submitted form's text input or static select (its `state.values`; "" when empty), for
    an input whose action id is its block id."""
    element = values.get(block_id, {}).get(block_id, {})
    if element.get("type") == "static_select":
        return ((element.get("selected_option") or {}).get("value")) or ""
    return element.get("value") or ""
