"""Benchmark 1: acknowledgement latency of `/report-listing` under 100 concurrent signed requests,
against a bare Bolt AsyncApp that only acks, both on this machine in the same run.

    .venv/bin/python -m bench.ack [--requests 100] [--rounds 5]

Each server runs in its own process on loopback (so the load generator does not share its event
loop); the bot has its database, worker and a fake Slack Web API like in production. Prints p50,
p99 and the ratio. Target: p99 ≤ 1.5x the bare app and ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bench._common import free_port, machine, percentile, sign

SECRET = "bench-signing-secret"


async def _serve_slack(port: int) -> None:
    """The fake Slack Web API, in a process of its own so its work is nobody's latency."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from aiohttp import web
    from fakes.slack import FakeSlack

    slack = FakeSlack()
    app = web.Application()
    app.router.add_post("/api/{method}", slack._api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def _serve_bare(port: int, slack_url: str) -> None:
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    # Bolt checks its token with auth.test on the first request: give it the same fake Slack.
    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-bench", base_url=slack_url), signing_secret=SECRET
    )

    @app.command("/report-listing")
    async def ack_only(ack):  # type: ignore[no-untyped-def]
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def _serve_bot(port: int, slack_url: str, workdir: str) -> None:
    from aiohttp import web

    from bot.app import create_app, settle_heap
    from bot.config.environment import Environment, Settings
    from bot.config.loading import load_config
    from storage.db import Database

    env = Environment.from_environ(
        {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/bench.db",
        }
    )
    db = Database(env.database_url)
    await db.migrate()
    bot = create_app(Settings(config=load_config("app.yaml"), env=env), db=db)
    runner = web.AppRunner(bot.web_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    settle_heap()  # as `takedown-bot serve` does once it listens
    await asyncio.Event().wait()


async def _round(url: str, requests: int) -> list[float]:
    body = urlencode(
        {
            "command": "/report-listing",
            "text": "https://www.ebay.com/itm/123456789012",
            "user_id": "U0BENCH",
            "channel_id": "C0BENCH",
            "team_id": "T1",
            "trigger_id": "t",
            "response_url": "http://127.0.0.1:9/unused",
        }
    )

    async def one(http: aiohttp.ClientSession) -> float:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, SECRET)}
        started = time.perf_counter()
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            assert response.status == 200, response.status
        return (time.perf_counter() - started) * 1000

    connector = aiohttp.TCPConnector(limit=requests)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(one(http) for _ in range(10)))  # warm up
        return list(await asyncio.gather(*(one(http) for _ in range(requests))))


async def _wait_up(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", choices=["bare", "bot", "slack"])
    parser.add_argument("--slack-url")
    parser.add_argument("--port", type=int)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.serve == "slack":
        await _serve_slack(args.port)
        return
    if args.serve == "bare":
        await _serve_bare(args.port, args.slack_url)
        return
    if args.serve == "bot":
        await _serve_bot(args.port, args.slack_url, args.workdir)
        return

    results: dict[str, list[float]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    slack_port = free_port()
    slack = subprocess.Popen(
        [sys.executable, "-m", "bench.ack", "--serve", "slack", "--port", str(slack_port)], env=env
    )
    slack_url = f"http://127.0.0.1:{slack_port}/api/"
    await _wait_up(slack_port)
    with tempfile.TemporaryDirectory() as workdir:
        for kind in ("bare", "bot"):
            port = free_port()
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.ack",
                    "--serve",
                    kind,
                    "--port",
                    str(port),
                    "--slack-url",
                    slack_url,
                    "--workdir",
                    workdir,
                ],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            try:
                await _wait_up(port)
                timings: list[float] = []
                for _ in range(args.rounds):
                    timings += await _round(f"http://127.0.0.1:{port}/slack/events", args.requests)
                    await asyncio.sleep(1)  # bursts apart: each round meets a server at rest
                results[kind] = timings
            finally:
                server.terminate()
                server.wait(10)
    slack.terminate()
    slack.wait(10)
    bare, bot = results["bare"], results["bot"]
    print(
        f"ack latency, {args.rounds} rounds of {args.requests} concurrent signed /report-listing requests"
    )
    print(f"machine: {machine()}")
    for name, values in (("bare Bolt app", bare), ("takedown-bot", bot)):
        print(
            f"  {name:14} p50 {percentile(values, 50):7.1f} ms   p99 {percentile(values, 99):7.1f} ms"
        )
    ratio = percentile(bot, 99) / percentile(bare, 99)
    print(f"  p99 ratio {ratio:.2f}x (target ≤ 1.5x and ≤ 300 ms)")


if __name__ == "__main__":
    asyncio.run(main())
