"""Per-channel limits from app.yaml: `max_concurrency` caps the requests one worker has in flight
to a platform; `rate_per_minute` spaces them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from app_yaml import build_config
from conftest import SlackDriver, eventually
from fakes.server import FakeServer
from sqlalchemy import select

from bot.config.schema import AppConfig
from bot.delivery.limits import ChannelLimits
from storage.models import Notice

SECRET = "webhook-secret-0123456789abcdef"


class CountingPlatform(FakeServer):
    """A webhook receiver that answers slowly and remembers the most requests it held at once."""

    access_log = False

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0
        self.received = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}/hooks"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/hooks/notices", self.notices)

    async def notices(self, request: web.Request) -> web.Response:
        await request.read()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.2)
        finally:
            self.in_flight -= 1
        self.received += 1
        return web.json_response({"reference": request.headers["Idempotency-Key"]}, status=201)


@pytest.fixture
async def platform() -> AsyncIterator[CountingPlatform]:
    async with CountingPlatform() as counting:
        yield counting


@pytest.fixture
def config(platform: CountingPlatform) -> AppConfig:
    vendor = {
        "adapter": "webhook",
        "serves": ["temu"],
        "base_url": platform.base_url,
        "secret": SECRET,
        "max_concurrency": 2,
        "poll_every": "1d",
    }
    return build_config(platforms={"vendor": vendor})


async def test_max_concurrency_caps_requests_in_flight_to_a_platform(
    bot: SlackDriver, platform: CountingPlatform
) -> None:
    for n in range(8):
        _, body = await bot.submit_report(
            urls=f"https://www.temu.com/acme-g-{601000000000000 + n}.html"
        )
        assert body["response_action"] == "update"

    async def all_sent() -> bool:
        async with bot.bot.db.sessions() as session:
            notices = (await session.execute(select(Notice))).scalars().all()
        return len(notices) == 8 and all(n.status == "sent" for n in notices)

    await eventually(all_sent, timeout=20)
    assert platform.received == 8
    assert platform.peak == 2


async def test_rate_per_minute_spaces_calls_after_the_burst(config: AppConfig) -> None:
    limited = config.model_copy(
        update={
            "platforms": {
                "vendor": config.platforms["vendor"].model_copy(update={"rate_per_minute": 60})
            }
        }
    )
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # a clock that moves only when the limiter waits
        waits.append(seconds)
        now[0] += seconds

    limits = ChannelLimits(limited, clock=lambda: now[0], sleep=sleep)
    for _ in range(60):  # the burst: a minute's allowance at once, no waiting
        async with limits.slot("vendor"):
            pass
    assert waits == []
    for _ in range(3):  # then one call a second
        async with limits.slot("vendor"):
            pass
    assert waits == pytest.approx([1.0, 1.0, 1.0])
    async with limits.slot("other"):  # a channel without limits never waits
        pass
    assert len(waits) == 3
