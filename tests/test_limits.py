"""Per-channel limits from app.yaml: `max_concurrency` caps the requests one worker has in flight
to a platform; `rate_per_minute` spaces them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from conftest import TEST_CONFIG, SlackDriver, eventually
from sqlalchemy import select

from bot.config.loading import parse_config
from bot.config.schema import AppConfig
from bot.delivery.limits import ChannelLimits
from storage.models import Notice

SECRET = "webhook-secret-0123456789abcdef"


class CountingPlatform:
    """A webhook receiver that answers slowly and remembers the most requests it held at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.received = 0
        self.url = ""

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
    counting = CountingPlatform()
    app = web.Application()
    app.router.add_post("/hooks/notices", counting.notices)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    counting.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hooks"  # type: ignore[union-attr]
    yield counting
    await runner.cleanup()


@pytest.fixture
def config(platform: CountingPlatform) -> AppConfig:
    entry = (
        "  vendor:\n    adapter: webhook\n    serves: [temu]\n"
        f"    base_url: {platform.url}\n    secret: {SECRET}\n    max_concurrency: 2\n    poll_every: 1d\n"
    )
    return parse_config(TEST_CONFIG.replace("platforms:\n", "platforms:\n" + entry, 1), environ={})


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
