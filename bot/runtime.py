"""What background work needs at hand: settings, database, Slack client, HTTP session, adapters.

Built by the composition root (`bot.app.create_app`) and handed to job runners and services; no
module-level instances, so a test can run several bots side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.environment import Settings
from bot.config.logs import Secrets, redact_issued
from bot.config.schema import AppConfig
from bot.delivery.adapters.base import Adapter
from bot.delivery.limits import ChannelLimits
from bot.evidence.location import open_store
from bot.evidence.store import EvidenceStore
from bot.inflight import InFlight
from bot.intake.guard import HostPolicy
from bot.intake.shortlinks import ShortLinkPolicy
from bot.jobs.loaders import Loaders
from bot.metrics import Metrics
from bot.slack_ui.access import AccessControl
from storage.db import Database
from storage.models import utcnow


@dataclass
class Runtime:
    settings: Settings
    db: Database
    slack: AsyncWebClient
    http: aiohttp.ClientSession
    access: AccessControl
    adapters: dict[str, Adapter] = field(default_factory=dict)  # channel name → adapter instance
    clock: Callable[[], datetime] = utcnow
    wake_worker: Callable[[], None] = lambda: None
    limits: ChannelLimits | None = None
    metrics: Metrics = field(default_factory=Metrics)
    short_links: ShortLinkPolicy = field(
        default_factory=ShortLinkPolicy
    )  # which redirects to follow
    capture_hosts: HostPolicy = field(default_factory=HostPolicy)  # what evidence capture may fetch
    capture_limits: ChannelLimits | None = None  # captures' own slots, apart from deliveries'
    secrets: list[str] = field(default_factory=list)  # scrubbed from any text a platform sends back
    loads: Loaders = field(init=False)  # the worker's reads and writes, coalesced across jobs
    inflight: InFlight = field(default_factory=InFlight)  # requests Slack waits on (acks first)

    _hidden: Secrets = field(init=False)  # `secrets`, and the ones obtained at run time
    _evidence: EvidenceStore | None = field(default=None, init=False)

    @property
    def evidence(self) -> EvidenceStore:
        """The evidence store `EVIDENCE_URL` names, opened on first use."""
        if self._evidence is None:
            env = self.settings.env
            self._evidence = open_store(env.evidence_url, s3_endpoint=env.evidence_s3_endpoint)
        return self._evidence

    def reveal(self, group: str, values: list[str]) -> None:
        """Secrets obtained at run time (a grant's OAuth tokens): scrubbed from what platforms
        send back and redacted from logs like the configured ones."""
        self._hidden.issue(group, values)
        redact_issued(group, values)

    def scrub(self, text: str) -> str:
        """A platform's or library's message, safe to show and store (no secret of ours in it)."""
        return self._hidden.hide(text)

    def __post_init__(self) -> None:
        self._hidden = Secrets(self.secrets)
        if self.limits is None:
            self.limits = ChannelLimits(self.settings.config)
        if self.capture_limits is None:
            self.capture_limits = ChannelLimits(self.settings.config)
        self.loads = Loaders(self.db)

    @property
    def config(self) -> AppConfig:
        return self.settings.config
