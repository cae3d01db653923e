"""TAKEDOWN_SECRET_KEY: the keys that encrypt what the bot keeps in its database (OAuth tokens).

Fernet (the `cryptography` library): AES-128-CBC with an HMAC-SHA256, so a value changed in the
database fails to decrypt rather than decrypting to something else. Several keys, comma-separated,
make a rotation: the first encrypts, every one decrypts (MultiFernet), and values read with an older
key are encrypted again with the first (storage/tokens.py does it when it next reads them).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config.environment import Environment


class FernetCipher:
    """A `storage.tokens.TokenCipher` over Fernet keys (the first one encrypts)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key")
        self._first = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])

    def seal(self, plain: str) -> str:
        return self._all.encrypt(plain.encode()).decode("ascii")

    def unseal(self, sealed: str) -> str:
        try:
            return self._all.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise ValueError("no key decrypts it") from None

    def is_current(self, sealed: str) -> bool:
        try:
            self._first.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True


def token_cipher(env: Environment) -> FernetCipher | None:
    """The cipher TAKEDOWN_SECRET_KEY gives (None without it: tokens are kept in plain text).
    The keys were checked when the environment was read."""
    if not env.secret_keys:
        return None
    return FernetCipher([key.get_secret_value() for key in env.secret_keys])
