"""Per-channel limits on platform calls, from app.yaml (`max_concurrency`, `rate_per_minute`).

Each worker process enforces them for itself: with N workers, a channel sees at most
N * max_concurrency requests at once and N * rate_per_minute per minute. Set the values per
worker accordingly (the README says so); a shared, database-backed limiter would cost a round
trip per call and is not needed at the volumes these channels take.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.config.schema import AppConfig, PlatformConfig


@dataclass
class _TokenBucket:
    """`rate` calls per minute, in a burst of at most `rate`, refilled continuously."""

    rate: int
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    tokens: float = 0.0
    updated: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.tokens = float(self.rate)
        self.updated = self.clock()

    async def take(self) -> None:
        async with self.lock:
            while True:
                now = self.clock()
                self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate / 60.0)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await self.sleep((1 - self.tokens) * 60.0 / self.rate)


@dataclass
class ChannelLimits:
    config: AppConfig
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _buckets: dict[str, _TokenBucket] = field(default_factory=dict)

    @asynccontextmanager
    async def slot(self, channel: str, entry: PlatformConfig | None = None) -> AsyncIterator[None]:
        """Hold one of the channel's concurrent slots, after waiting for its rate limit. `entry`:
        the limits to use when app.yaml has none for `channel` (the evidence capture's defaults)."""
        entry = self.config.platforms.get(channel) or entry
        if entry is None:
            yield
            return
        semaphore = self._slots.setdefault(channel, asyncio.Semaphore(entry.max_concurrency))
        async with semaphore:
            if entry.rate_per_minute:
                bucket = self._buckets.setdefault(
                    channel, _TokenBucket(entry.rate_per_minute, self.clock, self.sleep)
                )
                await bucket.take()
            yield
