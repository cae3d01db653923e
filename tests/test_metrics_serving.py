"""Where `/metrics` is served: beside Slack's events on $PORT, on a port of its own bound to
METRICS_BIND (loopback by default), and in Socket Mode, where the HTTP port serves only `/healthz`
and `/metrics`. The bot listens as `serve` makes it (`TakedownBot.listen`), on ports the system
picks; "another interface" is another loopback address (127.0.0.2), which a socket bound to
127.0.0.1 does not answer and one bound to every interface does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import EVERYWHERE, TakedownBot, create_app
from storage.db import Database

Started = Callable[..., Any]


@pytest.fixture
async def started(settings_for: Any, db: Database) -> AsyncIterator[Started]:
    """Start a bot with these environment variables; each listener as (host, port)."""
    opened: list[list[web.AppRunner]] = []

    async def start(*, socket_mode: bool = False, **env: str) -> list[tuple[str, int]]:
        bot: TakedownBot = create_app(settings_for(PORT="0", **env), db=db, run_worker=False)
        runners = await bot.listen(socket_mode=socket_mode)
        opened.append(runners)
        return [(host, port) for runner in runners for host, port, *_ in runner.addresses]

    yield start
    for runners in opened:
        for runner in reversed(runners):
            await runner.cleanup()


async def _status(method: str, url: str) -> int | None:
    """The answer's status, or None when nothing listens there."""
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, url, timeout=aiohttp.ClientTimeout(total=5)) as response,
        ):
            return response.status
    except aiohttp.ClientConnectorError:
        return None


async def test_metrics_share_slacks_port_unless_given_one_of_their_own(started: Started) -> None:
    [(host, port)] = await started()

    assert host == EVERYWHERE
    assert await _status("GET", f"http://127.0.0.1:{port}/metrics") == 200
    assert await _status("GET", f"http://127.0.0.2:{port}/healthz") == 200


async def test_metrics_port_listens_on_loopback_only_by_default(started: Started) -> None:
    [(_, port), (metrics_host, metrics_port)] = await started(METRICS_PORT="0")

    assert metrics_host == "127.0.0.1"
    assert await _status("GET", f"http://127.0.0.1:{metrics_port}/metrics") == 200
    assert await _status("GET", f"http://127.0.0.2:{metrics_port}/metrics") is None
    assert await _status("GET", f"http://127.0.0.1:{port}/metrics") == 404  # not on Slack's port
    assert await _status("GET", f"http://127.0.0.2:{port}/healthz") == 200


async def test_metrics_bind_chooses_the_address(started: Started) -> None:
    [_, (metrics_host, metrics_port)] = await started(METRICS_PORT="0", METRICS_BIND="127.0.0.3")

    assert metrics_host == "127.0.0.3"
    assert await _status("GET", f"http://127.0.0.3:{metrics_port}/metrics") == 200
    assert await _status("GET", f"http://127.0.0.1:{metrics_port}/metrics") is None


async def test_socket_mode_serves_only_healthz_and_metrics_on_loopback(started: Started) -> None:
    [(host, port)] = await started(socket_mode=True)

    assert host == "127.0.0.1"
    assert await _status("GET", f"http://127.0.0.1:{port}/healthz") == 200
    assert await _status("GET", f"http://127.0.0.1:{port}/metrics") == 200
    assert await _status("POST", f"http://127.0.0.1:{port}/slack/events") == 404
    assert await _status("GET", f"http://127.0.0.2:{port}/healthz") is None
