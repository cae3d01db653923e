"""A modal's private_metadata, sealed: the facts a form was opened with (who opened it, for which
case and notice, from which channel) come back exactly as the bot wrote them, or are refused.

Slack returns private_metadata with the submission, but a forged or replayed request can carry
anything. The facts stay readable JSON with an HMAC-SHA256 beside them (`mac`), keyed by a key
derived from the Slack signing secret and bound to the form's callback id, so facts sealed for one
form do not open another. Sealing rather than keeping the facts server-side by view id: nothing
to store, clean up or share between processes, and a form opened on one replica can be submitted
to another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from bot.runtime import Runtime
from bot.slack_ui.access import AccessDenied

log = logging.getLogger("takedown.access")

MAC = "mac"
_PURPOSE = b"takedown-bot form seal v1"


class StaleForm(AccessDenied):
    """A submission whose sealed facts are missing, changed, or another person's."""

    def __init__(self, why: str = "This form cannot be used as it is") -> None:
        super().__init__(f"{why}: close it and open it again.")


class FormSeal:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()

    def seal(self, callback_id: str, facts: Mapping[str, Any]) -> dict[str, Any]:
        """The facts with their seal, for a form of `callback_id`."""
        return {**facts, MAC: self._mac(callback_id, facts)}

    def open(self, callback_id: str, metadata: str, *, user: str) -> dict[str, Any]:
        """The facts sealed in a submitted form's private_metadata, if it was sealed for this form
        and opened by `user`; raises StaleForm otherwise."""
        try:
            facts = json.loads(metadata or "null")
        except ValueError:
            raise StaleForm() from None
        if not isinstance(facts, dict) or not isinstance(facts.get(MAC), str):
            raise StaleForm()
        mac = facts.pop(MAC)
        if not hmac.compare_digest(mac, self._mac(callback_id, facts)):
            log.warning("form %s from %s refused: its metadata is not as sealed", callback_id, user)
            raise StaleForm()
        if facts.get("user") != user:
            log.warning(
                "form %s from %s refused: opened by %s", callback_id, user, facts.get("user")
            )
            raise StaleForm("This form was opened by someone else")
        return facts

    def _mac(self, callback_id: str, facts: Mapping[str, Any]) -> str:
        text = json.dumps(dict(facts), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hmac.new(self._key, f"{callback_id}\n{text}".encode(), hashlib.sha256).hexdigest()


def form_seal(rt: Runtime) -> FormSeal:
    """The seal of this bot: keyed by the signing secret (Socket Mode: the app token)."""
    env = rt.settings.env
    for secret in (env.slack_signing_secret, env.slack_app_token, env.slack_bot_token):
        if secret is not None:
            return FormSeal(secret.get_secret_value())
    raise RuntimeError("no Slack secret to seal forms with (SLACK_SIGNING_SECRET)")


def sealed_metadata(rt: Runtime, callback_id: str, facts: Mapping[str, Any]) -> str:
    """A view's private_metadata: `facts`, sealed, as compact JSON."""
    return json.dumps(form_seal(rt).seal(callback_id, facts), separators=(",", ":"))
