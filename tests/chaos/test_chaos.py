"""The chaos run: two real `takedown-bot worker` processes on PostgreSQL deliver a stream of cases
while workers are killed with SIGKILL and restarted, PostgreSQL is restarted, the fake platforms
answer 500 / 429 / time out / cut connections and the fake Slack answers 429 / 500, each for a
while. Then everything settles, the platforms decide every listing, and the run prints and asserts:

    jobs lost 0, notices sent twice 0, thread messages lost 0,
    cases whose final status disagrees with the platform 0.

PostgreSQL here is a private, throwaway server (initdb into a temporary directory, on a free
port), so restarting it disturbs no one else's database on the machine. It needs the PostgreSQL
server binaries (`.ci/run` installs them); without them the test is skipped with the reason,
unless TAKEDOWN_REQUIRE_POSTGRES=1, where it fails instead.

`TAKEDOWN_CHAOS_SEED=<n>` replays a run's random choices (fault timing still depends on the
machine's speed). Workers' logs are kept under the test's tmp_path.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from app_yaml import config_yaml
from conftest import BOT_TOKEN, REQUIRE_PG
from fakes.ebay import FakeEbayVero
from fakes.mercadolibre import FakeMercadoLibre
from fakes.slack import FakeSlack
from fakes.webhook import FakeWebhookReceiver
from sqlalchemy import select
from tally import tally

from bot.config.loading import parse_config
from bot.intake.cases import ReportDraft, open_case
from storage.db import Database
from storage.models import Case, Job, Listing, Notice

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EBAY_TOKEN = "chaos-ebay-token-0123456789"
MELI_TOKEN = "chaos-meli-token-0123456789"
HOOK_SECRET = "chaos-webhook-secret-0123456789"

CASES = 60
STREAM_SECONDS = 40.0  # cases are opened over this long, while the faults happen
CHAOS_SECONDS = 46.0  # no fault starts after this
ADAPTER_TIMEOUT = 1.5  # seconds, every platform adapter
SLOW = 3.0  # a "timeout" fault answers after this long, beyond the adapter's timeout
PG_DOWN = 3.0  # seconds PostgreSQL stays stopped (longer than the 2 s lease)
SETTLE_TIMEOUT = 60.0
DECIDE_TIMEOUT = 40.0

WORK_KINDS = ("submit", "notify", "poll")


# -- a private PostgreSQL server ------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()],
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb) that this test may stop and start at will."""

    bindir: Path
    root: Path
    port: int = field(default_factory=_free_port)
    restarts: int = 0
    down_seconds: float = 0.0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bindir / tool), *args]
        # initdb and postgres refuse to run as root: run them as the postgres account.
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            self._command(tool, *args), capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)}: {result.stdout}{result.stderr}")

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip

    def _start_args(self) -> list[str]:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.root / "postgres.log")
        return ["-D", str(self.data), "-l", log, "-w", "-t", "30", "-o", options, "start"]

    def start(self) -> None:
        self._run("pg_ctl", *self._start_args())

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        result = subprocess.run(
            self._command("pg_ctl", "-D", str(self.data), "status"), capture_output=True
        )
        return result.returncode == 0

    async def restart(self, down: float) -> None:
        """Stop (fast: every connection is cut), stay down `down` seconds, start, wait until ready."""
        started = time.monotonic()
        await asyncio.to_thread(self.stop)
        await asyncio.sleep(down)
        await asyncio.to_thread(self.start)
        self.restarts += 1
        self.down_seconds += time.monotonic() - started

    async def create_database(self, name: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)


@pytest.fixture
def private_postgres() -> Any:
    bindir = _pg_bindir()
    reason = None
    if bindir is None or not (bindir / "initdb").exists():
        reason = "the chaos run needs the PostgreSQL server binaries (initdb, pg_ctl)"
    elif os.geteuid() == 0 and shutil.which("runuser") is None:
        reason = "running as root without runuser: cannot start a private PostgreSQL"
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason + " (TAKEDOWN_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="takedown-chaos-pg-"))
    server = PrivatePostgres(bindir=bindir, root=root)
    try:
        server.init()
        server.start()
    except Exception as exc:
        shutil.rmtree(root, ignore_errors=True)
        message = f"could not start a private PostgreSQL: {exc}"
        if REQUIRE_PG:
            pytest.fail(message + " (TAKEDOWN_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# -- faults in time windows -----------------------------------------------------------------------


@dataclass
class Window:
    start: float
    end: float
    probability: float
    kinds: tuple[str, ...]


class Faults:
    """When a fake misbehaves: in each window, each request fails with `probability`."""

    def __init__(self, rng: random.Random, started: Callable[[], float]) -> None:
        self.rng = rng
        self.started = started
        self.windows: list[Window] = []
        self.injected: Counter[str] = Counter()

    def add(self, start: float, end: float, probability: float, *kinds: str) -> None:
        self.windows.append(Window(start, end, probability, kinds))

    def pick(self) -> str | None:
        now = time.monotonic() - self.started()
        for window in self.windows:
            if window.start <= now < window.end and self.rng.random() < window.probability:
                kind = self.rng.choice(window.kinds)
                self.injected[kind] += 1
                return kind
        return None


def _inject(fake: Any, kind: str) -> None:
    """Script the fake's next answer (the fakes apply scripts to the next request, in order)."""
    if kind == "500":
        fake.fail_next(status=500)
    elif kind == "503":
        fake.fail_next(status=503)
    elif kind == "429":
        fake.rate_limit_next(retry_after="1")
    elif kind == "timeout":
        fake.slow_next(delay=SLOW)
    elif kind == "drop":
        fake.drop_next()
    else:
        raise AssertionError(kind)


class ChaosEbay(FakeEbayVero):
    faults: Faults

    def _refuse_first(self, request: web.Request) -> Any:
        if not self._script and (kind := self.faults.pick()):
            _inject(self, kind)
        return super()._refuse_first(request)


class ChaosMercadoLibre(FakeMercadoLibre):
    faults: Faults

    def _refuse_first(self, request: web.Request) -> Any:
        if not self._script and (kind := self.faults.pick()):
            _inject(self, kind)
        return super()._refuse_first(request)


class ChaosWebhook(FakeWebhookReceiver):
    faults: Faults

    def _refuse_first(self, recorded: Any) -> Any:
        if not self._script and (kind := self.faults.pick()):
            _inject(self, kind)
        return super()._refuse_first(recorded)


class ChaosSlack(FakeSlack):
    faults: Faults
    FAULTY = ("chat.postMessage", "chat.update", "conversations.open")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method in self.FAULTY and not self._scripted.get(method):
            kind = self.faults.pick()
            if kind == "429":
                self.fail_next(method, status=429, error="ratelimited", retry_after=1)
            elif kind == "500":
                self.fail_next(method, status=500, error="internal_error")
        return await super()._api(request)


# -- worker processes -----------------------------------------------------------------------------


@dataclass
class Workers:
    """Two `takedown-bot worker` slots, supervised: a worker that exits on its own is restarted."""

    tmp_path: Path
    env: dict[str, str]
    slots: int = 2
    procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    started: int = 0
    kills: int = 0
    double_kills: int = 0
    unexpected_exits: list[int] = field(default_factory=list)

    def start(self, slot: int) -> None:
        log = (self.tmp_path / f"worker{slot}.log").open("ab")
        log.write(f"--- start {self.started} ---\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.started += 1
        while len(self.procs) <= slot:
            self.procs.append(None)
        self.procs[slot] = proc

    def start_all(self) -> None:
        for slot in range(self.slots):
            self.start(slot)

    async def kill(self, slot: int) -> None:
        proc = self.procs[slot]
        if proc is None:
            return
        self.procs[slot] = None  # not an unexpected exit
        proc.send_signal(signal.SIGKILL)
        while proc.poll() is None:
            await asyncio.sleep(0.02)
        self.kills += 1

    def supervise(self) -> None:
        """Restart a worker that exited by itself (a process manager would)."""
        for slot, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is not None:
                self.unexpected_exits.append(proc.returncode)
                self.start(slot)

    async def stop_all(self, timeout: float = 30) -> list[int | None]:
        procs = [proc for proc in self.procs if proc is not None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(proc.poll() is None for proc in procs) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        codes = []
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                codes.append(None)  # did not stop on SIGTERM
            else:
                codes.append(proc.returncode)
        self.procs = []
        return codes


def _config_text(ebay: FakeEbayVero, meli: FakeMercadoLibre, hook: FakeWebhookReceiver) -> str:
    platforms = {
        "ebay": {
            "adapter": "ebay_vero",
            "base_url": ebay.base_url,
            "token": "${EBAY_VERO_TOKEN}",
            "reason_codes": {"counterfeit": "1001"},
            "timeout": ADAPTER_TIMEOUT,
            "poll_every": "1s",
        },
        "mercadolibre": {
            "adapter": "mercadolibre",
            "base_url": meli.base_url,
            "token": "${MELI_TOKEN}",
            "report_reasons": {"counterfeit": "PPPI1"},
            "timeout": ADAPTER_TIMEOUT,
            "poll_every": "1s",
        },
        "vendor": {
            "adapter": "webhook",
            "serves": ["temu"],
            "base_url": hook.base_url,
            "secret": "${WEBHOOK_SECRET}",
            "timeout": ADAPTER_TIMEOUT,
            "poll_every": "1s",
        },
    }
    delivery = {"lease": "2s", "backoff": ["1s", "2s", "2s", "3s", "3s", "5s", "5s", "5s"]}
    return config_yaml(platforms=platforms, delivery=delivery)


# -- the case stream ------------------------------------------------------------------------------


@dataclass
class Stream:
    db: Database
    config: Any
    rng: random.Random
    opened: list[int] = field(default_factory=list)
    retries: int = 0
    platforms: Counter[str] = field(default_factory=Counter)

    def urls(self, n: int) -> list[str]:
        chosen = self.rng.sample(["ebay", "mercadolibre", "temu"], k=self.rng.choice([2, 2, 3]))
        if self.rng.random() < 0.2:
            chosen.append("taobao")  # the guided portal: a person files it
        urls = []
        for platform in chosen:
            for j in range(self.rng.choice([1, 2]) if platform in ("ebay", "mercadolibre") else 1):
                self.platforms[platform] += 1
                if platform == "ebay":
                    urls.append(f"https://www.ebay.com/itm/{310000000000 + n * 10 + j}")
                elif platform == "mercadolibre":
                    urls.append(
                        f"https://articulo.mercadolibre.com.ar/MLA-{1500000000 + n * 10 + j}"
                    )
                elif platform == "temu":
                    urls.append(f"https://www.temu.com/acme-g-{601099500000000 + n * 10 + j}.html")
                else:
                    urls.append(f"https://item.taobao.com/item.htm?id={634500000000 + n * 10 + j}")
        return urls

    async def open(self, n: int) -> None:
        draft = ReportDraft(
            urls_text="\n".join(self.urls(n)),
            brand="Acme",
            right_id="acme-eu-tm",
            infringement="counterfeit",
            description=f"Counterfeit ACME backpacks using our registered mark (chaos {n}).",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                # The intake key makes a retry after an ambiguous failure (the commit may have
                # landed just before PostgreSQL went away) open the case once.
                opened = await open_case(
                    self.db,
                    config=self.config,
                    draft=draft,
                    reporter_id="U0REPORTER",
                    team_id="T1",
                    channel_id="C0TEAM",
                    intake_key=f"chaos-{n}",
                )
                self.opened.append(opened.case_id)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                self.retries += 1
                await asyncio.sleep(0.3)


# -- reading the outcome --------------------------------------------------------------------------


async def _all(db: Database, model: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


async def _unsettled(db: Database, kinds: tuple[str, ...]) -> int:
    """Jobs of `kinds` still queued or running (the database may be briefly unreachable)."""
    try:
        jobs = await _all(db, Job)
    except Exception:
        return -1
    return sum(1 for job in jobs if job.kind in kinds and job.state in ("queued", "running"))


async def _wait(check: Callable[[], Any], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return False


def _content(text: Any, blocks: Any) -> str:
    return json.dumps([text or "", blocks or None], sort_keys=True)


@dataclass
class ThreadCheck:
    lost: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    unexpected: int = 0
    missing_parents: int = 0
    details: list[str] = field(default_factory=list)


def _check_threads(cases: list[Case], jobs: list[Job], slack: FakeSlack) -> ThreadCheck:
    """Each case's parent message is in Slack, and every thread reply job's message is in its
    thread, in job-id order (a reply posted again after a kill -9 is a duplicate, not disorder)."""
    result = ThreadCheck()
    thread_jobs: dict[int, list[Job]] = defaultdict(list)
    for job in sorted(jobs, key=lambda j: j.id):
        if job.kind == "notify" and job.payload.get("op") == "thread":
            thread_jobs[int(job.payload["case_id"])].append(job)
    replies: dict[tuple[str, str], list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    for (channel, ts), params in slack.messages.items():
        if params.get("thread_ts"):
            replies[(channel, str(params["thread_ts"]))].append((float(ts), params))
    for case in cases:
        assert case.id is not None
        expected = [
            _content(j.payload.get("text"), j.payload.get("blocks")) for j in thread_jobs[case.id]
        ]
        if case.thread_ts is None or (str(case.channel_id), case.thread_ts) not in slack.messages:
            result.missing_parents += 1
            result.lost += len(expected)
            result.details.append(f"TD-{case.id}: no parent message (thread_ts={case.thread_ts})")
            continue
        got = [
            _content(params.get("text"), params.get("blocks"))
            for _, params in sorted(
                replies[(str(case.channel_id), case.thread_ts)], key=lambda r: r[0]
            )
        ]
        matched: set[int] = set()
        sequence: list[int] = []
        for reply in got:
            candidates = [k for k, content in enumerate(expected) if content == reply]
            if not candidates:
                result.unexpected += 1
                result.details.append(f"TD-{case.id}: a reply no job wrote: {reply[:120]}")
                continue
            fresh = [k for k in candidates if k not in matched]
            if fresh:
                k = fresh[0]
                matched.add(k)
            else:
                result.duplicates += 1
                k = max(candidates)
            sequence.append(k)
        disorder = sum(1 for a, b in itertools.pairwise(sequence) if b < a)
        lost = len(expected) - len(matched)
        if disorder or lost:
            jobs_seen = ", ".join(
                f"{k}=job {j.id} {j.state} attempt {j.attempts} created "
                f"{j.created_at:%H:%M:%S.%f} {str(j.payload.get('text'))[:40]!r}"
                for k, j in enumerate(thread_jobs[case.id])
            )
            result.details.append(
                f"TD-{case.id}: {lost} of {len(expected)} replies lost, {disorder} out of order "
                f"(reply order by job: {sequence}; {jobs_seen})"
            )
        result.out_of_order += disorder
        result.lost += lost
    return result


# -- the run --------------------------------------------------------------------------------------


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[ChaosSlack, ChaosEbay, ChaosMercadoLibre, ChaosWebhook]]:
    slack = ChaosSlack()
    ebay = ChaosEbay(token=EBAY_TOKEN)
    meli = ChaosMercadoLibre(token=MELI_TOKEN)
    hook = ChaosWebhook(secret=HOOK_SECRET)
    await slack.start()
    await ebay.start()
    await meli.start()
    await hook.start()
    try:
        yield slack, ebay, meli, hook
    finally:
        for fake in (hook, meli, ebay, slack):
            await fake.stop()


async def test_chaos(
    tmp_path: Path,
    private_postgres: PrivatePostgres,
    fakes: tuple[ChaosSlack, ChaosEbay, ChaosMercadoLibre, ChaosWebhook],
) -> None:
    began = time.monotonic()
    slack, ebay, meli, hook = fakes
    seed = int(os.environ.get("TAKEDOWN_CHAOS_SEED") or random.randrange(1_000_000))
    rng = random.Random(seed)
    print(f"\n== chaos run: seed {seed} (TAKEDOWN_CHAOS_SEED={seed} to replay) ==")

    url = await private_postgres.create_database("takedown_chaos")
    db = Database(url)
    await db.migrate()

    text = _config_text(ebay, meli, hook)
    (tmp_path / "app.yaml").write_text(text)
    environ = {
        "EBAY_VERO_TOKEN": EBAY_TOKEN,
        "MELI_TOKEN": MELI_TOKEN,
        "WEBHOOK_SECRET": HOOK_SECRET,
    }
    config = parse_config(text, environ=environ)

    # The chaos clock starts when the workers do.
    t0 = [time.monotonic()]

    def started() -> float:
        return t0[0]

    platform_faults = {
        name: Faults(random.Random(rng.random()), started) for name in ("ebay", "meli", "hook")
    }
    for faults in platform_faults.values():
        # errors first, then timeouts and cut connections, then everything at once
        offset = rng.uniform(-1.5, 1.5)
        faults.add(5 + offset, 13 + offset, 0.5, "500", "503", "429")
        faults.add(15 + offset, 22 + offset, 0.2, "timeout", "drop")
        faults.add(32 + offset, 39 + offset, 0.25, "500", "429", "timeout", "drop")
    ebay.faults, meli.faults, hook.faults = (
        platform_faults["ebay"],
        platform_faults["meli"],
        platform_faults["hook"],
    )
    slack.faults = Faults(random.Random(rng.random()), started)
    slack.faults.add(9, 17, 0.6, "429")
    slack.faults.add(28, 35, 0.5, "500", "429")

    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k != "DATABASE_URL"
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=url,
        TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"),
        LOG_LEVEL="INFO",
        **environ,
    )
    workers = Workers(tmp_path=tmp_path, env=env)
    stream = Stream(db=db, config=config, rng=random.Random(rng.random()))
    tasks: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()

    async def run_stream() -> None:
        for n in range(CASES):
            due = t0[0] + STREAM_SECONDS * n / CASES
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await stream.open(n)

    pg_restart_at = rng.uniform(16, 20)  # while calls hang on slow platforms (window 2)
    # Kills keep clear of the PostgreSQL restart, so running workers live through the outage
    # (a worker started while the database is away exits at once; see `Workers.supervise`).
    kill_times: list[float] = []
    while len(kill_times) < 8:
        at = rng.uniform(3, CHAOS_SECONDS)
        if not pg_restart_at - 3 < at < pg_restart_at + PG_DOWN + 3:
            kill_times.append(at)
    kill_times.sort()
    both_at = rng.randrange(len(kill_times))

    async def run_kills() -> None:
        for i, at in enumerate(kill_times):
            await asyncio.sleep(max(0.0, t0[0] + at - time.monotonic()))
            slots = [0, 1] if i == both_at else [rng.randrange(2)]
            for slot in slots:
                await workers.kill(slot)
            if len(slots) == 2:
                workers.double_kills += 1
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            for slot in slots:
                workers.start(slot)

    async def run_pg_restart() -> None:
        await asyncio.sleep(max(0.0, t0[0] + pg_restart_at - time.monotonic()))
        await private_postgres.restart(PG_DOWN)

    async def run_supervisor() -> None:
        while not stopping.is_set():
            workers.supervise()
            await asyncio.sleep(0.5)

    timings: dict[str, float] = {}
    try:
        workers.start_all()
        t0[0] = time.monotonic()
        tasks = [
            asyncio.create_task(run_stream()),
            asyncio.create_task(run_kills()),
            asyncio.create_task(run_pg_restart()),
        ]
        supervisor = asyncio.create_task(run_supervisor())
        await asyncio.gather(*tasks)
        timings["chaos"] = time.monotonic() - t0[0]

        # Settle: every submission and every Slack post done, nothing running.
        mark = time.monotonic()
        settled = await _wait(
            lambda: _settled_work(db, ("submit", "notify")), timeout=SETTLE_TIMEOUT
        )
        timings["settle"] = time.monotonic() - mark

        # The platforms decide every listing they received; the polls record the decisions.
        mark = time.monotonic()
        decided = _decide_everything(rng, ebay, meli, hook)
        recorded = await _wait(lambda: _decisions_recorded(db), timeout=DECIDE_TIMEOUT)
        timings["decisions"] = time.monotonic() - mark
        stopping.set()
        await supervisor
        codes = await workers.stop_all()
    finally:
        stopping.set()
        for task in tasks:
            task.cancel()
        await workers.stop_all(timeout=10)
        if not private_postgres.running():
            private_postgres.start()

    try:
        report = await _figures(db, slack, ebay, meli, hook, decided)
        figures = await tally(db, slack, ebay=ebay, meli=meli, hook=hook)
    finally:
        await db.dispose()
    timings["total"] = time.monotonic() - began

    print(
        f"cases {len(stream.opened)} (intake retries while PostgreSQL was away: {stream.retries}), "
        f"listings by platform {dict(stream.platforms)}"
    )
    print(
        f"faults: worker kills -9 {workers.kills} (both at once {workers.double_kills}), "
        f"workers started {workers.started}, worker exits not caused by the test "
        f"{workers.unexpected_exits or 0}; PostgreSQL restarts {private_postgres.restarts} "
        f"(down {private_postgres.down_seconds:.1f}s)"
    )
    for name, faults in platform_faults.items():
        print(f"  {name}: {dict(faults.injected)}")
    print(f"  slack: {dict(slack.faults.injected)}")
    for line in report.info:
        print(line)
    print(
        f"settled: {settled}, decisions recorded: {recorded}; "
        f"workers stopped on SIGTERM with exit codes {codes}"
    )
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    print(f"jobs lost: {report.jobs_lost}")
    print(f"notices sent twice: {report.sent_twice}")
    print(f"thread messages lost: {report.threads.lost}")
    print(f"thread replies out of order: {report.threads.out_of_order}")
    print(f"cases whose final status disagrees with the platform: {report.disagreeing_cases}")
    for line in report.problems:
        print("  ! " + line)
    figures.show("chaos")

    assert report.jobs_lost == 0, report.problems
    assert figures.zero, figures.problems()
    assert report.sent_twice == 0, report.problems
    assert report.threads.lost == 0, report.problems
    assert report.threads.out_of_order == 0, report.problems
    assert report.disagreeing_cases == 0, report.problems
    assert codes == [0, 0], f"workers did not stop cleanly: {codes}"


async def _settled_work(db: Database, kinds: tuple[str, ...]) -> bool:
    return await _unsettled(db, kinds) == 0


def _decide_everything(
    rng: random.Random, ebay: FakeEbayVero, meli: FakeMercadoLibre, hook: FakeWebhookReceiver
) -> dict[str, str]:
    """Every listing a platform received is removed (70 %) or rejected; returns key → our status."""
    decided: dict[str, str] = {}

    def choose(key: str) -> str:
        if key not in decided:
            decided[key] = "removed" if rng.random() < 0.7 else "rejected"
        return decided[key]

    for report in ebay.reports.values():
        for item_id in report.items:
            if choose(f"ebay:{item_id}") == "removed":
                ebay.decide(report.report_id, item_id, "Removed")
            else:
                ebay.decide(report.report_id, item_id, "SUBMISSION_FAILED", "not infringing")
    for denounce in meli.denounces.values():
        if choose(f"mercadolibre:{denounce.item_id}") == "removed":
            meli.decide(denounce.denounce_id, "ITEM_REMOVED")
        else:
            meli.decide(denounce.denounce_id, "REJECTED", "the seller proved the listing lawful")
    for notice in hook.notices.values():
        for listing in notice.body.get("listings", []):
            status = choose(listing["key"])
            hook.decide(
                listing["key"], status, None if status == "removed" else "authorised reseller"
            )
    return decided


async def _decisions_recorded(db: Database) -> bool:
    """Every listing of a sent notice is decided, and the Slack posts about it are done."""
    try:
        notices = {n.id: n for n in await _all(db, Notice)}
        listings = await _all(db, Listing)
    except Exception:
        return False
    for listing in listings:
        notice = notices.get(listing.notice_id)
        if (
            notice is not None
            and notice.status == "sent"
            and listing.status not in ("removed", "rejected")
        ):
            return False
    return await _unsettled(db, WORK_KINDS) == 0


def _held_reason(error: str | None) -> str:
    """The kind of doubt a held notice was held for (numbers and ids left out)."""
    text = re.sub(r"\b(MLA|ML)?\d+\b", "N", error or "no reason recorded")
    return text[:150]


@dataclass
class Report:
    jobs_lost: int = 0
    sent_twice: int = 0
    disagreeing_cases: int = 0
    threads: ThreadCheck = field(default_factory=ThreadCheck)
    info: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def _figures(
    db: Database,
    slack: FakeSlack,
    ebay: FakeEbayVero,
    meli: FakeMercadoLibre,
    hook: FakeWebhookReceiver,
    decided: dict[str, str],
) -> Report:
    report = Report()
    cases = await _all(db, Case)
    notices = {n.id: n for n in await _all(db, Notice)}
    listings = await _all(db, Listing)
    jobs = sorted(await _all(db, Job), key=lambda j: j.id)

    by_state = Counter((job.kind, job.state) for job in jobs)
    report.info.append(
        "jobs: " + ", ".join(f"{k}/{s} {n}" for (k, s), n in sorted(by_state.items()))
    )
    attempts = Counter(job.attempts for job in jobs if job.kind in WORK_KINDS)
    report.info.append(f"job attempts (submit/notify/poll): {dict(sorted(attempts.items()))}")
    report.info.append(
        "notices: "
        + ", ".join(
            f"{k}/{s} {n}"
            for (k, s), n in sorted(
                Counter((n.channel, n.status) for n in notices.values()).items()
            )
        )
    )

    # -- jobs lost: a case without its parent post, a notice without its submission done, work
    #    left queued or running after the settle time, and any dead job.
    lost: set[str] = set()
    parents_done = {
        int(job.payload["case_id"])
        for job in jobs
        if job.kind == "notify" and job.payload.get("op") == "post_parent" and job.state == "done"
    }
    for case in cases:
        if case.id not in parents_done:
            lost.add(f"case TD-{case.id}: its post_parent job is not done")
    submits_done = {
        int(job.payload["notice_id"])
        for job in jobs
        if job.kind == "submit" and job.state == "done"
    }
    for notice_id in notices:
        if notice_id not in submits_done:
            lost.add(f"notice {notice_id}: no submit job done")
    for job in jobs:
        if job.state == "dead":
            lost.add(f"job {job.id} ({job.kind} {job.payload}) dead: {job.last_error}")
        elif job.kind in WORK_KINDS and job.state in ("queued", "running"):
            lost.add(
                f"job {job.id} ({job.kind} {job.payload}) still {job.state} "
                f"(attempt {job.attempts}): {job.last_error}"
            )
    report.jobs_lost = len(lost)
    report.problems.extend(sorted(lost))

    # -- notices sent twice, on the channels that cannot dedupe.
    twice: list[str] = []
    ebay_items = Counter(item for r in ebay.reports.values() for item in r.items)
    twice += [f"eBay item {item} is in {n} reports" for item, n in ebay_items.items() if n > 1]
    meli_items = Counter(d.item_id for d in meli.denounces.values())
    twice += [
        f"Mercado Libre item {item} denounced {n} times" for item, n in meli_items.items() if n > 1
    ]
    keys_by_notice: dict[Any, set[str]] = defaultdict(set)
    for notice in hook.notices.values():
        keys_by_notice[notice.body.get("notice_id")].add(notice.idempotency_key)
    twice += [
        f"webhook notice {nid} filed under {len(keys)} idempotency keys"
        for nid, keys in keys_by_notice.items()
        if len(keys) > 1
    ]
    report.sent_twice = len(twice)
    report.problems.extend(twice)
    held = [n for n in notices.values() if n.status == "held"]
    report.info.append(
        f"held for a person (may have arrived): {len(held)} notices "
        f"{dict(Counter(n.channel for n in held))}"
    )
    reasons = Counter(_held_reason(n.last_error) for n in held)
    for reason, count in reasons.most_common():
        report.info.append(f"  held {count}x: {reason}")
    report.info.append(
        f"webhook redeliveries deduped by Idempotency-Key: {len(hook.duplicates)}; "
        f"eBay reports {len(ebay.reports)}, Mercado Libre denounces {len(meli.denounces)}, "
        f"webhook notices {len(hook.notices)}"
    )

    # -- thread messages: parents, every reply, in order.
    report.threads = _check_threads(cases, jobs, slack)
    thread_ts = {case.thread_ts for case in cases}
    stray_parents = sum(
        1
        for (_, ts), params in slack.messages.items()
        if not params.get("thread_ts") and ts not in thread_ts
    )
    report.info.append(
        f"thread replies posted twice (at least once after a kill -9): {report.threads.duplicates}; "
        f"parent messages posted twice: {stray_parents}; replies no job wrote: "
        f"{report.threads.unexpected}; chat.postMessage calls {len(slack.calls_to('chat.postMessage'))}"
    )
    report.problems.extend(report.threads.details)

    # -- final statuses against the platforms' decisions.
    disagreeing: set[int] = set()
    held_listings = 0
    for listing in listings:
        notice = notices.get(listing.notice_id)
        if notice is None:
            disagreeing.add(listing.case_id)
            report.problems.append(f"listing {listing.key}: no notice")
            continue
        if notice.status == "held":
            held_listings += 1
            continue
        if notice.adapter == "portal":
            ok = notice.status == "awaiting_person" and listing.status == "queued"
            expected = "queued, awaiting a person"
        else:
            expected = decided.get(listing.key, "never received by the platform")
            ok = notice.status == "sent" and listing.status == expected
        if not ok:
            disagreeing.add(listing.case_id)
            report.problems.append(
                f"TD-{listing.case_id} {listing.key}: ours {listing.status} (notice {notice.id} "
                f"{notice.status}: {notice.last_error}), platform: {expected}"
            )
    report.disagreeing_cases = len(disagreeing)
    report.info.append(f"listings of held notices (not compared): {held_listings}")
    return report
