"""What the process takes from its environment: tokens, secrets, the database and the port.

The names are a contract (README, Configuration). Secrets are held as `SecretStr` and never printed.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pydantic import SecretStr

from bot.config.schema import AppConfig, ConfigError

if TYPE_CHECKING:
    from storage.db import Database

N = TypeVar("N", int, float)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/takedown.db"
DEFAULT_CONFIG_PATH = "./app.yaml"
DEFAULT_METRICS_BIND = "127.0.0.1"
DEFAULT_EVIDENCE_URL = "file://./data/evidence"


@dataclass(frozen=True)
class Environment:
    """What the process takes from its environment (names are a contract, see README)."""

    slack_bot_token: SecretStr | None
    slack_signing_secret: SecretStr | None
    slack_app_token: SecretStr | None
    slack_api_url: str
    database_url: str
    config_path: str
    port: int
    log_level: str
    log_format: str = "text"  # LOG_FORMAT: text | json
    # PostgreSQL connection pool (DATABASE_POOL_SIZE, DATABASE_MAX_OVERFLOW, DATABASE_POOL_TIMEOUT,
    # DATABASE_CONNECT_TIMEOUT); SQLite ignores them.
    pool_size: int = 20
    max_overflow: int = 20
    pool_timeout: float = 30.0
    connect_timeout: float = 10.0
    # GET /metrics: a bearer token it asks for (METRICS_TOKEN); a port of its own (METRICS_PORT),
    # on METRICS_BIND, as in Socket Mode, where nothing else listens.
    metrics_token: SecretStr | None = None
    metrics_port: int | None = None
    metrics_bind: str = DEFAULT_METRICS_BIND
    # TAKEDOWN_SECRET_KEY: Fernet keys, comma-separated; the first encrypts what the bot stores
    # (OAuth tokens), every one decrypts (a rotation).
    secret_keys: tuple[SecretStr, ...] = ()
    # EVIDENCE_URL: where captures and files are kept, content-addressed (bot.evidence.store).
    evidence_url: str = DEFAULT_EVIDENCE_URL
    # EVIDENCE_S3_ENDPOINT: the S3-compatible service of an s3:// EVIDENCE_URL, when not AWS.
    evidence_s3_endpoint: str | None = None
    # PUBLIC_URL: the bot's address as platforms reach it (https://takedown.example.com); evidence
    # download links (`GET /evidence/…`) are made from it. None: no links can be made.
    public_url: str | None = None

    def database(self) -> Database:
        """The database this environment names, with its pool settings."""
        from storage.db import Database

        return Database(
            self.database_url,
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            pool_timeout=self.pool_timeout,
            connect_timeout=self.connect_timeout,
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if environ is None else environ

        def secret(name: str) -> SecretStr | None:
            value = env.get(name, "").strip()
            return SecretStr(value) if value else None

        port = _port(env, "PORT", "3000")
        metrics_port = (
            _port(env, "METRICS_PORT", "") if env.get("METRICS_PORT", "").strip() else None
        )
        api_url = env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        return cls(
            slack_bot_token=secret("SLACK_BOT_TOKEN"),
            slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
            slack_app_token=secret("SLACK_APP_TOKEN"),
            slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            config_path=env.get("TAKEDOWN_CONFIG") or DEFAULT_CONFIG_PATH,
            port=port,
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            log_format="json" if (env.get("LOG_FORMAT") or "").lower() == "json" else "text",
            pool_size=_number(env, "DATABASE_POOL_SIZE", 20, int),
            max_overflow=_number(env, "DATABASE_MAX_OVERFLOW", 20, int),
            pool_timeout=_number(env, "DATABASE_POOL_TIMEOUT", 30.0, float),
            connect_timeout=_number(env, "DATABASE_CONNECT_TIMEOUT", 10.0, float),
            metrics_token=secret("METRICS_TOKEN"),
            metrics_port=metrics_port,
            metrics_bind=env.get("METRICS_BIND", "").strip() or DEFAULT_METRICS_BIND,
            secret_keys=_secret_keys(env.get("TAKEDOWN_SECRET_KEY", "")),
            evidence_url=env.get("EVIDENCE_URL", "").strip() or DEFAULT_EVIDENCE_URL,
            evidence_s3_endpoint=env.get("EVIDENCE_S3_ENDPOINT", "").strip() or None,
            public_url=_public_url(env.get("PUBLIC_URL", "")),
        )

    def own_secrets(self) -> list[str]:
        """The secrets only the bot reads (not Slack's): the metrics token and the secret keys."""
        found = [key.get_secret_value() for key in self.secret_keys]
        if self.metrics_token is not None:
            found.append(self.metrics_token.get_secret_value())
        return found

    def missing_for_http(self) -> list[str]:
        """The variables HTTP mode needs and does not have."""
        return [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", self.slack_bot_token),
                ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
            )
            if value is None
        ]

    def missing_for_socket_mode(self) -> list[str]:
        return [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", self.slack_bot_token),
                ("SLACK_APP_TOKEN", self.slack_app_token),
            )
            if value is None
        ]


def _public_url(text: str) -> str | None:
    text = text.strip().rstrip("/")
    if not text:
        return None
    if not text.startswith(("https://", "http://")) or "?" in text or "#" in text:
        raise ConfigError(
            [
                f"PUBLIC_URL: expected the bot's address, such as https://takedown.example.com, "
                f"got {text!r}"
            ]
        )
    return text


def _port(env: Mapping[str, str], name: str, default: str) -> int:
    text = env.get(name, "").strip() or default
    try:
        port = int(text)
    except ValueError:
        raise ConfigError([f"{name}: expected a port number, got {text!r}"]) from None
    if not 0 <= port <= 65535:
        raise ConfigError([f"{name}: expected a port number (0-65535), got {text!r}"])
    return port


def _secret_keys(text: str) -> tuple[SecretStr, ...]:
    """TAKEDOWN_SECRET_KEY's keys, each checked to be a Fernet key (32 bytes, URL-safe base64)
    without loading the cryptography library; a key is never quoted in the message."""
    keys = [key.strip() for key in text.split(",")]
    if not any(keys):
        return ()
    problems: list[str] = []
    for number, key in enumerate(keys, 1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) != 32:
            where = f"key {number} of {len(keys)}" if len(keys) > 1 else "the key"
            problems.append(
                f"TAKEDOWN_SECRET_KEY: {where} is not a Fernet key (32 bytes in URL-safe base64, "
                "44 characters); make one with `python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'`"
            )
    if problems:
        raise ConfigError(problems)
    return tuple(SecretStr(key) for key in keys)


def _number(env: Mapping[str, str], name: str, default: N, kind: Callable[[str], N]) -> N:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError([f"{name}: expected a number, got {text!r}"]) from None
    if value < 0:
        raise ConfigError([f"{name}: must not be negative, got {text!r}"])
    return value


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` needs: the team's configuration and the process environment."""

    config: AppConfig
    env: Environment
