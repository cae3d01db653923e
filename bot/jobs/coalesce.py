"""Coalescing: calls that arrive together are served by one batched call.

A worker starts its claimed jobs together, and each begins the same way: load its notice, mark it
`sending`, load its case. One statement for all of them costs little more than one for each, so
`Coalescer` gathers the keys asked for in the same turn of the event loop and answers them all
with one call of its batch function. A caller's result is exactly what it would have got alone,
and a failed batch fails each of its callers (each job then retries on its own).

Cancelling a caller leaves the batch running for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Batch = Callable[[list[K]], Awaitable[Mapping[K, V]]]


class Missing(LookupError):
    """The batch returned no value for this key."""


class Coalescer(Generic[K, V]):
    """`await coalescer(key)`: the value for `key`, fetched together with the keys asked for in
    the same turn of the event loop (at most `max_batch` keys per call of `batch`)."""

    def __init__(self, batch: Batch[K, V], *, max_batch: int = 500) -> None:
        self._batch = batch
        self._max_batch = max_batch
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._flush)
        future: asyncio.Future[V] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if len(self._waiting) >= self._max_batch:
            self._flush()
        return await future

    def _flush(self) -> None:
        if not self._waiting:
            return
        waiting, self._waiting = self._waiting, {}
        task = asyncio.get_running_loop().create_task(self._answer(waiting))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, waiting: dict[K, list[asyncio.Future[V]]]) -> None:
        live = {key: [f for f in futures if not f.done()] for key, futures in waiting.items()}
        live = {key: futures for key, futures in live.items() if futures}
        if not live:
            return
        try:
            values = await self._batch(list(live))
        except BaseException as exc:
            error = _copy(exc)
            _settle(live.values(), lambda future: future.set_exception(error))
            if not isinstance(exc, Exception):
                raise
            return
        for key, futures in live.items():
            for future in futures:
                if future.done():
                    continue
                if key in values:
                    future.set_result(values[key])
                else:
                    future.set_exception(Missing(key))


def _settle(
    groups: Iterable[list[asyncio.Future[V]]], settle: Callable[[asyncio.Future[V]], None]
) -> None:
    for futures in groups:
        for future in futures:
            if not future.done():
                settle(future)


def _copy(exc: BaseException) -> BaseException:
    """The batch's error for one caller (cancellation is reported as an error, not propagated:
    the callers were not cancelled themselves)."""
    if isinstance(exc, asyncio.CancelledError):
        return RuntimeError("the batch was cancelled")
    return exc
