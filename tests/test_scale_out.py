"""Scale-out on PostgreSQL: three `takedown-bot worker` processes share one queue of 2,000 jobs;
every job is done exactly once and the work is spread across the workers.

The jobs post into 500 channels, each channel's posts one at a time (a serial key, as a case's
thread replies): more work can run at once than one worker takes (64), so the others share it.
With fewer chains than one worker's concurrency, one worker may rightly do nearly everything."""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from app_yaml import config_yaml
from conftest import BOT_TOKEN, eventually
from fakes.slack import FakeSlack
from sqlalchemy import func, select

from storage import jobs
from storage.db import Database
from storage.models import Job

JOBS = 2000
WORKERS = 3
CHANNELS = 500


def _worker(tmp_path: Path, database_url: str, slack: FakeSlack, n: int) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k != "DATABASE_URL"
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=database_url,
        TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"),
        LOG_LEVEL="INFO",
    )
    log = (tmp_path / f"worker{n}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def test_three_workers_share_two_thousand_jobs_exactly_once(
    tmp_path: Path, postgres_url: str, slack: FakeSlack
) -> None:
    db = Database(postgres_url)
    try:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql(
                "TRUNCATE events, listings, notices, jobs, cases RESTART IDENTITY CASCADE"
            )
        (tmp_path / "app.yaml").write_text(config_yaml())
        async with db.transaction() as session:
            for i in range(JOBS):
                await jobs.enqueue(
                    session,
                    kind="notify",
                    payload={
                        "op": "post",
                        "channel": f"C{i % CHANNELS:03d}",
                        "text": f"job-{i}",
                        "blocks": None,
                    },
                    serial_key=f"channel:C{i % CHANNELS:03d}",
                )
        workers = [_worker(tmp_path, postgres_url, slack, n) for n in range(WORKERS)]
        try:

            async def all_done() -> bool:
                async with db.sessions() as session:
                    left = (
                        await session.execute(
                            select(func.count()).select_from(Job).where(Job.state != "done")
                        )
                    ).scalar_one()
                return left == 0

            await eventually(all_done, timeout=120, interval=0.5)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            codes = [await asyncio.to_thread(worker.wait, 30) for worker in workers]
        assert codes == [0] * WORKERS
        posted = collections.Counter(
            call.params["text"] for call in slack.calls_to("chat.postMessage")
        )
        assert len(posted) == JOBS and set(posted.values()) == {1}, "every job posted exactly once"
        done_by = [
            len(
                re.findall(
                    r"kind=notify attempt=1 outcome=done", (tmp_path / f"worker{n}.log").read_text()
                )
            )
            for n in range(WORKERS)
        ]
        assert sum(done_by) == JOBS
        assert min(done_by) > JOBS / (WORKERS * 4), f"work spread across workers: {done_by}"
    finally:
        await db.dispose()
