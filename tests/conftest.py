"""Shared fixtures: databases (SQLite file and real PostgreSQL), the configuration
(tests/app_yaml.py builds it), an HTTP client session, the fake Slack and platform servers
(tests/fakes/), and the bot itself behind its real HTTP endpoint, driven with signed Slack requests.

Every test that takes `db` (or `bot`) runs twice: on a SQLite file and on PostgreSQL. Without a
reachable PostgreSQL the PostgreSQL half is skipped with the reason, unless
TAKEDOWN_REQUIRE_POSTGRES=1 (as `.ci/run` sets), where it fails instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from app_yaml import build_config
from fakes.slack import FakeSlack
from sqlalchemy import text

from bot.app import TakedownBot, create_app
from bot.config.environment import Environment, Settings
from bot.config.schema import AppConfig
from bot.desk.seal import sealed_metadata
from storage.db import Database

for _name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):  # would switch Bolt to OAuth mode
    os.environ.pop(_name, None)

SIGNING_SECRET = "test-signing-secret-5f2c"
BOT_TOKEN = "xoxb-test-token-1234567890"
PG_ADMIN_URL = os.environ.get(
    "TAKEDOWN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("TAKEDOWN_REQUIRE_POSTGRES") == "1"
TABLES = ("events", "listings", "notices", "jobs", "cases", "oauth_tokens", "mailbox_cursors")


# -- databases ------------------------------------------------------------------------------------


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=5
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _postgres_reason() -> str | None:
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as exc:
        return f"no PostgreSQL at {PG_ADMIN_URL}: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "takedown.db"

    async def build() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        await db.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    reason = _postgres_reason()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason + " (TAKEDOWN_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"takedown_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"

    async def build() -> None:
        db = Database(url)
        await db.migrate()
        await db.dispose()

    asyncio.run(build())
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "takedown.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    if database.is_postgres:
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


# -- configuration --------------------------------------------------------------------------------


@pytest.fixture
def config() -> AppConfig:
    """The bot's configuration (tests/app_yaml.py); a test module overrides it to change it."""
    return build_config()


# -- HTTP -----------------------------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, as the bot hands its adapters and short-link resolver."""
    async with aiohttp.ClientSession() as session:
        yield session


# -- fake platforms (shared by the delivery, worker-process and chaos tests) ---------------------

EBAY_TOKEN = "ebay-user-token-abcdef"
MELI_TOKEN = "meli-token-123456"
HOOK_SECRET = "webhook-secret-0123456789abcdef"


@pytest.fixture
async def ebay() -> AsyncIterator[Any]:
    from fakes.ebay import FakeEbayVero

    async with FakeEbayVero(token=EBAY_TOKEN) as fake:
        yield fake


@pytest.fixture
async def meli() -> AsyncIterator[Any]:
    from fakes.mercadolibre import FakeMercadoLibre

    async with FakeMercadoLibre(token=MELI_TOKEN) as fake:
        yield fake


@pytest.fixture
async def hook() -> AsyncIterator[Any]:
    from fakes.webhook import FakeWebhookReceiver

    async with FakeWebhookReceiver(secret=HOOK_SECRET) as fake:
        yield fake


# -- Slack ----------------------------------------------------------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def sign(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's request signature headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


_ids = itertools.count(1)


@dataclass
class SlackDriver:
    """Sends signed requests to the bot's real `POST /slack/events`, as Slack would."""

    http: aiohttp.ClientSession
    url: str
    slack: FakeSlack
    bot: TakedownBot

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        all_headers = {"Content-Type": content_type, **sign(body), **(headers or {})}
        response = await self.http.post(
            f"{self.url}/slack/events", data=body.encode(), headers=all_headers
        )
        await response.read()
        return response

    def sealed(self, callback_id: str, **facts: Any) -> str:
        """A form's private_metadata as the bot seals it when it opens the form (`user` opened
        it): for a submission sent without opening the form first."""
        return sealed_metadata(self.bot.runtime, callback_id, facts)

    async def command(
        self, text: str = "", *, user: str = "U0REPORTER", channel: str = "C0TEAM"
    ) -> aiohttp.ClientResponse:
        form = {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "brand",
            "user_id": user,
            "user_name": "reporter",
            "command": "/report-listing",
            "text": text,
            "api_app_id": "A1",
            "response_url": self.slack.response_url(str(next(_ids))),
            "trigger_id": f"trigger-{next(_ids)}",
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def interact(
        self, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded", headers)

    async def submit_report(
        self,
        *,
        urls: str,
        brand: str = "Acme",
        right: str = "acme-eu-tm",
        type: str = "counterfeit",
        description: str = "Fake ACME backpacks sold with our logo and catalogue photos.",
        evidence: str = "",
        seller: str = "",
        user: str = "U0REPORTER",
        view_id: str | None = None,
        channel: str = "C0TEAM",
        headers: dict[str, str] | None = None,
        metadata: str | None = None,
        skip_invalid: bool = False,
    ) -> tuple[aiohttp.ClientResponse, dict[str, Any]]:
        """Submit the report form as Slack would; returns the response and its JSON (or {}).
        `metadata`: the form's private_metadata as the bot set it (by default, a form opened in
        `channel` by `user`); `skip_invalid`: "Skip the lines that cannot be filed" ticked."""

        def select(value: str) -> dict[str, Any]:
            option = (
                {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
            )
            return {"type": "static_select", "selected_option": option}

        def typed(value: str) -> dict[str, Any]:
            return {"type": "plain_text_input", "value": value or None}

        values = {
            "urls": {"urls": typed(urls)},
            "brand": {"brand": select(brand)},
            "right": {"right": select(right)},
            "type": {"type": select(type)},
            "description": {"description": typed(description)},
            "evidence": {"evidence": typed(evidence)},
            "seller": {"seller": typed(seller)},
            "skip_invalid": {
                "skip_invalid": {
                    "type": "checkboxes",
                    "selected_options": [{"value": "skip"}] if skip_invalid else [],
                }
            },
        }
        payload = {
            "type": "view_submission",
            "team": {"id": "T1", "domain": "acme"},
            "user": {"id": user, "name": "reporter"},
            "api_app_id": "A1",
            "trigger_id": f"trigger-{next(_ids)}",
            "view": {
                "id": view_id or f"V{next(_ids)}",
                "type": "modal",
                "callback_id": "report_listing",
                "private_metadata": self.sealed(
                    "report_listing", user=user, channel=channel, private=False
                )
                if metadata is None
                else metadata,
                "state": {"values": values},
                "hash": "h",
            },
        }
        response = await self.interact(payload, headers)
        text_body = await response.text()
        return response, (json.loads(text_body) if text_body.startswith("{") else {})


@pytest.fixture
def settings_for(slack: FakeSlack, config: AppConfig, database_url: str) -> Any:
    def build(**env: str) -> Settings:
        environ = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": database_url,
            **env,
        }
        return Settings(config=config, env=Environment.from_environ(environ))

    return build


@pytest.fixture
async def bot(settings_for: Any, db: Database, slack: FakeSlack) -> AsyncIterator[SlackDriver]:
    app = create_app(settings_for(), db=db, worker_poll_interval=0.05)
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield SlackDriver(http=http, url=str(server.make_url("")).rstrip("/"), slack=slack, bot=app)
    await server.close()


async def eventually(check: Any, *, timeout: float = 10.0, interval: float = 0.03) -> Any:
    """Await `check()` until it returns something truthy (background jobs), or fail."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def press(
    action_id: str,
    value: str,
    *,
    user: str = "U0REPORTER",
    channel: str = "C0REPORTS",
    thread_ts: str = "1.1",
    response_url: str = "http://127.0.0.1:9/unused",
) -> dict[str, Any]:
    """A block_actions payload: `user` pressed the button `action_id` with `value`."""
    return {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "trigger_id": f"trigger-{next(_ids)}",
        "channel": {"id": channel},
        "container": {"type": "message", "channel_id": channel, "message_ts": "2.2"},
        "message": {"ts": "2.2", "thread_ts": thread_ts, "text": ""},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"b{next(_ids)}",
                "value": value,
                "action_ts": "1",
            }
        ],
        "response_url": response_url,
    }


def view_submission(
    callback_id: str, metadata: str, values: dict[str, Any], *, user: str = "U0REPORTER"
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "trigger_id": f"trigger-{next(_ids)}",
        "view": {
            "id": f"V{next(_ids)}",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": metadata,
            "state": {"values": values},
            "hash": "h",
        },
    }
