"""Chaos: two workers on hosts whose clocks differ by 2 minutes.

Two bots share one PostgreSQL queue; one host's clock (the `clock` each bot is built with) runs 2
minutes behind the other's and the database's. A stream of cases goes to eBay, Mercado Libre and
a webhook vendor while the platforms refuse (503), rate-limit (429, Retry-After 2) or answer more
slowly than the 1-second lease; then the platforms decide everything. Leases, claims, heartbeats
and due times are the database's, so neither host takes the other's running jobs or runs a retry
early: no notice reaches a platform twice, and no Slack message is lost (one posted twice is
printed: a worker that loses its lease right after Slack took a post cannot know it did). Prints and holds
at 0: notices sent twice, notices sent after withdrawal, jobs lost, jobs dead without a word in
the thread.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
from scenery import (
    Platforms,
    Trouble,
    bots,
    clean_database,
    decided,
    delivered,
    on_time,
    open_cases,
    rows,
    seeded,
    wait,
)

from storage.models import Case, Job, Notice, utcnow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CASES = 20
SKEW = timedelta(minutes=2)
DELIVERY = {"lease": "1s", "backoff": ["1s", "1s", "2s", "2s", "3s", "3s"]}


def lagging() -> datetime:
    return utcnow() - SKEW


async def test_two_workers_whose_clocks_differ_by_two_minutes(postgres_url: str) -> None:
    rng = seeded("skewed clocks")
    trouble = Trouble(probability=0.25, rng=random.Random(rng.random()))
    platforms = await Platforms.start(trouble)
    db = await clean_database(postgres_url)
    settings = platforms.settings(postgres_url, DELIVERY)
    workers = bots(settings, db, [on_time, lagging])
    try:
        for bot in workers:
            await bot.start()
        await open_cases(db, settings, CASES, rng)
        await wait(lambda: delivered(db), timeout=120, what="every notice sent")
        trouble.probability = 0.0
        platforms.decide_everything()
        await wait(lambda: decided(db), timeout=60, what="every decision recorded")
    finally:
        for bot in workers:
            await bot.close()

    figures = await platforms.tally(db)
    cases, jobs = await rows(db, Case), await rows(db, Job)
    notices = await rows(db, Notice)
    await db.dispose()
    await platforms.stop()

    # Every Slack job's message posted once: a job run by both hosts would post it twice.
    threads = {case.id: (case.channel_id, case.thread_ts) for case in cases}
    expected = Counter(
        (*threads[int(job.payload["case_id"])], str(job.payload.get("text")))
        for job in jobs
        if job.kind == "notify" and job.payload.get("op") == "thread"
    )
    posted = Counter(
        (channel, str(params.get("thread_ts")), str(params.get("text")))
        for (channel, _), params in platforms.slack.messages.items()
        if params.get("thread_ts")
    )
    twice = sum(max(0, n - expected[key]) for key, n in posted.items())
    attempts = Counter(job.attempts for job in jobs if job.kind in ("submit", "notify"))
    print(
        f"cases {CASES}, notices {len(notices)}, faults injected {trouble.injected}, "
        f"submit/notify attempts {dict(sorted(attempts.items()))}, thread posts twice {twice}"
    )
    figures.show("skewed clocks")
    assert figures.zero, figures.problems()
    # Every thread message arrived. One may arrive twice only where a worker lost its 1-second
    # lease right after Slack took the post (a loaded host): the case docs/architecture.md names
    # as not promisable, so it is printed above, not held at 0.
    missing = sum(max(0, n - posted[key]) for key, n in expected.items())
    assert missing == 0
