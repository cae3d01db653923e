"""The worker's hot-path reads and writes, coalesced across the jobs it runs at once.

A claimed batch of `submit` jobs each loads its notice and marks it `sending`; a batch of `notify`
jobs each loads its case and the parent message's figures. Through these loaders each step is one
statement for the whole batch instead of one per job (see `bot.jobs.coalesce`). Each loader answers
exactly what the job would have read alone, at the moment it asked.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.states import NoticeState
from bot.delivery.states import move_notices
from bot.jobs.coalesce import Coalescer
from storage.cases import CaseSummary, case_summaries, cases_by_id
from storage.db import Database
from storage.models import Case
from storage.notices import NoticeBundle, notice_bundles

PARENT_PREVIEW = 15  # a parent message lists a case's listings when it has at most this many


class Loaders:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.notice: Coalescer[int, NoticeBundle] = Coalescer(self._notices)
        self.case: Coalescer[int, Case] = Coalescer(self._cases)
        self.summary: Coalescer[int, CaseSummary] = Coalescer(self._summaries)
        self.mark_sending: Coalescer[int, bool] = Coalescer(self._mark_sending)

    async def _notices(self, notice_ids: list[int]) -> Mapping[int, NoticeBundle]:
        async with self._db.reading() as session:
            return await notice_bundles(session, notice_ids)

    async def _cases(self, case_ids: list[int]) -> Mapping[int, Case]:
        async with self._db.reading() as session:
            return await cases_by_id(session, case_ids)

    async def _summaries(self, case_ids: list[int]) -> Mapping[int, CaseSummary]:
        async with self._db.reading() as session:
            return await case_summaries(session, case_ids, preview=PARENT_PREVIEW)

    async def _mark_sending(self, notice_ids: list[int]) -> Mapping[int, bool]:
        """`sending`, one more attempt counted, committed before any of the notices is handed to
        its channel; False for a notice no longer waiting to be sent (withdrawn meanwhile)."""
        async with self._db.transaction() as session:
            marked = await move_notices(
                session, notice_ids, NoticeState.SENDING, count_attempt=True
            )
        return {notice_id: notice_id in marked for notice_id in notice_ids}
