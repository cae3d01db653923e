"""Acknowledgements first: work that follows an ack waits until Slack is waiting on no request.

Slack drops a request not answered within 3 seconds, and people feel every 100 ms before the
answer. Under a burst of commands, the follow-up work of the first ones (parsing, building the
form, calling Slack) would compete with the acknowledgement of the later ones for the one event
loop. So the HTTP endpoint counts the requests it has not answered yet, and a handler's work after
its ack waits until that count is zero, for at most a moment (a steady stream never starves it).
"""

from __future__ import annotations

import asyncio
import contextlib

FOLLOW_UP_WAIT = 1.0  # seconds at most; far inside a trigger_id's ~3 s life


class InFlight:
    def __init__(self) -> None:
        self._waiting_on_us = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    def enter(self) -> None:
        """A request arrived: Slack waits for its answer."""
        self._waiting_on_us += 1
        self._quiet.clear()

    def leave(self) -> None:
        """Its answer is on its way."""
        self._waiting_on_us -= 1
        if self._waiting_on_us <= 0:
            self._waiting_on_us = 0
            self._quiet.set()

    async def quiet(self, *, at_most: float = FOLLOW_UP_WAIT) -> None:
        """Return once no request is waiting for its answer, or after `at_most` seconds."""
        await asyncio.sleep(0)  # let the caller's own answer be taken first
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), timeout=at_most)
