"""The team's configuration: app.yaml plus the environment, as typed settings.

`load_config` reads app.yaml, replaces every `${VAR}` with the environment's value, and validates
the result. Every problem is reported at once, each naming its key path
(`platforms.ebay.poll_every: …`), so a person fixes the file in one pass. Secrets stay in the
environment: app.yaml names them, the loaded settings hold them, nothing prints them.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

if TYPE_CHECKING:
    pass

N = TypeVar("N", int, float)


INFRINGEMENT_TYPES: dict[str, str] = {
    "counterfeit": "Counterfeit goods",
    "trademark": "Trademark infringement",
    "copyright": "Copyright infringement",
    "design": "Design right infringement",
    "patent": "Patent infringement",
}
RIGHT_KINDS = ("trademark", "copyright", "design", "patent")
# The kind of right each infringement type rests on: a counterfeit is a fake of a trademarked good.
RIGHT_KIND_FOR: dict[str, str] = {
    "counterfeit": "trademark",
    "trademark": "trademark",
    "copyright": "copyright",
    "design": "design",
    "patent": "patent",
}

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
    """Who may do what (`bot.slack_ui.access`). An empty list lets everyone in; `viewers` left out
    means the reporters and the approvers."""

    reporters: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)
    viewers: list[str] | None = None

    @field_validator("reporters", "approvers", "viewers")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if not _SLACK_ID.match(item):
                raise ValueError(f"{item!r} is not a Slack user id (U…/W…) or user group id (S…)")
        return value


class LimitsConfig(_Strict):
    """Per-person abuse limits: reports filed per hour (counted in the database, so across every
    process) and slash commands per minute (counted by each process)."""

    reports_per_hour: int = Field(default=60, ge=1, le=100_000)
    commands_per_minute: int = Field(default=30, ge=1, le=100_000)


class EvidenceConfig(_Strict):
    """`evidence:`: what the bot captures and keeps as proof (README "Evidence")."""

    capture: bool = True  # false: no listing page is captured (whatever platforms' capture: says)
    screenshot: bool = False  # a headless Chromium's full-page PNG and PDF of each listing
    keep_days: int | None = Field(default=None, ge=1)  # None: kept as long as the case
    file_max_mb: float = Field(default=20, gt=0, le=1024)  # a file a person adds
    case_max_mb: float = Field(default=100, gt=0, le=10240)  # all files a case holds
    attach_max_mb: float = Field(default=10, gt=0, le=100)  # attached to an emailed notice
    link_days: int = Field(default=30, ge=1, le=365)  # how long an evidence download link works
    # How long after a case is opened its notices wait for its captures and the report form's
    # files before they are sent without what is not kept yet; 0s: they never wait.
    wait_for_capture: timedelta = timedelta(minutes=2)

    @field_validator("wait_for_capture", mode="before")
    @classmethod
    def _wait(cls, value: Any) -> timedelta:
        if value in (0, "0", "0s"):
            return timedelta(0)
        wait = parse_duration(value)
        if wait > timedelta(hours=1):
            raise ValueError("at most 1h: a notice waits for its evidence briefly")
        return wait


class DeliveryConfig(_Strict):
    """Durable retry schedule across job runs; the last step is followed by the dead-letter."""

    backoff: list[timedelta] = Field(
        default_factory=lambda: [parse_duration(v) for v in ("1m", "5m", "30m", "2h", "6h", "24h")]
    )
    lease: timedelta = timedelta(minutes=5)
    concurrency: int = Field(default=64, ge=1, le=1000)  # jobs one worker process runs at once
    # How long finished delivery and message jobs are kept before the hourly sweep deletes them.
    keep_done_jobs: timedelta = timedelta(days=30)
    # The longest wait a platform's or Slack's Retry-After may ask for; a longer one (or `inf`, or a
    # date in 9999) is cut to this, so no answer can park a job for ever.
    max_retry_after: timedelta = timedelta(hours=1)

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

    @field_validator("max_retry_after", mode="before")
    @classmethod
    def _max_retry_after(cls, value: Any) -> timedelta:
        wait = parse_duration(value)
        if wait > timedelta(days=1):
            raise ValueError(
                f"expected at most 1d (a longer wait leaves notices unsent), got {value!r}"
            )
        return wait


class PlatformConfig(BaseModel):
    """One channel entry of `platforms:`. Adapter-specific keys are validated by the adapter."""

    model_config = ConfigDict(extra="allow", frozen=True)

    adapter: str = "portal"
    serves: list[str] = Field(default_factory=list)
    sla_days: int = Field(default=7, ge=1, le=365)
    poll_every: timedelta = timedelta(hours=6)
    max_concurrency: int = Field(default=4, ge=1, le=100)
    rate_per_minute: int | None = Field(default=None, ge=1)
    capture: bool = True  # capture each listing's page at report time (evidence)

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


class MailboxConfig(_Strict):
    """The team's mailbox, where platforms answer (`bot.mailbox`): an IMAP account read every
    `every`. TLS from the first byte (`tls`, port 993) or STARTTLS (port 143); certificates are
    verified, against `ca_file` when given, else the system's trust store."""

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls"] = "tls"
    user: str = Field(min_length=1)
    password: str = Field(min_length=1)
    folder: str = Field(default="INBOX", min_length=1)
    move_to: str | None = Field(default=None, min_length=1)
    every: timedelta = timedelta(minutes=5)
    ca_file: str | None = None
    auto_apply: bool = False

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: Any) -> timedelta:
        every = parse_duration(value)
        if every < timedelta(minutes=1) or every > timedelta(days=1):
            raise ValueError(f"expected between 1m and 1d, got {value!r}")
        return every

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value is not None and not os.path.isfile(value):
            raise ValueError(f"{value!r} is not a readable file of CA certificates (PEM)")
        return value

    @property
    def imap_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


class AppConfig(_Strict):
    team: TeamConfig = Field(default_factory=TeamConfig)
    rights_holder: RightsHolder
    brands: list[Brand] = Field(min_length=1)
    platforms: dict[str, PlatformConfig] = Field(default_factory=dict)
    access: AccessConfig = Field(default_factory=AccessConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    mailbox: MailboxConfig | None = None

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

    def captures(self, platform: str) -> bool:
        """Whether listings on `platform` are captured as evidence at report time."""
        return self.evidence.capture and self.channel_for(platform)[1].capture

    def sla_days(self, platform: str) -> int:
        return self.channel_for(platform)[1].sla_days


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
