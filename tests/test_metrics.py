"""`GET /metrics`: Prometheus text with jobs, submissions, decisions and acknowledgement latency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from conftest import SlackDriver, eventually

from bot.app import create_app
from storage.db import Database

METRICS_TOKEN = "metrics-scrape-token-4f1e9c"

WANTED = (
    'takedown_submissions_total{outcome="awaiting_person",platform="taobao"} 1.0',
    'takedown_jobs{kind="submit",state="done"} 1.0',
    'takedown_job_runs_total{kind="notify",outcome="done"}',
    'takedown_ack_seconds_count{kind="command"} 1.0',
    'takedown_ack_seconds_count{kind="view_submission"} 1.0',
    "takedown_queue_age_seconds",
)


async def test_metrics_report_jobs_submissions_and_ack_latency(bot: SlackDriver) -> None:
    await bot.submit_report(urls="https://item.taobao.com/item.htm?id=612345678901")
    await bot.command("help")
    missing: list[str] = []

    async def scraped() -> bool:
        response = await bot.http.get(f"{bot.url}/metrics")
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
        missing[:] = [line for line in WANTED if line not in text]
        return not missing

    await eventually(scraped)
    assert missing == []


# --- what strangers can do to /metrics ----------------------------------------------------------


async def _scrape(bot: SlackDriver, headers: dict[str, str] | None = None) -> tuple[int, str]:
    response = await bot.http.get(f"{bot.url}/metrics", headers=headers or {})
    return response.status, await response.text()


async def test_unsigned_requests_do_not_grow_the_metrics(quiet: SlackDriver) -> None:
    """Each unsigned request names a kind of its own; they all count as `rejected`."""
    bot = quiet
    status, before = await _scrape(bot)
    assert status == 200
    statuses: list[int] = []
    for start in range(0, 2000, 50):  # 50 at a time, 2,000 in all
        batch = [
            bot.http.post(
                f"{bot.url}/slack/events",
                data=json.dumps({"type": f"kind-{n}-{'x' * (n % 40)}", "n": n}),
                headers={"Content-Type": "application/json"},
            )
            for n in range(start, start + 50)
        ]
        for response in await asyncio.gather(*batch):
            statuses.append(response.status)
            response.release()
    assert set(statuses) == {401}

    status, after = await _scrape(bot)
    assert status == 200
    assert abs(len(after.splitlines()) - len(before.splitlines())) <= 5
    assert "kind-" not in after
    assert 'takedown_ack_seconds_count{kind="rejected"} 2000.0' in after


async def test_a_signed_request_of_an_unknown_type_counts_as_other(bot: SlackDriver) -> None:
    response = await bot.post(json.dumps({"type": "made_up_type"}), "application/json")
    assert response.status < 500

    _, text = await _scrape(bot)
    assert "made_up_type" not in text
    assert 'takedown_ack_seconds_count{kind="other"} 1.0' in text


@pytest.fixture
async def serve_with(settings_for: Any, db: Database) -> AsyncIterator[Any]:
    """Serve a bot with these environment variables and no worker: /metrics then changes only
    with the requests a test makes."""
    servers: list[TestServer] = []
    async with aiohttp.ClientSession() as http:

        async def serve(**env: str) -> SlackDriver:
            app = create_app(settings_for(**env), db=db, run_worker=False)
            server = TestServer(app.web_app(), host="127.0.0.1")
            await server.start_server()
            servers.append(server)
            url = str(server.make_url("")).rstrip("/")
            return SlackDriver(http=http, url=url, slack=None, bot=app)  # type: ignore[arg-type]

        yield serve
        for server in servers:
            await server.close()


@pytest.fixture
async def quiet(serve_with: Any) -> SlackDriver:
    driver: SlackDriver = await serve_with()
    return driver


@pytest.fixture
async def guarded(serve_with: Any) -> SlackDriver:
    driver: SlackDriver = await serve_with(METRICS_TOKEN=METRICS_TOKEN)
    return driver


async def test_metrics_without_its_token_answers_401(guarded: SlackDriver) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": METRICS_TOKEN}):
        status, text = await _scrape(guarded, headers)
        assert status == 401, headers
        assert "takedown_" not in text

    status, text = await _scrape(guarded, {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200
    assert "takedown_jobs" in text or "takedown_queue_age_seconds" in text


async def test_healthz_needs_no_metrics_token(guarded: SlackDriver) -> None:
    response = await guarded.http.get(f"{guarded.url}/healthz")
    assert response.status == 200


async def test_the_metrics_token_is_redacted_like_every_other_secret(guarded: SlackDriver) -> None:
    assert guarded.bot.runtime.scrub(f"scraped with {METRICS_TOKEN}") == "scraped with [redacted]"
