"""Coalescing: calls made together are answered by one batch; each caller gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from bot.jobs.coalesce import Coalescer, Missing


class Squares:
    def __init__(self, *, fail: bool = False, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.delay = delay

    async def __call__(self, keys: list[int]) -> Mapping[int, int]:
        self.batches.append(keys)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("database away")
        return {key: key * key for key in keys if key >= 0}


async def test_calls_made_together_share_one_batch_and_get_their_own_answers() -> None:
    batch = Squares()
    squares = Coalescer(batch)
    assert await asyncio.gather(*(squares(n) for n in (3, 1, 3, 2))) == [9, 1, 9, 4]
    assert batch.batches == [[3, 1, 2]]  # one call, each key once


async def test_calls_made_later_make_a_new_batch() -> None:
    batch = Squares()
    squares = Coalescer(batch)
    assert await squares(2) == 4
    assert await squares(5) == 25
    assert batch.batches == [[2], [5]]


async def test_a_batch_is_cut_at_its_maximum_size() -> None:
    batch = Squares()
    squares = Coalescer(batch, max_batch=2)
    assert await asyncio.gather(*(squares(n) for n in range(5))) == [0, 1, 4, 9, 16]
    assert [len(keys) for keys in batch.batches] == [2, 2, 1]


async def test_a_failed_batch_fails_each_caller_and_the_next_batch_starts_clean() -> None:
    batch = Squares(fail=True)
    squares = Coalescer(batch)
    results = await asyncio.gather(squares(1), squares(2), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    batch.fail = False
    assert await squares(3) == 9


async def test_a_key_the_batch_did_not_answer_is_missing() -> None:
    squares = Coalescer(Squares())
    ok, missing = await asyncio.gather(squares(2), squares(-1), return_exceptions=True)
    assert ok == 4
    assert isinstance(missing, Missing)


async def test_a_cancelled_caller_leaves_the_batch_to_the_others() -> None:
    batch = Squares(delay=0.05)
    squares = Coalescer(batch)
    first = asyncio.ensure_future(squares(4))
    second = asyncio.ensure_future(squares(4))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == 16
    with pytest.raises(asyncio.CancelledError):
        await first
