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

from bot.access import AccessControl
from bot.adapters.base import Adapter
from bot.config import AppConfig, Settings
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

    @property
    def config(self) -> AppConfig:
        return self.settings.config
