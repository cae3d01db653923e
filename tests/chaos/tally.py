"""The four figures every chaos scenario prints and holds at 0, read from the database and from
what the fake platforms and the fake Slack received:

- notices sent twice: an eBay item in two reports, a Mercado Libre item denounced twice, a
  webhook notice filed under two idempotency keys;
- notices sent after withdrawal: a notice withdrawn in the bot that its platform holds anyway;
- jobs lost: a case whose parent message was never posted, a notice never through its submit job,
  a dead job, a submit or Slack job still queued or running once the scenario settled;
- jobs dead without a word in the thread: a dead job whose case's thread does not say what
  became of its notice (a dead Slack job is silent by nature: its message is the one missing).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.core.platforms import platform_name
from storage.db import Database
from storage.models import Case, Job, Listing, Notice

# What the thread says when a notice cannot go on (delivery failed, checks failing, held).
SAID = ("Could not deliver the notice to", "Could not check", "may or may not have arrived")


@dataclass
class Figures:
    sent_twice: list[str] = field(default_factory=list)
    sent_after_withdrawal: list[str] = field(default_factory=list)
    jobs_lost: list[str] = field(default_factory=list)
    dead_in_silence: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"notices sent twice: {len(self.sent_twice)}",
            f"notices sent after withdrawal: {len(self.sent_after_withdrawal)}",
            f"jobs lost: {len(self.jobs_lost)}",
            f"jobs dead without a word in the thread: {len(self.dead_in_silence)}",
        ]

    def problems(self) -> list[str]:
        return self.sent_twice + self.sent_after_withdrawal + self.jobs_lost + self.dead_in_silence

    def show(self, title: str) -> None:
        print(f"-- {title}: " + ", ".join(self.lines()))
        for line in self.problems():
            print("  ! " + line)

    @property
    def zero(self) -> bool:
        return not self.problems()


async def _all(db: Database, model: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars().all())


def _received(ebay: Any, meli: Any, hook: Any) -> tuple[Counter[str], Counter[int]]:
    """Listing keys the platforms hold (how many times), and webhook notice ids (how many keys)."""
    keys: Counter[str] = Counter()
    if ebay is not None:
        keys.update(f"ebay:{item}" for r in ebay.reports.values() for item in r.items)
    if meli is not None:
        keys.update(f"mercadolibre:{d.item_id}" for d in meli.denounces.values())
    by_notice: dict[int, set[str]] = defaultdict(set)
    if hook is not None:
        for notice in hook.notices.values():
            by_notice[int(notice.body.get("notice_id"))].add(notice.idempotency_key)
    return keys, Counter({notice_id: len(k) for notice_id, k in by_notice.items()})


def _thread_texts(slack: Any, case: Case) -> list[str]:
    if case.thread_ts is None:
        return []
    return [
        str(params.get("text") or "")
        for (channel, _), params in slack.messages.items()
        if channel == case.channel_id and str(params.get("thread_ts")) == case.thread_ts
    ]


async def tally(
    db: Database, slack: Any, *, ebay: Any = None, meli: Any = None, hook: Any = None
) -> Figures:
    """The four figures of a settled scenario."""
    figures = Figures()
    cases = {case.id: case for case in await _all(db, Case)}
    notices = {notice.id: notice for notice in await _all(db, Notice)}
    listings = await _all(db, Listing)
    jobs = await _all(db, Job)
    keys, hooked = _received(ebay, meli, hook)

    figures.sent_twice += [
        f"{key} reached its platform {n} times" for key, n in keys.items() if n > 1
    ]
    figures.sent_twice += [
        f"webhook notice {nid} filed under {n} idempotency keys"
        for nid, n in hooked.items()
        if n > 1
    ]
    for listing in listings:
        notice = notices.get(listing.notice_id)
        if notice is not None and notice.status == "withdrawn" and keys[listing.key]:
            figures.sent_after_withdrawal.append(
                f"{listing.key}: withdrawn, yet its platform has it"
            )
    for notice in notices.values():
        if notice.status == "withdrawn" and hooked[notice.id]:
            figures.sent_after_withdrawal.append(
                f"webhook notice {notice.id}: withdrawn, yet filed"
            )

    posted = {
        int(job.payload["case_id"])
        for job in jobs
        if job.kind == "notify" and job.payload.get("op") == "post_parent" and job.state == "done"
    }
    figures.jobs_lost += [f"TD-{cid}: no parent message" for cid in cases if cid not in posted]
    submitted = {
        int(job.payload["notice_id"])
        for job in jobs
        if job.kind == "submit" and job.state == "done"
    }
    figures.jobs_lost += [
        f"notice {nid}: no submit job done" for nid in notices if nid not in submitted
    ]
    for job in jobs:
        if job.state == "dead":
            figures.jobs_lost.append(f"job {job.id} ({job.kind}) dead: {job.last_error}")
        elif job.kind in ("submit", "notify") and job.state in ("queued", "running"):
            figures.jobs_lost.append(f"job {job.id} ({job.kind}) still {job.state}")

    for job in jobs:
        if job.state != "dead":
            continue
        notice = notices.get(int(job.payload.get("notice_id") or 0))
        case = cases.get(notice.case_id) if notice is not None else None
        if notice is not None and case is not None:
            name = platform_name(notice.platform)
            if any(
                name in text and any(marker in text for marker in SAID)
                for text in _thread_texts(slack, case)
            ):
                continue
        figures.dead_in_silence.append(f"job {job.id} ({job.kind}) dead: {job.last_error}")
    return figures
