"""Acknowledgements first: follow-up work waits until no request is waiting for its answer."""

from __future__ import annotations

import asyncio

from bot.inflight import InFlight


async def test_follow_up_waits_until_every_request_has_its_answer() -> None:
    inflight = InFlight()
    inflight.enter()
    inflight.enter()
    follow_up = asyncio.ensure_future(inflight.quiet(at_most=10))
    await asyncio.sleep(0.01)
    assert not follow_up.done()
    inflight.leave()
    await asyncio.sleep(0.01)
    assert not follow_up.done(), "one request still waits for its answer"
    inflight.leave()
    await asyncio.wait_for(follow_up, timeout=1)


async def test_a_steady_stream_of_requests_does_not_starve_follow_up_work() -> None:
    inflight = InFlight()
    inflight.enter()  # never answered
    await asyncio.wait_for(inflight.quiet(at_most=0.05), timeout=1)


async def test_with_nothing_in_flight_follow_up_goes_at_once() -> None:
    inflight = InFlight()
    await asyncio.wait_for(inflight.quiet(at_most=10), timeout=1)
    inflight.enter()
    inflight.leave()
    inflight.leave()  # an extra leave does not make the count negative
    inflight.enter()
    follow_up = asyncio.ensure_future(inflight.quiet(at_most=10))
    await asyncio.sleep(0.01)
    assert not follow_up.done()
    inflight.leave()
    await asyncio.wait_for(follow_up, timeout=1)
