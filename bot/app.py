"""The composition root: `create_app(settings)` builds the bot — database, Slack client, Bolt app,
handlers, adapters, worker — and nothing is built at import time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.config.environment import Environment, Settings
from bot.config.logs import redact_also
from bot.config.secret_key import token_cipher
from bot.delivery.adapters import adapter_class, configured_secrets, parse_adapter_options
from bot.delivery.adapters.base import Adapter
from bot.delivery.adapters.oauth import AccessTokens
from bot.evidence.serve import serve_evidence
from bot.jobs import registry
from bot.jobs.schedule import Scheduler
from bot.jobs.worker import Worker
from bot.metrics import CONTENT_TYPE, bearer_matches
from bot.runtime import Runtime
from bot.slack_ui.access import AccessControl
from handlers.context import RuntimeInContext
from storage.db import Database
from storage.models import utcnow
from storage.tokens import DatabaseTokens

log = logging.getLogger("takedown.app")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
EVIDENCE_PATH = "/evidence/{sha256}"  # signed download links sent with notices
EVERYWHERE = "0.0.0.0"  # noqa: S104 (Slack's requests come from anywhere)


@dataclass(frozen=True)
class Listener:
    """One address the bot listens on, and the paths it serves there."""

    host: str
    port: int
    paths: tuple[str, ...]


def listeners(env: Environment, *, socket_mode: bool) -> list[Listener]:
    """Where `serve` listens. Over HTTP, Slack's requests arrive on $PORT on every interface, with
    `/healthz`, and `/metrics` unless METRICS_PORT gives it a port of its own on METRICS_BIND
    (default: loopback only). In Socket Mode no request comes from Slack: one port (METRICS_PORT,
    or $PORT) on METRICS_BIND serves `/healthz` and `/metrics`, and nothing else."""
    inside = (HEALTH_PATH, METRICS_PATH)
    if socket_mode:
        port = env.metrics_port if env.metrics_port is not None else env.port
        return [Listener(env.metrics_bind, port, (*inside, EVIDENCE_PATH))]
    if env.metrics_port is None:
        return [Listener(EVERYWHERE, env.port, (EVENTS_PATH, *inside, EVIDENCE_PATH))]
    return [
        Listener(EVERYWHERE, env.port, (EVENTS_PATH, HEALTH_PATH, EVIDENCE_PATH)),
        Listener(env.metrics_bind, env.metrics_port, inside),
    ]


class TakedownBot:
    """One running bot: its Bolt app, runtime (db, clients, adapters) and worker."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        run_worker: bool = True,
        clock: Callable[[], datetime] = utcnow,
        worker_poll_interval: float = 1.0,
    ) -> None:
        env = settings.env
        self.settings = settings
        self.db = db or env.database()
        self._owns_db = db is None
        self.run_worker = run_worker
        token = env.slack_bot_token.get_secret_value() if env.slack_bot_token else None
        # slack_sdk reads no environment variable for its API URL; and its own retry handlers are
        # off, because our jobs retry (one retry layer per call).
        # One HTTP session for Slack and the platforms: slack_sdk would otherwise open a new
        # session (and connection) per call, which costs latency when requests arrive together.
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self.slack = AsyncWebClient(
            token=token, base_url=env.slack_api_url, retry_handlers=[], session=self.http
        )
        self.runtime = Runtime(
            settings=settings,
            db=self.db,
            slack=self.slack,
            http=self.http,
            access=AccessControl(
                slack=self.slack,
                reporters=settings.config.access.reporters,
                approvers=settings.config.access.approvers,
                viewers=settings.config.access.viewers,
                commands_per_minute=settings.config.limits.commands_per_minute,
            ),
            adapters=self._build_adapters(),
            clock=clock,
            secrets=[
                *configured_secrets(settings),
                *env.own_secrets(),
                *([settings.config.mailbox.password] if settings.config.mailbox else []),
            ],
        )
        redact_also(self.runtime.secrets)  # every secret of this configuration, not only Slack's
        for adapter in self.runtime.adapters.values():
            adapter.secret_sink = self.runtime.reveal  # tokens it obtains, scrubbed everywhere
        signing = env.slack_signing_secret.get_secret_value() if env.slack_signing_secret else None
        # Bolt is given one thing to call Slack with, our client; but it also reads SLACK_BOT_TOKEN
        # from the environment itself and warns at every start that the token goes unused. That
        # one warning is dropped while Bolt is built; the client is what Bolt uses either way.
        bolt_log = logging.getLogger("slack_bolt.AsyncApp")
        bolt_log.addFilter(_token_unused_warning)
        try:
            self.bolt = AsyncApp(
                client=self.slack,
                signing_secret=signing,
                request_verification_enabled=True,
                process_before_response=False,
                raise_error_for_unhandled_request=False,
            )
        finally:
            bolt_log.removeFilter(_token_unused_warning)
        self.bolt.use(RuntimeInContext(self.runtime))  # listeners take it as `rt`
        handlers.register(self.bolt)
        delivery = settings.config.delivery
        self.worker = Worker(
            db=self.db,
            kinds=registry.bound_to(self.runtime),
            backoff=delivery.backoff,
            lease=delivery.lease,
            concurrency=delivery.concurrency,
            poll_interval=worker_poll_interval,
            max_retry_after=delivery.max_retry_after,
            scrub=self.runtime.scrub,
            observe=self.runtime.metrics.observe_job,
        )
        self.runtime.wake_worker = self.worker.wake
        self.scheduler = Scheduler(
            db=self.db, config=settings.config, clock=clock, wake_worker=self.worker.wake
        )
        self._tasks: list[asyncio.Task[None]] = []

    def _build_adapters(self) -> dict[str, Adapter]:
        adapters: dict[str, Adapter] = {}
        # OAuth tokens that change with each refresh; encrypted with TAKEDOWN_SECRET_KEY if set
        tokens = DatabaseTokens(self.db, cipher=token_cipher(self.settings.env))
        for channel, entry in self.settings.config.platforms.items():
            cls = adapter_class(entry.adapter)
            options = parse_adapter_options(entry.adapter, entry.options)
            platform = channel if not entry.serves else entry.serves[0]
            adapter = cls(options, platform=platform, http=self.http)
            adapter.token_store = tokens
            adapters[channel] = adapter
        return adapters

    async def start(self) -> None:
        """Check the database schema; start the worker and the scheduler (if this process runs them)."""
        await self.db.require_schema()
        if self.run_worker and not self._tasks:
            self._tasks = [
                asyncio.create_task(self.worker.run(), name="worker"),
                asyncio.create_task(self.scheduler.run(), name="scheduler"),
            ]

    @property
    def worker_running(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    async def close(self) -> None:
        """Stop the worker (it finishes or releases its jobs) and close every connection."""
        if self._tasks:
            self.scheduler.stop()
            self.worker.stop()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        for adapter in self.runtime.adapters.values():
            tokens = vars(adapter).get("tokens")  # made on first use, if ever
            if isinstance(tokens, AccessTokens):
                await tokens.settle()  # a refresh under way keeps what it gets
        await self.http.close()
        if self._owns_db:
            await self.db.dispose()

    async def handle_events(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        self.runtime.inflight.enter()
        try:
            bolt_request = await to_bolt_request(request)
            response = await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))
        finally:
            self.runtime.inflight.leave()
        body = bolt_request.body if isinstance(bolt_request.body, dict) else {}
        self.runtime.metrics.observe_ack(
            body, status=response.status, seconds=time.monotonic() - started
        )
        return response

    async def handle_metrics(self, request: web.Request) -> web.Response:
        token = self.settings.env.metrics_token
        if token is not None and not bearer_matches(
            request.headers.get("Authorization"), token.get_secret_value()
        ):
            return web.Response(
                status=401,
                text="/metrics needs its bearer token (METRICS_TOKEN)\n",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        try:
            body = await self.runtime.metrics.render(self.db)
        except Exception as exc:
            return web.Response(status=503, text=f"metrics unavailable: {type(exc).__name__}\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def handle_evidence(self, request: web.Request) -> web.StreamResponse:
        return await serve_evidence(self.runtime, request)

    async def handle_health(self, _request: web.Request) -> web.Response:
        checks: dict[str, Any] = {}
        try:
            status = await asyncio.wait_for(self.db.schema_status(), timeout=5)
            checks["database"] = "ok" if status.ok else (status.problem() or "outdated")
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if self.run_worker:
            checks["worker"] = "ok" if self.worker_running else "stopped"
        healthy = all(value == "ok" for value in checks.values())
        return web.json_response(
            {"status": "ok" if healthy else "unhealthy", "checks": checks},
            status=200 if healthy else 503,
        )

    def web_app(
        self,
        paths: Sequence[str] = (EVENTS_PATH, HEALTH_PATH, METRICS_PATH, EVIDENCE_PATH),
        *,
        lifecycle: bool = True,
    ) -> web.Application:
        """The HTTP app serving `paths` (`POST /slack/events`, `GET /healthz`, `GET /metrics`,
        `GET /evidence/{sha256}`);
        with `lifecycle`, it starts and stops the bot with it."""
        app = web.Application(client_max_size=2 * 1024 * 1024)
        if EVENTS_PATH in paths:
            app.router.add_post(EVENTS_PATH, self.handle_events)
        if HEALTH_PATH in paths:
            app.router.add_get(HEALTH_PATH, self.handle_health)
        if METRICS_PATH in paths:
            app.router.add_get(METRICS_PATH, self.handle_metrics)
        if EVIDENCE_PATH in paths:
            app.router.add_get(EVIDENCE_PATH, self.handle_evidence)
        if lifecycle:
            app.cleanup_ctx.append(self._lifecycle)
        return app

    async def _lifecycle(self, _app: web.Application) -> Any:
        await self.start()
        yield
        await self.close()

    async def listen(self, *, socket_mode: bool) -> list[web.AppRunner]:
        """Start the bot and serve HTTP where `listeners` says; clean the runners up in reverse
        order (the first one's app stops the bot)."""
        env = self.settings.env
        runners: list[web.AppRunner] = []
        try:
            for listener in listeners(env, socket_mode=socket_mode):
                runner = web.AppRunner(
                    self.web_app(listener.paths, lifecycle=not runners), access_log=None
                )
                try:
                    await runner.setup()
                except BaseException:
                    if not runners:
                        # The app's cleanup only closes what a completed start-up opened (e.g.
                        # the schema check failed): close the bot's sessions and database here.
                        await self.close()
                    raise
                runners.append(runner)
                await web.TCPSite(runner, host=listener.host, port=listener.port).start()
                where = ", ".join(f"{host}:{port}" for host, port, *_ in runner.addresses)
                log.info("listening on %s (%s)", where, ", ".join(listener.paths))
        except BaseException:
            for runner in reversed(runners):
                await runner.cleanup()
            raise
        if not socket_mode and env.metrics_port is None and env.metrics_token is None:
            log.warning(
                "GET /metrics answers anyone who reaches port %s: set METRICS_TOKEN, or "
                "METRICS_PORT to serve it on %s only (README, Metrics)",
                env.port,
                env.metrics_bind,
            )
        return runners


def settle_heap() -> None:
    """Once the process has started: set everything built so far aside from the garbage collector.

    A full collection walks every object the libraries made at start-up (several hundred
    thousand), tens of milliseconds with the event loop stopped, at whatever moment allocations
    trigger it: under a burst of commands, every acknowledgement in flight waits for it. Start-up
    objects live as long as the process anyway. `serve` and `worker` call this once they run."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, **kwargs: Any) -> TakedownBot:
    """Build a bot from settings (see `TakedownBot` for the keyword options)."""
    return TakedownBot(settings, **kwargs)


def _token_unused_warning(record: logging.LogRecord) -> bool:
    """False for Bolt's "As you gave `client` as well, `token` will be unused." (see TakedownBot)."""
    return "will be unused" not in record.getMessage()
