"""What the process takes from its environment: tokens, secrets, the database and the port.

The names are a contract (README, Configuration). Secrets are held as `SecretStr` and never printed.
"""

from __future__ import annotations

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

        port_text = env.get("PORT", "3000")
        try:
            port = int(port_text)
        except ValueError:
            raise ConfigError([f"PORT: expected a port number, got {port_text!r}"]) from None
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
        )

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
