"""The short retry layer inside one job run (tenacity), shared by Slack calls and platform calls.

Transient trouble is retried a few times with jittered exponential backoff, honouring a
Retry-After the other side sent, capped so a job run stays short. What still fails is raised to
the worker, whose durable backoff (minutes to a day, across restarts) takes over. slack_sdk's own
retry handlers are switched off (see `bot.app`), so no call is retried by two layers at once.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError, IntegrityError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from bot.delivery.adapters.base import TransientError

T = TypeVar("T")

SLACK_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def bounded_delay(seconds: float | None, *, ceiling: float) -> float | None:
    """A wait the other side asked for, made safe to schedule: within [0, `ceiling`] seconds.

    Any number can arrive in a Retry-After (`inf`, `1e12`, a date in 9999 or 1970, `-1`): a
    negative one means now, a huge or infinite one the ceiling, and NaN says nothing (None: our
    own backoff decides)."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), ceiling)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the other side asked us to wait, if it said something that is a number of seconds
    (not NaN; a negative number is 0). Not capped here: each user caps it (`bounded_delay`)."""
    if isinstance(exc, TransientError):
        asked = exc.retry_after
    elif isinstance(exc, SlackApiError):
        value = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        try:
            asked = float(value) if value is not None else None
        except (TypeError, ValueError):
            return None
    else:
        return None
    return bounded_delay(asked, ceiling=math.inf)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, SlackApiError):
        return (
            exc.response.status_code in (429, 500, 502, 503, 504)
            or exc.response.get("error") in SLACK_TRANSIENT
        )
    return isinstance(exc, (TimeoutError, ConnectionError, OSError)) and not isinstance(
        exc, FileNotFoundError
    )


def _waiter(cap: float) -> Callable[[RetryCallState], float]:
    jitter = wait_random_exponential(multiplier=0.5, max=cap)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = bounded_delay(retry_after(exc), ceiling=cap) if exc else None
        return asked if asked is not None else jitter(state)

    return wait


async def with_retries(
    call: Callable[[], Awaitable[T]], *, attempts: int = 3, cap: float = 10.0
) -> T:
    """Run `call`, retrying transient errors up to `attempts` times in all; re-raise the last error.

    A Retry-After longer than `cap` is not waited for here: the error goes up at once so the
    durable queue can wait it out without holding a worker slot.
    """

    def worth_retrying(exc: BaseException) -> bool:
        asked = retry_after(exc)
        return is_transient(exc) and (asked is None or asked <= cap)

    retrying = AsyncRetrying(
        retry=retry_if_exception(worth_retrying),
        stop=stop_after_attempt(attempts),
        wait=_waiter(cap),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")


# How long a job keeps trying to write down what an irreversible call did (a PostgreSQL restart
# takes a few seconds), well inside the part of its lease it may use (worker.FENCE).
RECORD_SECONDS = 20.0


def database_away(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (not a refused write)."""
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, DBAPIError):
        return True
    return isinstance(exc, (TimeoutError, ConnectionError, OSError))


async def record_after_effect(
    record: Callable[[], Awaitable[T]], *, seconds: float = RECORD_SECONDS
) -> T:
    """Run `record`, the database write of something already done outside (a Slack message
    posted), retrying while the database is away for up to `seconds`: giving up at once would let
    the job run again and do it twice (Slack has no idempotency key for messages)."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(database_away),
        stop=stop_after_delay(seconds),
        wait=wait_random_exponential(multiplier=0.2, max=4.0),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await record()
    raise AssertionError("unreachable")
