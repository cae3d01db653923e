"""Prometheus metrics for one bot (`GET /metrics`). Each bot has its own registry: nothing global.

Counters and histograms are per process (sum them across replicas in Prometheus); the job gauges
are read from the database at scrape time, so every replica reports the whole queue.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from storage.db import Database
from storage.jobs import JobQueue
from storage.models import utcnow

CONTENT_TYPE = CONTENT_TYPE_LATEST


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
