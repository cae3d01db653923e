"""Logging set-up: level from LOG_LEVEL, and every secret from the environment redacted."""

from __future__ import annotations

import json
import logging

from bot.config import Environment

_REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replace any secret value that reaches a log record (message, arguments, traceback)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self._clean(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


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
