"""The team's configuration: app.yaml plus the environment, as typed settings.

`load_config` reads app.yaml, replaces every `${VAR}` with the environment's value, and validates
the result. Every problem is reported at once, each naming its key path
(`platforms.ebay.poll_every: …`), so a person fixes the file in one pass. Secrets stay in the
environment: app.yaml names them, the loaded settings hold them, nothing prints them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from bot.listings import PLATFORMS

if TYPE_CHECKING:
    from storage.db import Database

N = TypeVar("N", int, float)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/takedown.db"
DEFAULT_CONFIG_PATH = "./app.yaml"

INFRINGEMENT_TYPES: dict[str, str] = {
    "counterfeit": "Counterfeit goods",
    "trademark": "Trademark infringement",
    "copyright": "Copyright infringement",
    "design": "Design right infringement",
    "patent": "Patent infringement",
}
RIGHT_KINDS = ("trademark", "copyright", "design", "patent")

_SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The configuration cannot be used; `errors` holds one line per problem, each with its key path."""

    def __init__(self, errors: list[str], *, source: str = "") -> None:
        self.errors = errors
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{len(errors)} configuration error(s):\n  " + "\n  ".join(errors))


def parse_duration(value: Any) -> timedelta:
    """`90s`, `30m`, `6h`, `7d`, `1w` (or a number of seconds) → timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        amount, unit = int(match.group(1)), match.group(2)
        if amount > 0:
            return timedelta(seconds=amount * _DURATION_UNITS[unit])
    raise ValueError(f"expected a duration such as 90s, 30m, 6h or 7d, got {value!r}")


def format_duration(value: timedelta) -> str:
    """The inverse of `parse_duration`, in the largest unit that divides the duration exactly."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DigestConfig(_Strict):
    schedule: str = "0 9 * * MON"
    channels: list[str] = Field(default_factory=list)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("expected a 5-field cron expression such as '0 9 * * MON'")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        return [_check_channel(item) for item in value]


class TeamConfig(_Strict):
    timezone: str = "UTC"
    report_channel: str | None = None
    escalation_channel: str | None = None
    digest: DigestConfig = Field(default_factory=DigestConfig)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            ) from None
        return value

    @field_validator("report_channel", "escalation_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return None if value is None else _check_channel(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class RightsHolder(_Strict):
    name: str = Field(min_length=1)
    email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    address: str | None = None
    phone: str | None = None
    signatory: str | None = None
    agent: str | None = None


class Right(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: Literal["trademark", "copyright", "design", "patent"]
    mark: str | None = None
    number: str | None = None
    office: str | None = None
    classes: list[int] = Field(default_factory=list)
    jurisdiction: str | None = None
    work: str | None = None
    url: str | None = None
    owner: str | None = None

    def label(self) -> str:
        """How the modal and messages name the right: `acme-eu-tm (trademark EUIPO 018123456)`."""
        parts: list[str] = [self.kind]
        if self.office:
            parts.append(self.office)
        if self.number:
            parts.append(self.number)
        elif self.work:
            parts.append(self.work)
        return f"{self.id} ({' '.join(parts)})"


class Brand(_Strict):
    name: str = Field(min_length=1, max_length=75)
    rights: list[Right] = Field(min_length=1)


class AccessConfig(_Strict):
    reporters: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)

    @field_validator("reporters", "approvers")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _SLACK_ID.match(item):
                raise ValueError(f"{item!r} is not a Slack user id (U…/W…) or user group id (S…)")
        return value


class DeliveryConfig(_Strict):
    """Durable retry schedule across job runs; the last step is followed by the dead-letter."""

    backoff: list[timedelta] = Field(
        default_factory=lambda: [parse_duration(v) for v in ("1m", "5m", "30m", "2h", "6h", "24h")]
    )
    lease: timedelta = timedelta(minutes=5)
    concurrency: int = Field(default=64, ge=1, le=1000)  # jobs one worker process runs at once
    # How long finished delivery and message jobs are kept before the hourly sweep deletes them.
    keep_done_jobs: timedelta = timedelta(days=30)

    @field_validator("backoff", mode="before")
    @classmethod
    def _backoff(cls, value: Any) -> list[timedelta]:
        if not isinstance(value, list) or not value:
            raise ValueError("expected a non-empty list of durations such as [1m, 5m, 30m]")
        return [parse_duration(item) for item in value]

    @field_validator("lease", "keep_done_jobs", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class PlatformConfig(BaseModel):
    """One channel entry of `platforms:`. Adapter-specific keys are validated by the adapter."""

    model_config = ConfigDict(extra="allow", frozen=True)

    adapter: str = "portal"
    serves: list[str] = Field(default_factory=list)
    sla_days: int = Field(default=7, ge=1, le=365)
    poll_every: timedelta = timedelta(hours=6)
    max_concurrency: int = Field(default=4, ge=1, le=100)
    rate_per_minute: int | None = Field(default=None, ge=1)

    @field_validator("serves", mode="before")
    @classmethod
    def _serves(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value  # pydantic reports the wrong type
        return [_platform_id(item) or item for item in value]

    @field_validator("poll_every", mode="before")
    @classmethod
    def _poll_every(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @property
    def options(self) -> dict[str, Any]:
        """The adapter-specific keys (everything but the common ones above)."""
        return dict(self.model_extra or {})


class AppConfig(_Strict):
    team: TeamConfig = Field(default_factory=TeamConfig)
    rights_holder: RightsHolder
    brands: list[Brand] = Field(min_length=1)
    platforms: dict[str, PlatformConfig] = Field(default_factory=dict)
    access: AccessConfig = Field(default_factory=AccessConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)

    @field_validator("brands")
    @classmethod
    def _unique_rights(cls, brands: list[Brand]) -> list[Brand]:
        seen: set[str] = set()
        for brand in brands:
            for right in brand.rights:
                if right.id in seen:
                    raise ValueError(f"right id {right.id!r} is used twice; ids must be unique")
                seen.add(right.id)
        return brands

    def brand(self, name: str) -> Brand | None:
        return next((b for b in self.brands if b.name == name), None)

    def right(self, right_id: str) -> tuple[Brand, Right] | None:
        for brand in self.brands:
            for right in brand.rights:
                if right.id == right_id:
                    return brand, right
        return None

    def channel_for(self, platform: str) -> tuple[str, PlatformConfig]:
        """The channel a platform's notices go to: its own entry, a custom entry serving it, or portal."""
        if platform in self.platforms:
            return platform, self.platforms[platform]
        for name, entry in self.platforms.items():
            if platform in entry.serves:
                return name, entry
        return platform, PlatformConfig()

    def sla_days(self, platform: str) -> int:
        return self.channel_for(platform)[1].sla_days


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


def _check_channel(value: str) -> str:
    if not _CHANNEL_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack channel id (C…, G…)")
    return value


def _platform_id(value: Any) -> str | None:
    """A platform id as written in YAML: a string, or a number YAML read from `1688`."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _interpolate(node: Any, path: str, environ: Mapping[str, str], errors: list[str]) -> Any:
    if isinstance(node, dict):
        # Keys become strings: YAML reads the platform id `1688:` as a number.
        return {
            str(key): _interpolate(value, _join(path, key), environ, errors)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [
            _interpolate(value, f"{path}[{i}]", environ, errors) for i, value in enumerate(node)
        ]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        if name not in environ:
            errors.append(f"{path}: environment variable {name} is not set")
            return ""
        return environ[name]

    return _ENV_REF.sub(replace, node)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, part)
    return out


MAX_VALUES = 100_000  # values in app.yaml once its aliases are expanded; a real one has hundreds


def _expansion_problem(raw: Any) -> str | None:
    """Why the parsed file cannot be a configuration, counting values as they are once YAML
    aliases (`*name`) are expanded: a few lines of aliases can stand for billions of values, and
    validating them would never end. Counted over the shared objects, so it takes linear time."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(value: Any) -> int:
        if not isinstance(value, dict | list):
            return 1
        key = id(value)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ValueError("a YAML alias refers to a value that contains it")
        open_.add(key)
        items = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
        total = 1
        for item in items:
            total += size(item)
            if total > MAX_VALUES:
                break
        open_.discard(key)
        sizes[key] = total
        return total

    try:
        total = size(raw)
    except ValueError as exc:
        return str(exc)
    if total > MAX_VALUES:
        return f"the file stands for more than {MAX_VALUES:,} values once its YAML aliases are expanded"
    return None


def parse_config(
    text: str, *, environ: Mapping[str, str] | None = None, source: str = ""
) -> AppConfig:
    """Validate app.yaml text; raises ConfigError listing every problem with its key path."""
    env = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(
            ["the file nests too deeply to be a configuration"], source=source
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}not valid YAML: {problem}"], source=source) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            ["the file must be a mapping of keys (team, rights_holder, brands, …)"], source=source
        )
    if (problem := _expansion_problem(raw)) is not None:
        raise ConfigError([problem], source=source)
    errors: list[str] = []
    data = _interpolate(raw, "", env, errors)
    # A value whose variable is unset is reported once, as that, not again as empty or mistyped.
    unset = {error.split(": ", 1)[0] for error in errors}
    problems: list[str] = []
    config: AppConfig | None = None
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            elif error["type"] == "missing":
                message = "required key is missing"
            problems.append(f"{_location(tuple(error['loc'])) or '(top level)'}: {message}")
    problems.extend(_check_platforms(data.get("platforms")))
    errors.extend(problem for problem in problems if problem.split(": ", 1)[0] not in unset)
    if errors:
        raise ConfigError(errors, source=source)
    assert config is not None
    return config


def _check_platforms(platforms: Any) -> list[str]:
    """Platform ids and each entry's adapter settings.

    Checked on the raw entries, so these problems are reported together with any other problem in
    the file; a key of the wrong type is left to the model, which reports it.
    """
    from bot.adapters import UnknownAdapterError, validate_adapter_options

    if not isinstance(platforms, dict):
        return []
    errors: list[str] = []
    known = ", ".join(PLATFORMS)
    for name, entry in platforms.items():
        if not isinstance(entry, dict):
            continue
        where = f"platforms.{name}"
        serves = entry.get("serves") or []
        if isinstance(serves, list):
            if name not in PLATFORMS and not serves:
                errors.append(
                    f"{where}: unknown platform id {name!r} (known: {known}); "
                    "a custom channel needs `serves: [platform ids]`"
                )
            for i, item in enumerate(serves):
                served = _platform_id(item)
                if served is not None and served not in PLATFORMS:
                    errors.append(
                        f"{where}.serves[{i}]: unknown platform id {served!r} (known: {known})"
                    )
        adapter = entry.get("adapter", "portal")
        if not isinstance(adapter, str):
            continue
        options = {
            key: value for key, value in entry.items() if key not in PlatformConfig.model_fields
        }
        try:
            errors.extend(validate_adapter_options(adapter, options, where=where))
        except UnknownAdapterError as exc:
            errors.append(f"{where}.adapter: {exc}")
    return errors


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> AppConfig:
    """Read and validate the app.yaml at `path`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found: {file}"], source=str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read {file}: {exc}"], source=str(file)) from None
    return parse_config(text, environ=environ, source=str(file))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The environment, and the app.yaml it points to (`TAKEDOWN_CONFIG`)."""
    env = Environment.from_environ(environ)
    return Settings(config=load_config(env.config_path, environ=environ), env=env)
