"""A new case's notice waits, briefly, for the evidence that goes with it.

`open_case` queues a case's submit jobs beside its captures and the report form's files
(`keep_files`), so a submit usually runs before they are kept, and a notice carries only the
evidence that exists when it is built (`bot.delivery.sent_evidence`). So before a submit marks
its notice `sending`, it looks for the jobs still keeping that evidence: the captures of the
notice's listings (by their dedupe keys) and the case's `keep_files` jobs (by the case's evidence
serial key). While any is queued or running and the case was opened less than
`evidence.wait_for_capture` ago, the submit is given back to run again a few seconds later
(`NotYet`: no attempt counted, no error kept). After that it is sent with what exists.

Nothing is marked before the wait, so a notice withdrawn meanwhile is found withdrawn by the
next run and never sent. A run that finds its notice already `sending` (an earlier run died
mid-send) does not wait: what it resends or asks about is the notice as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.core.states import JobKind
from bot.jobs.payloads import capture_key, evidence_serial_key
from bot.jobs.worker import NotYet
from bot.runtime import Runtime
from storage import jobs
from storage.models import Case, Listing

log = logging.getLogger("takedown.delivery")

# How soon a waiting notice looks again: a capture takes seconds (a page, perhaps a screenshot).
LOOK_AGAIN_SECONDS = 3.0


async def wait_for_evidence(rt: Runtime, *, case: Case, listings: Sequence[Listing]) -> None:
    """Raise `NotYet` while the evidence of a notice on `listings` is still being kept and the
    case is young enough to wait for it; return when the notice may go (logging once when it
    goes without evidence it stopped waiting for)."""
    wait = rt.config.evidence.wait_for_capture
    if not wait or case.id is None:
        return
    async with rt.db.reading() as session:
        pending = await jobs.any_active(
            session,
            dedupe_keys=[capture_key(case.id, item.position) for item in listings],
            serial_key=evidence_serial_key(case.id),
            kinds=[str(JobKind.KEEP_FILES)],
        )
    if not pending:
        return
    if rt.clock() - case.created_at < wait:
        raise NotYet(f"case {case.id}'s evidence is still being kept", delay=LOOK_AGAIN_SECONDS)
    log.info(
        "case %s: its evidence is still being kept %s after it was opened; "
        "sending its notice without waiting longer",
        case.id,
        wait,
    )
