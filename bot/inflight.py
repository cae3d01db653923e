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
SETTLE = 0.02  # seconds without a new request before follow-up work starts


class InFlight:
    def __init__(self, *, settle: float = SETTLE) -> None:
        self._waiting_on_us = 0
        self._arrived = 0  # requests so far: a new one during the settling time restarts it
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._settle = settle

    def enter(self) -> None:
        """A request arrived: Slack waits for its answer."""
        self._waiting_on_us += 1
        self._arrived += 1
        self._quiet.clear()

    def leave(self) -> None:
        """Its answer is on its way."""
        self._waiting_on_us -= 1
        if self._waiting_on_us <= 0:
            self._waiting_on_us = 0
            self._quiet.set()

    async def quiet(self, *, at_most: float = FOLLOW_UP_WAIT) -> None:
        """Return once no request has waited for its answer for a moment (`settle`: the rest of a
        burst is often still arriving), or after `at_most` seconds."""
        await asyncio.sleep(0)  # let the caller's own answer be taken first
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                while True:
                    await self._quiet.wait()
                    arrived = self._arrived
                    await asyncio.sleep(self._settle)
                    if self._quiet.is_set() and self._arrived == arrived:
                        return
