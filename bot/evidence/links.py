"""Signed, expiring download links to evidence items: `GET /evidence/{sha256}?exp=…&sig=…`.

A link names the object by its SHA-256 and carries its expiry (Unix seconds) and an HMAC-SHA256
over both. The HMAC key is derived from TAKEDOWN_SECRET_KEY (each of its keys with a label of its
own, so the links' key is never the key that seals stored tokens): the first key signs, every key
verifies, so a key rotation leaves the links already sent working until they expire. The links'
address is PUBLIC_URL. Without either, the bot cannot make links, and says so where it would
(check-config, the notice's text).

Pure: no database, no store. The links go out with notices (`bot.delivery.sent_evidence`) and are
served by `bot.evidence.serve`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.config.environment import Environment

LINK_PATH = "/evidence/{sha256}"
_LABEL = b"takedown-bot evidence links v1"


def _link_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()


def _signature(key: bytes, sha256: str, expires: int) -> str:
    return hmac.new(key, f"{sha256}.{expires}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class EvidenceLinks:
    """How the bot makes and checks its evidence links."""

    base_url: str | None
    keys: tuple[bytes, ...]
    valid_for: timedelta = timedelta(days=30)

    @property
    def missing(self) -> list[str]:
        """The variables links need and do not have."""
        return [
            name
            for name, present in (("PUBLIC_URL", self.base_url), ("TAKEDOWN_SECRET_KEY", self.keys))
            if not present
        ]

    def link(self, sha256: str, *, now: datetime) -> tuple[str, datetime] | None:
        """A download link for the object and when it stops working; None without the means."""
        if self.missing:
            return None
        assert self.base_url is not None
        expires = int(now.timestamp() + self.valid_for.total_seconds())
        sig = _signature(self.keys[0], sha256, expires)
        path = LINK_PATH.format(sha256=sha256)
        return f"{self.base_url}{path}?exp={expires}&sig={sig}", datetime.fromtimestamp(
            expires, UTC
        )

    def valid(self, sha256: str, *, exp: str, sig: str, now: datetime) -> bool:
        """Whether a request's `exp` and `sig` are a link this bot made and it has not expired."""
        if not exp.isdigit() or len(exp) > 12 or int(exp) <= now.timestamp():
            return False
        expected = [_signature(key, sha256, int(exp)) for key in self.keys]
        # Every key is compared, so the time taken does not say which one matched.
        return any([hmac.compare_digest(sig.encode(), item.encode()) for item in expected])


def evidence_links(env: Environment, *, days: int) -> EvidenceLinks:
    """The links this environment can make (`evidence.link_days` long)."""
    keys = tuple(_link_key(key.get_secret_value()) for key in env.secret_keys)
    return EvidenceLinks(env.public_url, keys, timedelta(days=days))
