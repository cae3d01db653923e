"""Logging set-up: level from LOG_LEVEL, and every secret from the environment redacted."""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

from bot.config.environment import Environment, Settings

_REDACTED = "[redacted]"
ISSUED_KEPT = 8  # run-time secrets kept per group (the current tokens and a few before them)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Secrets:
    """Values to hide: the configuration's secrets, and those obtained at run time (a grant's OAuth
    tokens), of which each group keeps its last ISSUED_KEPT so the list does not grow with every
    refresh. Shorter than 6 characters: not a secret worth the noise."""

    def __init__(self, configured: Iterable[str] = ()) -> None:
        self._configured: list[str] = []
        self._issued: dict[str, deque[str]] = {}
        self.values: list[str] = []  # longest first: one containing another is hidden whole
        self.add(configured)

    def add(self, secrets: Iterable[str]) -> None:
        self._configured.extend(s for s in secrets if s not in self._configured)
        self._rebuild()

    def issue(self, group: str, secrets: Iterable[str]) -> None:
        kept = self._issued.setdefault(group, deque(maxlen=ISSUED_KEPT))
        kept.extend(secret for secret in secrets if secret and secret not in kept)
        self._rebuild()

    def _rebuild(self) -> None:
        issued = (secret for kept in self._issued.values() for secret in kept)
        values = {secret for secret in (*self._configured, *issued) if len(secret) >= 6}
        self.values = sorted(values, key=len, reverse=True)

    def hide(self, text: str) -> str:
        for secret in self.values:
            text = text.replace(secret, _REDACTED)
        return text


class RedactSecrets(logging.Filter):
    """Replace any secret value that reaches a log record (message, arguments, traceback,
    stack, and the `extra=` fields a JSON log line carries)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.known = Secrets(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Redact these values too."""
        self.known.add(secrets)

    def issue(self, group: str, secrets: Iterable[str]) -> None:
        """Redact these run-time secrets too (see `Secrets`)."""
        self.known.issue(group, secrets)

    def _clean(self, text: str) -> str:
        return self.known.hide(text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.known.values:
            record.msg = self._clean(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
            elif record.exc_text:
                record.exc_text = self._clean(record.exc_text)
            if record.stack_info:
                record.stack_info = self._clean(record.stack_info)
            for key, value in list(vars(record).items()):
                if key not in _STANDARD and self._clean(text := str(value)) != text:
                    setattr(record, key, self._clean(text))
        return True


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (of 6 characters or more) replaced by `[redacted]`; for text
    that leaves the process other than as a log line (a platform's error shown in a thread)."""
    return Secrets(secrets).hide(text)


def settings_secrets(settings: Settings, *, adapter_options: Iterable[BaseModel] = ()) -> list[str]:
    """Every secret the settings hold: Slack's tokens and signing secret, each SecretStr in the
    platform adapters' parsed options (tokens, SMTP passwords, webhook secrets), the database
    password. The adapters' options are parsed by their registry (`bot.delivery.adapters`)."""
    env = settings.env
    found = [
        value.get_secret_value()
        for value in (env.slack_bot_token, env.slack_signing_secret, env.slack_app_token)
        if value is not None
    ]
    for options in adapter_options:
        found += _secret_values(options)
    # SQLAlchemy reads the URL as the engine will, quoting included. Imported here so that loading
    # the configuration (`check-config`) does not load SQLAlchemy; the app's start-up, which calls
    # this, has it loaded anyway.
    from sqlalchemy.engine import make_url

    try:
        password = make_url(env.database_url).password
    except Exception:
        password = None
    if password:
        found.append(str(password))
    return found


def _secret_values(value: Any) -> list[str]:
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, BaseModel):
        return [
            s for name in type(value).model_fields for s in _secret_values(getattr(value, name))
        ]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _secret_values(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _secret_values(item)]
    return []


def redact_also(secrets: Iterable[str]) -> None:
    """From now on, the root logger's handlers redact these values too (call it once the
    configuration is loaded: `redact_also(settings_secrets(settings))`)."""
    values = list(secrets)
    for handler in logging.getLogger().handlers:
        for item in handler.filters:
            if isinstance(item, RedactSecrets):
                item.add(values)


def redact_issued(group: str, secrets: Iterable[str]) -> None:
    """From now on, the root logger's handlers redact these run-time secrets too (see
    `RedactSecrets.issue`)."""
    values = list(secrets)
    for handler in logging.getLogger().handlers:
        for item in handler.filters:
            if isinstance(item, RedactSecrets):
                item.issue(group, values)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (`LOG_FORMAT=json`), with any `extra=` fields of the record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(env: Environment, *, extra_secrets: list[str] | None = None) -> None:
    secrets = [
        value.get_secret_value()
        for value in (env.slack_bot_token, env.slack_signing_secret, env.slack_app_token)
        if value is not None
    ]
    handler = logging.StreamHandler()
    if env.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets + (extra_secrets or [])))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(env.log_level if env.log_level in logging.getLevelNamesMapping() else "INFO")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
