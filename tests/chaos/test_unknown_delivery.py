"""Chaos: Withdraw and Retry pressed while a delivery's outcome is unknown.

Two real `takedown-bot worker` processes on a private PostgreSQL deliver a batch of eBay and
Mercado Libre notices while they are killed with SIGKILL and restarted. The fake platforms take
their time, and often file a notice and then cut the connection before answering; eBay's lookup
(is this item reported?) is down for the first part of the run, for longer than the submit job's
backoff. So notices sit `sending` (their worker died mid-send) or `held` (nobody knows whether
they arrived). Meanwhile two approvers press Withdraw and Retry / Send again on those notices,
through the bot's real endpoint (signed requests, both at once for most notices). Then the lookup
comes back, half an hour "passes" for the held notices' background lookups, and everything
settles. The run prints and asserts:

    notices sent twice 0, notices sent after their withdrawal 0,
    notices that reached the platform after a withdrawal without a word in the thread 0,
    withdrawn notices with listings still tracked 0.

"Sent twice" leaves out the notices an approver chose to send again while they were held (the
button warns that this may file a duplicate); the run prints how many there were. "Sent after
withdrawal" counts, for each notice a person withdrew, the platform's records of it made after the
withdrawal was written; for a notice that was already on its way when withdrawn, the one request
in flight is expected, and any further one counts.

`TAKEDOWN_CHAOS_SEED=<n>` replays a run's random choices (fault timing still depends on the
machine). Needs the PostgreSQL server binaries, like tests/chaos/test_chaos.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from app_yaml import config_yaml
from conftest import BOT_TOKEN, SIGNING_SECRET, SlackDriver, press
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.server import FakePlatform
from fakes.slack import FakeSlack
from sqlalchemy import select, update
from test_chaos import PrivatePostgres, Workers, private_postgres  # noqa: F401 (a fixture)

from bot.app import create_app
from bot.config.environment import Environment, Settings
from bot.config.loading import parse_config
from bot.intake.cases import ReportDraft, open_case
from bot.slack_ui import notice_blocks as nb
from storage.db import Database
from storage.models import Event, Job, Listing, Notice, utcnow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EBAY_TOKEN = "chaos-ebay-token-0123456789"
MELI_TOKEN = "chaos-meli-token-0123456789"
APPROVERS = ("U0LEGAL", "U0LEGAL2")
CASES = 30
CHAOS_SECONDS = 22.0  # workers are killed and buttons pressed for this long
LOOKUP_DOWN = 14.0  # eBay's item lookup answers 503 for this long (longer than the backoff)
SETTLE_TIMEOUT = 90.0


CUT_RATE = 0.5  # of filings answered by cutting the connection
DELAY = 0.6  # seconds at most a platform takes before filing (its worker may be killed meanwhile)


async def _slow_then_maybe_cut(fake: FakePlatform[Any], rng: random.Random) -> None:
    """What both fakes do before filing a notice: take their time, and script the answer's
    loss (the notice filed, the connection cut) for `CUT_RATE` of filings."""
    await fake.pause(rng.uniform(0, DELAY))
    if not fake._script and rng.random() < CUT_RATE:
        fake.drop_next()


class ChaosEbay(FakeEbayVero):
    """eBay filing slowly and often cutting the connection; its item lookup down at first.
    `filed_at` keeps each filing's moment by item."""

    def __init__(self, *, token: str, seed: float) -> None:
        super().__init__(token=token)
        self.rng = random.Random(seed)
        self.filed_at: dict[str, list[float]] = defaultdict(list)
        self.lookup_down = True

    async def _create(self, request: web.Request) -> web.StreamResponse:
        await _slow_then_maybe_cut(self, self.rng)
        before = set(self.reports)
        response = await super()._create(request)
        for report_id in set(self.reports) - before:
            for item_id in self.reports[report_id].items:
                self.filed_at[item_id].append(time.time())
        return response

    async def _get_items(self, request: web.Request) -> web.StreamResponse:
        if self.lookup_down and not self._script:
            self.fail_next(status=503)
        return await super()._get_items(request)


class ChaosMercadoLibre(FakeMercadoLibre):
    """Mercado Libre filing slowly and often cutting the connection (it has no lookup)."""

    def __init__(self, *, token: str, seed: float) -> None:
        super().__init__(token=token)
        self.rng = random.Random(seed)
        self.filed_at: dict[str, list[float]] = defaultdict(list)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        await _slow_then_maybe_cut(self, self.rng)
        before = set(self.denounces)
        response = await super()._create(request)
        for denounce_id in set(self.denounces) - before:
            self.filed_at[self.denounces[denounce_id].item_id].append(time.time())
        return response


def _config_text(ebay: FakeEbayVero, meli: FakeMercadoLibre) -> str:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
            "timeout": 1.5,
            "poll_every": "1h",
        },
        "mercadolibre": {
            "adapter": "mercadolibre",
            "base_url": meli.base_url,
            "token": "${MELI_TOKEN}",
            "report_reasons": {"counterfeit": "PPPI1"},
            "timeout": 1.5,
            "poll_every": "1h",
        },
    }
    return config_yaml(
        platforms=platforms,
        access={"approvers": list(APPROVERS)},
        delivery={"lease": "2s", "backoff": ["1s", "1s", "2s"]},
    )


@dataclass
class Presses:
    """Which notices were pressed, how, and every answer."""

    # (notice id, its status when pressed) -> both | withdraw | retry: a notice may be pressed
    # once while it is being sent and once while it is held
    plan: dict[tuple[int, str], str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)  # the endpoint's HTTP answers

    async def press(self, bot: SlackDriver, notice: Notice, how: str, rng: random.Random) -> None:
        self.plan[(notice.id or 0, notice.status)] = how
        first, second = rng.sample(APPROVERS, 2)
        presses = []
        if how in ("both", "withdraw"):
            presses.append(press(nb.WITHDRAW, str(notice.id), user=first))
        if how in ("both", "retry"):
            presses.append(press(nb.RETRY, str(notice.id), user=second))
        rng.shuffle(presses)
        responses = await asyncio.gather(*(bot.interact(p) for p in presses))
        self.statuses += [r.status for r in responses]


async def _all(db: Database, model: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


async def _unsettled(db: Database) -> int:
    """Delivery work still queued or running (lookups queued for later are due when made so)."""
    jobs = await _all(db, Job)
    kinds = ("submit", "notify", "lookup")
    return sum(1 for j in jobs if j.kind in kinds and j.state in ("queued", "running"))


async def _make_lookups_due(db: Database) -> int:
    """Half an hour passes for the held notices' background lookups."""
    async with db.transaction() as session:
        result = await session.execute(
            update(Job).where(Job.kind == "lookup", Job.state == "queued").values(run_at=utcnow())
        )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class Figures:
    sent_twice: list[str] = field(default_factory=list)
    sent_again_by_choice: int = 0
    after_withdrawal: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    half_withdrawn: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)


def _epoch(moment: Any) -> float:
    return float(moment.timestamp())


def _withdrawn_at(happened: list[Event]) -> float | None:
    """When a person first withdrew the notice (or its listings), if anyone did."""
    moments = [
        _epoch(e.created_at)
        for e in happened
        if e.actor != "bot"
        and (
            e.kind in ("notice_withdrawn", "withdrawal_asked")
            or (e.kind == "status_changed" and e.detail.get("to") == "withdrawn")
        )
    ]
    return min(moments, default=None)


async def _figures(db: Database, ebay: ChaosEbay, meli: ChaosMercadoLibre) -> Figures:
    figures = Figures()
    notices = {n.id: n for n in await _all(db, Notice)}
    listings = await _all(db, Listing)
    events = sorted(await _all(db, Event), key=lambda e: e.id)
    items_of: dict[int, list[str]] = defaultdict(list)
    for listing in listings:
        items_of[listing.notice_id].append(listing.key.split(":", 1)[1].replace("-", ""))
    filed_at = {**ebay.filed_at, **meli.filed_at}
    kinds_by_notice: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if event.notice_id is not None:
            kinds_by_notice[event.notice_id].append(event)

    for notice_id, notice in notices.items():
        happened = kinds_by_notice[notice_id]
        kinds = {e.kind for e in happened}
        by_choice = any(
            e.kind == "notice_retried" and e.detail.get("from") == "held" for e in happened
        )
        figures.sent_again_by_choice += by_choice
        withdrawn_at = _withdrawn_at(happened)
        # A withdrawal that moved the notice won: nothing may reach the platform after it. One
        # that found the notice on its way may see that one request arrive, and no other.
        won_at = min(
            (
                _epoch(e.created_at)
                for e in happened
                if e.kind == "notice_withdrawn" and e.actor != "bot"
            ),
            default=None,
        )
        for item in items_of[notice_id]:
            filed = filed_at.get(item, [])
            if len(filed) > 1 and not by_choice:
                figures.sent_twice.append(f"notice {notice_id} ({item}) filed {len(filed)} times")
            after = [t for t in filed if withdrawn_at is not None and t > withdrawn_at]
            after_won = [t for t in filed if won_at is not None and t > won_at]
            if len(after) > 1 or after_won:
                story = "; ".join(
                    f"{_epoch(e.created_at):.3f} {e.kind} {e.actor} {e.detail.get('to') or ''}"
                    for e in happened
                )
                figures.after_withdrawal.append(
                    f"notice {notice_id} ({item}): withdrawn, then filed {len(after)} time(s); "
                    f"now {notice.status}. Filed at {[f'{t:.3f}' for t in filed]}; {story}"
                )
        said = "notice_arrived_after_withdrawal" in kinds
        sent_after = (
            withdrawn_at is not None
            and notice.sent_at is not None
            and _epoch(notice.sent_at) > withdrawn_at
        )
        if notice.status == "sent" and sent_after and not said:
            figures.silent.append(f"notice {notice_id}: sent after its withdrawal, unsaid")
        if notice.status == "withdrawn":
            tracked = [
                x.key for x in listings if x.notice_id == notice_id and x.status != "withdrawn"
            ]
            if tracked:
                figures.half_withdrawn.append(f"notice {notice_id} withdrawn; {tracked} tracked")
    figures.info.append(
        "notices: "
        + ", ".join(
            f"{s} {n}" for s, n in sorted(Counter(n.status for n in notices.values()).items())
        )
    )
    figures.info.append(
        "events: "
        + ", ".join(
            f"{k} {n}"
            for k, n in sorted(Counter(e.kind for e in events).items())
            if k.startswith(("notice_", "withdrawal", "lookup"))
        )
    )
    return figures


async def test_withdraw_and_retry_pressed_while_the_outcome_is_unknown(
    tmp_path: Path,
    private_postgres: PrivatePostgres,  # noqa: F811 (the fixture, imported)
) -> None:
    seed = int(os.environ.get("TAKEDOWN_CHAOS_SEED") or random.randrange(1_000_000))
    rng = random.Random(seed)
    print(f"\n== unknown-delivery chaos: seed {seed} (TAKEDOWN_CHAOS_SEED={seed} to replay) ==")
    url = await private_postgres.create_database("takedown_unknown")
    db = Database(url)
    await db.migrate()
    slack = FakeSlack()
    ebay = ChaosEbay(token=EBAY_TOKEN, seed=rng.random())
    meli = ChaosMercadoLibre(token=MELI_TOKEN, seed=rng.random())
    for fake in (slack, ebay, meli):
        await fake.start()
    text = _config_text(ebay, meli)
    (tmp_path / "app.yaml").write_text(text)
    environ = {
        "EBAY_VERO_TOKEN": EBAY_TOKEN,
        "MELI_TOKEN": MELI_TOKEN,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": url,
    }
    config = parse_config(text, environ=environ)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k != "DATABASE_URL"
    }
    env.update(TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"), LOG_LEVEL="INFO", **environ)
    workers = Workers(tmp_path=tmp_path, env=env)
    # The bot's endpoint, in this process, for the buttons; the workers deliver.
    app = create_app(
        Settings(config=config, env=Environment.from_environ(environ)), db=db, run_worker=False
    )
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    presses = Presses()
    kills = 0
    try:
        async with aiohttp.ClientSession() as http:
            bot = SlackDriver(
                http=http, url=str(server.make_url("")).rstrip("/"), slack=slack, bot=app
            )
            for n in range(CASES):
                platform_url = (
                    f"https://www.ebay.com/itm/{320000000000 + n}"
                    if rng.random() < 0.7
                    else f"https://articulo.mercadolibre.com.ar/MLA-{1600000000 + n}"
                )
                await open_case(
                    db,
                    config=config,
                    draft=ReportDraft(
                        urls_text=platform_url,
                        brand="Acme",
                        right_id="acme-eu-tm",
                        infringement="counterfeit",
                        description=f"Counterfeit ACME backpacks using our mark (unknown {n}).",
                    ),
                    reporter_id="U0REPORTER",
                    team_id="T1",
                    channel_id="C0TEAM",
                    intake_key=f"unknown-{n}",
                )
            workers.start_all()
            began = time.monotonic()
            pending_presses: list[asyncio.Task[None]] = []
            # A worker is killed every few seconds (a restarted one needs a moment to start).
            next_kill = rng.uniform(1.5, 3.0)
            while (elapsed := time.monotonic() - began) < CHAOS_SECONDS:
                if elapsed > LOOKUP_DOWN:
                    ebay.lookup_down = False
                if elapsed > next_kill:
                    slot = rng.randrange(workers.slots)
                    await workers.kill(slot)
                    kills += 1
                    workers.start(slot)
                    next_kill = elapsed + rng.uniform(1.5, 3.0)
                workers.supervise()
                for notice in await _all(db, Notice):
                    unknown = notice.status in ("sending", "held")
                    pressed = (notice.id, notice.status) in presses.plan
                    if unknown and not pressed and rng.random() < 0.05:
                        how = rng.choice(["both", "both", "withdraw", "retry"])
                        pending_presses.append(
                            asyncio.create_task(presses.press(bot, notice, how, rng))
                        )
                await asyncio.sleep(rng.uniform(0.2, 0.5))
            await asyncio.gather(*pending_presses)
            ebay.lookup_down = False

            # Settle: the held notices' lookups come due (half an hour passes), work finishes.
            deadline = time.monotonic() + SETTLE_TIMEOUT
            settled = False
            while time.monotonic() < deadline:
                workers.supervise()
                await _make_lookups_due(db)
                if await _unsettled(db) == 0:
                    settled = True
                    break
                await asyncio.sleep(0.5)
            codes = await workers.stop_all()
    finally:
        with contextlib.suppress(Exception):
            await workers.stop_all(timeout=10)
        await server.close()
        for fake in (meli, ebay, slack):
            await fake.stop()
    try:
        figures = await _figures(db, ebay, meli)
    finally:
        await db.dispose()

    print(
        f"cases {CASES}; worker kills -9 {kills}, workers started {workers.started}; "
        f"presses (notice, status when pressed: how) {len(presses.plan)} "
        f"{dict(Counter(f'{status}: {how}' for (_, status), how in presses.plan.items()))}; "
        f"settled: {settled}; workers' exit codes {codes}"
    )
    for line in figures.info:
        print(line)
    print(f"eBay reports {len(ebay.reports)}, Mercado Libre denounces {len(meli.denounces)}")
    print(f"held notices an approver chose to send again: {figures.sent_again_by_choice}")
    print(f"notices sent twice: {len(figures.sent_twice)}")
    print(f"notices sent after their withdrawal: {len(figures.after_withdrawal)}")
    print(f"reached the platform after a withdrawal, unsaid: {len(figures.silent)}")
    print(f"withdrawn notices with listings still tracked: {len(figures.half_withdrawn)}")
    problems = figures.sent_twice + figures.after_withdrawal + figures.silent
    problems += figures.half_withdrawn
    for line in problems:
        print("  ! " + line)

    assert settled, "delivery work still queued or running after the settle time"
    assert set(presses.statuses) <= {200}
    assert figures.sent_twice == []
    assert figures.after_withdrawal == []
    assert figures.silent == []
    assert figures.half_withdrawn == []
