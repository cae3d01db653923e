"""Prometheus metrics for one bot (`GET /metrics`). Each bot has its own registry: nothing global.

Counters and histograms are per process (sum them across replicas in Prometheus); the job gauges
are read from the database at scrape time, so every replica reports the whole queue.

No label value comes from a request as it is: anyone can post to `/slack/events`, and a label per
value a stranger makes up would grow the exposition (and the memory) without bound. The kinds of
Slack request are a fixed set (`ACK_KINDS`), declared up front so every series exists from the
first scrape.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from storage.db import Database
from storage.jobs import JobQueue
from storage.models import utcnow

CONTENT_TYPE = CONTENT_TYPE_LATEST

# What Slack sends (a slash command, or a payload's `type`), then `other` for a signed request of
# any other type and `rejected` for one whose signature failed (answered 401).
SLACK_KINDS = (
    "command",
    "block_actions",
    "block_suggestion",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
    "event_callback",
    "url_verification",
)
OTHER, REJECTED = "other", "rejected"
ACK_KINDS = (*SLACK_KINDS, OTHER, REJECTED)


def ack_kind(body: Mapping[str, Any], *, status: int) -> str:
    """The `kind` label of a request to `/slack/events`: one of `ACK_KINDS`, whatever it holds."""
    if status == 401:
        return REJECTED
    kind = "command" if "command" in body else body.get("type")
    return kind if isinstance(kind, str) and kind in SLACK_KINDS else OTHER


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an `Authorization` header carries `Bearer <token>`; compared in constant time (of
    digests, so not even the token's length shows)."""
    offered = hashlib.sha256((header or "").strip().encode()).digest()
    expected = hashlib.sha256(f"Bearer {token}".encode()).digest()
    return hmac.compare_digest(offered, expected)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ack_seconds = Histogram(
            "takedown_ack_seconds",
            "Time from receiving a Slack request to answering it",
            ["kind"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
        )
        for kind in ACK_KINDS:
            self.ack_seconds.labels(kind)
        self.submissions = Counter(
            "takedown_submissions_total",
            "Notice submissions by platform and outcome",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "takedown_decisions_total",
            "Listing status changes by platform and new status",
            ["platform", "status"],
            registry=self.registry,
        )
        self.job_runs = Counter(
            "takedown_job_runs_total",
            "Job runs by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "takedown_job_seconds", "Job run duration", ["kind"], registry=self.registry
        )
        self.jobs = Gauge(
            "takedown_jobs", "Jobs by kind and state", ["kind", "state"], registry=self.registry
        )
        self.queue_age = Gauge(
            "takedown_queue_age_seconds", "Age of the oldest due queued job", registry=self.registry
        )

    def observe_ack(self, body: Mapping[str, Any], *, status: int, seconds: float) -> None:
        """A request to `/slack/events` answered with `status` after `seconds`."""
        self.ack_seconds.labels(ack_kind(body, status=status)).observe(seconds)

    def observe_job(self, kind: str, outcome: str, seconds: float) -> None:
        self.job_runs.labels(kind, outcome).inc()
        self.job_seconds.labels(kind).observe(seconds)

    def count_decisions(self, changes: Iterable[tuple[str, str]]) -> None:
        """(platform, new status) for each change."""
        for platform, status in changes:
            self.decisions.labels(platform, status).inc()

    async def render(self, db: Database) -> bytes:
        """Refresh the database gauges, then the text exposition format."""
        self.jobs.clear()
        queue = JobQueue(db)
        for (kind, state), count in (await queue.counts()).items():
            self.jobs.labels(kind, state).set(count)
        oldest = await queue.oldest_due()
        self.queue_age.set(max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0)
        return generate_latest(self.registry)
