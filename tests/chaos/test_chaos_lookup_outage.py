"""Chaos: a platform lookup outage longer than the backoff schedule.

Two bots (each its own worker) deliver a stream of cases to eBay, Mercado Libre and a webhook
vendor on PostgreSQL. Then every lookup (GET) at every platform answers 503 for longer than the
whole backoff schedule (compressed through `delivery.backoff` so the run is short). Each notice's
thread must say once that its platform cannot be checked, polling must go on at the slow rate
(no poll job dies), and when the platforms answer again the decisions are recorded and each
thread says once that checking works again. Prints and holds at 0: notices sent twice, notices
sent after withdrawal, jobs lost, jobs dead without a word in the thread.
"""

from __future__ import annotations

from collections import Counter

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

from storage.db import Database
from storage.models import Case, Event, Job, Notice

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CASES = 12
# Four runs a second apart, then the slow rate (the schedule's last step, 1 s). The lease outlasts
# the platforms' 4-second timeout: no worker is killed here, so a lease only has to survive a
# loaded host's late heartbeat (at 2 s, polls were stopped and dead-lettered under load).
DELIVERY = {"lease": "10s", "backoff": ["1s", "1s", "1s"]}


async def _events(db: Database, kind: str) -> Counter[int]:
    return Counter(e.notice_id for e in await rows(db, Event) if e.kind == kind)


async def test_a_lookup_outage_longer_than_the_backoff_schedule(postgres_url: str) -> None:
    rng = seeded("lookup outage")
    trouble = Trouble()
    platforms = await Platforms.start(trouble)
    db = await clean_database(postgres_url)
    settings = platforms.settings(postgres_url, DELIVERY)
    workers = bots(settings, db, [on_time, on_time])
    try:
        for bot in workers:
            await bot.start()
        await open_cases(db, settings, CASES, rng)
        await wait(lambda: delivered(db), timeout=60, what="every notice sent")
        notices = await rows(db, Notice)

        trouble.outage = True  # every lookup refused, for longer than the schedule

        async def all_said() -> bool:
            return set(await _events(db, "checks_failing")) == {n.id for n in notices}

        await wait(all_said, timeout=90, what="every notice's failing checks said")
        polls = sum(1 for j in await rows(db, Job) if j.kind == "poll" and j.state == "done")

        async def polled_on() -> bool:  # the slow polls go on, failing
            done = sum(1 for j in await rows(db, Job) if j.kind == "poll" and j.state == "done")
            return done >= polls + 2 * len(notices)

        await wait(polled_on, timeout=60, what="slow polling during the outage")
        trouble.outage = False
        platforms.decide_everything()
        await wait(lambda: decided(db), timeout=60, what="every decision recorded")

        async def all_resumed() -> bool:
            return set(await _events(db, "checks_resumed")) == {n.id for n in notices}

        await wait(all_resumed, timeout=30, what="every notice's checks resumed")
        await wait(lambda: decided(db), timeout=30, what="every Slack post done")
    finally:
        for bot in workers:
            await bot.close()

    figures = await platforms.tally(db)
    failing, resumed = await _events(db, "checks_failing"), await _events(db, "checks_resumed")
    cases = await rows(db, Case)
    threads = {
        (c.channel_id, c.thread_ts): [
            str(p.get("text") or "")
            for (ch, _), p in platforms.slack.messages.items()
            if ch == c.channel_id and str(p.get("thread_ts")) == c.thread_ts
        ]
        for c in cases
    }
    said_failing = sum(sum("Could not check" in t for t in texts) for texts in threads.values())
    said_resumed = sum(
        sum("for decisions works again" in t for t in texts) for texts in threads.values()
    )
    dead = [j for j in await rows(db, Job) if j.state == "dead"]
    await db.dispose()
    await platforms.stop()

    print(
        f"cases {CASES}, notices {len(notices)}, lookups refused {trouble.injected}; "
        f"said failing {said_failing}, said working again {said_resumed}, dead jobs {len(dead)}"
    )
    figures.show("lookup outage")
    assert figures.zero, figures.problems()
    assert set(failing.values()) == {1} and set(resumed.values()) == {1}
    assert said_failing == said_resumed == len(notices)
