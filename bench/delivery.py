"""Benchmark 3 (and 5, its memory): submissions per second of one `takedown-bot worker` process
against a fake platform that answers after 50 ms.

    .venv/bin/python -m bench.delivery [--notices 1000] [--postgres URL]

The platform is a webhook channel (a fake receiver on loopback, 50 ms per request); the fake
Slack Web API takes the thread posts. Both run in this process; the worker runs in its own.
Prints submissions/s (steady: from the first submissions done to the last; and from the worker's
start, its imports and start-up included), the worker's CPU per submission (start-up included) and
its peak RSS. Target: ≥ 100/s per worker (serially: 20/s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select

from bench._common import machine, scratch_postgres
from bot.config.loading import parse_config
from bot.intake.cases import ReportDraft, open_case
from storage.db import Database
from storage.models import Job

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.slack import FakeSlack

LATENCY = 0.05
SECRET = "bench-webhook-secret-0123456789"


async def _platform() -> tuple[web.AppRunner, str]:
    async def notices(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(LATENCY)
        return web.json_response(
            {"reference": request.headers.get("Idempotency-Key", "r")}, status=201
        )

    app = web.Application()
    app.router.add_post("/hooks/notices", notices)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hooks"


def _config(base_url: str) -> str:
    return (
        Path("app.yaml")
        .read_text()
        .replace(
            "platforms:\n",
            "platforms:\n"
            "  vendor:\n"
            "    adapter: webhook\n"
            "    serves: [temu]\n"
            f"    base_url: {base_url}\n"
            f"    secret: {SECRET}\n"
            "    max_concurrency: 64\n"
            "    poll_every: 1d\n",
            1,
        )
        .replace("  report_channel", "  report_channel", 1)
    )


async def run(url: str, count: int, workdir: str) -> Result:
    platform, base_url = await _platform()
    slack = await FakeSlack().start()
    text = _config(base_url)
    (Path(workdir) / "app.yaml").write_text(text)
    config = parse_config(text, environ={})
    db = Database(url)
    await db.migrate()
    for n in range(count):
        await open_case(
            db,
            config=config,
            draft=ReportDraft(
                urls_text=f"https://www.temu.com/acme-g-{601000000000000 + n}.html",
                brand="Acme",
                right_id="acme-eu-tm",
                infringement="counterfeit",
                description="Counterfeit ACME backpacks sold with our registered mark.",
            ),
            reporter_id="U0BENCH",
            team_id=None,
            channel_id="C0BENCH",
            intake_key=f"bench-{n}",
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=url,
        TAKEDOWN_CONFIG=str(Path(workdir) / "app.yaml"),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    started = time.perf_counter()
    worker = subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=env)
    if os.environ.get("BENCH_PROFILE"):
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "-f",
                "raw",
                "-o",
                os.environ["BENCH_PROFILE"],
                "-p",
                str(worker.pid),
                "-d",
                os.environ.get("BENCH_PROFILE_SECONDS", "15"),
            ]
        )
    peak_kb = 0
    first: tuple[float, int] | None = None  # when the first submissions were seen done, how many
    try:
        while True:
            async with db.sessions() as session:
                left = (
                    await session.execute(
                        select(func.count())
                        .select_from(Job)
                        .where(Job.kind == "submit", Job.state != "done")
                    )
                ).scalar_one()
            peak_kb = max(peak_kb, _hwm_kb(worker.pid))
            if first is None and left < count:
                first = (time.perf_counter(), count - left)
            if left == 0:
                break
            await asyncio.sleep(0.05)
        ended = time.perf_counter()
        user, system = _cpu_seconds(worker.pid)
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 30)
        await db.dispose()
        await slack.stop()
        await platform.cleanup()
    assert first is not None
    return Result(
        rate=(count - first[1]) / (ended - first[0]),
        overall=count / (ended - started),
        rss_mb=peak_kb / 1024,
        user_ms=user / count * 1000,
        system_ms=system / count * 1000,
    )


@dataclass
class Result:
    rate: float  # submissions per second, from the first ones done to the last
    overall: float  # the same from the worker's start (its imports and start-up included)
    rss_mb: float  # the worker's peak RSS
    user_ms: float  # the worker's CPU time per submission, in the process
    system_ms: float  # and in the kernel for it (thread wake-ups, sockets)


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _figures(result: Result) -> str:
    return (
        f"{result.rate:7.1f} submissions/s per worker ({result.overall:.1f} from its start), "
        f"{result.user_ms + result.system_ms:5.1f} ms worker CPU each "
        f"({result.user_ms:.1f} user + {result.system_ms:.1f} system), "
        f"peak RSS {result.rss_mb:5.0f} MB"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--only", choices=("sqlite", "postgres"), help="measure one database (default: both)"
    )
    args = parser.parse_args()
    print(
        f"delivery: {args.notices:,} notices, platform latency {LATENCY * 1000:.0f} ms — machine: {machine()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "postgres":
            result = await run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.notices, tmp)
            print(f"  SQLite      {_figures(result)} (targets ≥ 100/s, ≤ 200 MB)")
        if args.only == "sqlite":
            return
        try:
            async with scratch_postgres(args.postgres) as url:
                result = await run(url, args.notices, tmp)
            print(f"  PostgreSQL  {_figures(result)}")
        except OSError as exc:
            print(f"  PostgreSQL: not reachable ({exc})")


if __name__ == "__main__":
    asyncio.run(main())
