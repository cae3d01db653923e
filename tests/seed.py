"""A deterministic data set for the figures (digest, scorecard, export) and for benchmarks.

`seed(db)` writes the cases, listings, notices and events of `GROUPS` with SQLAlchemy core bulk
inserts and explicit timestamps; `seed(db, scale=100)` writes every group 100 times (same times,
distinct keys), which multiplies every count and leaves every percentile unchanged.

The data is the literal table below, one row per group of listings. A group is one case with one
notice; its i-th listing (i = 0, 1, …) is reported `start + i * 15 min`, submitted `submit` later
(None: never submitted), and decided `hours(i)` hours after its submission (after its report when
never submitted). The figures the tests expect are read off this table by hand.

The clock: `NOW` is Monday 15 June 2026, 09:00 in Europe/Berlin (07:00 UTC, summer time all
month, so local weeks are 168 hours). The digest at NOW covers [WEEK, NOW); the week before it
is [PREVIOUS_WEEK, WEEK).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from storage.db import Database
from storage.models import Case, Event, Listing, Notice

NOW = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)
WEEK = NOW - timedelta(days=7)  # 2026-06-08 07:00 UTC
PREVIOUS_WEEK = WEEK - timedelta(days=7)  # 2026-06-01 07:00 UTC
CURRENT = WEEK + timedelta(hours=2)  # when the current week's groups start
PREVIOUS = PREVIOUS_WEEK + timedelta(hours=2)
STEP = timedelta(minutes=15)
HOUR = timedelta(hours=1)

# SLA days of the test configuration (tests/conftest.py): taobao 3, every other platform 7.
SLA = {"taobao": 3}

Hours = Callable[[int], float]


def _at(hours: float) -> Hours:
    return lambda i: hours


@dataclass(frozen=True)
class Group:
    name: str
    platform: str
    count: int
    status: str | Callable[[int], str]
    start: datetime = CURRENT
    submit: timedelta | None = HOUR
    hours: Hours | None = None  # decided this long after submission (after report if unsubmitted)
    seller: Callable[[int], str | None] = lambda i: None
    via_needs_info: int = 0  # the first n listings were asked for information before the decision
    relist_of: str | None = None  # re-reports of that group's listings (same keys, same index)
    notice: str = (
        "sent"  # the notice's status when the group was submitted; else see _notice_status
    )

    def status_of(self, i: int) -> str:
        return self.status(i) if callable(self.status) else self.status


def _seller(name: str | None, first: int | None = None) -> Callable[[int], str | None]:
    return lambda i: name if first is None or i < first else None


GROUPS: tuple[Group, ...] = (
    # -- reported in the current week [WEEK, NOW) --------------------------------------------------
    # eBay: 60 reported; 40 removed (the first 4 since relisted: removed, then reported again as
    # the 4 listings of e-relist), 10 rejected, 5 needs info, 5 open. Removal times 1..40 h.
    Group(
        "e-removed",
        "ebay",
        40,
        lambda i: "relisted" if i < 4 else "removed",
        hours=lambda i: i + 1,
        seller=_seller("Shady Deals", first=12),
    ),
    Group("e-rejected", "ebay", 10, "rejected", hours=_at(10), seller=_seller("Tiny Shop", 3)),
    Group("e-info", "ebay", 5, "needs_info", hours=_at(5), seller=_seller("   ")),
    Group("e-review", "ebay", 1, "in_review"),
    Group(
        "e-relist",
        "ebay",
        4,
        "queued",
        start=WEEK + timedelta(days=5),
        submit=None,
        relist_of="e-removed",
        notice="pending",
    ),
    # Amazon: 50 reported; 20 removed in 3..60 h (the first 2 after a request for information),
    # 20 rejected, 10 open. Every other listing is Knockoff Hub's.
    Group(
        "a-removed",
        "amazon",
        20,
        "removed",
        hours=lambda i: 3 * (i + 1),
        via_needs_info=2,
        seller=lambda i: "Knockoff Hub" if i % 2 == 0 else None,
    ),
    Group(
        "a-rejected",
        "amazon",
        20,
        "rejected",
        hours=_at(48),
        seller=lambda i: "Knockoff Hub" if i % 2 == 0 else None,
    ),
    Group("a-open", "amazon", 10, "submitted"),
    # Taobao (SLA 3 days): 40 reported; 30 removed in 4..120 h (12 of them after more than 72 h),
    # 5 needs info and 5 never submitted, all 10 past the SLA at NOW.
    Group(
        "t-removed",
        "taobao",
        30,
        "removed",
        hours=lambda i: 4 * (i + 1),
        seller=_seller("Bazaar 88", first=8),
    ),
    Group("t-info", "taobao", 5, "needs_info", hours=_at(2)),
    Group("t-queued", "taobao", 5, "queued", submit=None, notice="pending"),
    # Etsy: 30 reported; 10 removed in 5..50 h, 5 rejected, 5 needs info, 5 open, 5 withdrawn.
    Group(
        "s-removed",
        "etsy",
        10,
        "removed",
        hours=lambda i: 5 * (i + 1),
        seller=_seller("Shady Deals"),
    ),
    Group("s-rejected", "etsy", 5, "rejected", hours=_at(20), seller=_seller("Shady Deals")),
    Group("s-info", "etsy", 5, "needs_info", hours=_at(3)),
    Group("s-review", "etsy", 5, "in_review"),
    Group("s-withdrawn", "etsy", 5, "withdrawn", submit=None, hours=_at(2), notice="withdrawn"),
    # AliExpress: 20 reported; 10 rejected (a hostile seller name), 10 failed deliveries.
    Group(
        "x-rejected",
        "aliexpress",
        10,
        "rejected",
        hours=_at(30),
        seller=_seller("<!channel> Outlet"),
    ),
    Group("x-failed", "aliexpress", 10, "failed", submit=None, notice="failed"),
    # -- reported in the previous week [PREVIOUS_WEEK, WEEK) ---------------------------------------
    Group(
        "pe-removed",
        "ebay",
        10,
        "removed",
        start=PREVIOUS,
        hours=lambda i: 2 * (i + 1),
        seller=_seller("Shady Deals", first=4),
    ),
    Group("pe-rejected", "ebay", 10, "rejected", start=PREVIOUS, hours=_at(24)),
    Group("pa-removed", "amazon", 10, "removed", start=PREVIOUS, hours=_at(6)),
    Group("pt-removed", "taobao", 5, "removed", start=PREVIOUS, hours=_at(10)),
    Group("pt-rejected", "taobao", 5, "rejected", start=PREVIOUS, hours=_at(80)),
    # -- reported long before: the oldest open listings, the SLA breaches ---------------------------
    Group("o1", "ebay", 1, "in_review", start=datetime(2026, 4, 1, 10, tzinfo=UTC)),
    Group("o2", "amazon", 1, "submitted", start=datetime(2026, 4, 15, 10, tzinfo=UTC)),
    Group(
        "o3",
        "taobao",
        1,
        "queued",
        start=datetime(2026, 5, 1, 10, tzinfo=UTC),
        submit=None,
        notice="pending",
    ),
    Group(
        "o4",
        "etsy",
        1,
        "failed",
        start=datetime(2026, 5, 10, 10, tzinfo=UTC),
        submit=None,
        notice="failed",
    ),
    Group(
        "o5",
        "aliexpress",
        1,
        "needs_info",
        start=datetime(2026, 5, 20, 10, tzinfo=UTC),
        hours=_at(24),
    ),
    Group("o6", "ebay", 1, "removed", start=datetime(2026, 5, 25, 10, tzinfo=UTC), hours=_at(30)),
    Group(
        "o7",
        "ebay",
        1,
        "submitted",
        start=datetime(2026, 5, 26, 10, tzinfo=UTC),
        seller=_seller("<!here> Bargains"),
    ),
)

_URLS = {
    "ebay": "https://www.ebay.com/itm/{n}",
    "amazon": "https://www.amazon.com/dp/B0{n:08d}",
    "taobao": "https://item.taobao.com/item.htm?id={n}",
    "etsy": "https://www.etsy.com/listing/{n}",
    "aliexpress": "https://www.aliexpress.com/item/{n}.html",
}
_DECISIONS = ("removed", "rejected", "needs_info", "withdrawn")


@dataclass
class Seeded:
    """What `seed` wrote: ids by group name (for every repetition, in order)."""

    cases: dict[str, list[int]] = field(default_factory=dict)
    notices: dict[str, list[int]] = field(default_factory=dict)
    listings: dict[str, list[int]] = field(default_factory=dict)

    @property
    def listing_count(self) -> int:
        return sum(len(ids) for ids in self.listings.values())


@dataclass
class _Row:
    group: Group
    rep: int
    index: int
    key: str
    url: str
    status: str
    created: datetime
    submitted: datetime | None
    decided: datetime | None


def _rows(
    group: Group, rep: int, serial: itertools.count[int], named: dict[str, Group]
) -> list[_Row]:
    rows = []
    source = named.get(group.relist_of or "")
    for i in range(group.count):
        created = group.start + i * STEP
        submitted = created + group.submit if group.submit is not None else None
        decided = None
        status = group.status_of(i)
        if group.hours is not None and (status in _DECISIONS or status == "relisted"):
            decided = (submitted or created) + timedelta(hours=group.hours(i))
        key_group = source.name if source else group.name
        platform_n = 100_000_000 + next(serial)
        suffix = f"-r{rep}" if rep else ""
        rows.append(
            _Row(
                group=group,
                rep=rep,
                index=i,
                key=f"{group.platform}:{key_group}-{i}{suffix}",
                url=_URLS[group.platform].format(n=platform_n),
                status=status,
                created=created,
                submitted=submitted,
                decided=decided,
            )
        )
    return rows


def _notice_status(group: Group) -> str:
    return group.notice if group.submit is None else "sent"


async def seed(db: Database, *, scale: int = 1, groups: Sequence[Group] = GROUPS) -> Seeded:
    """Write `groups` (the table above unless given) `scale` times; returns the ids written."""
    seeded = Seeded()
    serial = itertools.count(1)
    named = {group.name: group for group in groups}
    plan = [
        (rep, group, _rows(group, rep, serial, named)) for rep in range(scale) for group in groups
    ]
    thread_ts = itertools.count(1_780_000_000)
    async with db.transaction() as session:
        case_rows = [
            {
                "brand": "Acme",
                "right_id": "acme-eu-tm",
                "infringement": "counterfeit",
                "description": f"Seeded group {group.name}: fake ACME goods with our logo.",
                "evidence": [],
                "seller": None,
                "reporter_id": "U0SEED",
                "team_id": "T1",
                "channel_id": "C0REPORTS",
                "thread_ts": f"{next(thread_ts)}.000100",
                "created_at": group.start,
                "updated_at": group.start,
            }
            for _, group, _ in plan
        ]
        case_ids = await _insert(session, Case, case_rows)
        notice_rows = [
            {
                "case_id": case_id,
                "platform": group.platform,
                "channel": group.platform,
                "adapter": "portal",
                "status": _notice_status(group),
                "idempotency_key": f"seed-{group.name}-{rep}",
                "reference": f"REF-{group.name}-{rep}" if group.submit is not None else None,
                "attempts": 1 if group.submit is not None else 0,
                "created_at": group.start,
                "updated_at": group.start + (group.submit or timedelta()),
                "sent_at": group.start + group.submit if group.submit is not None else None,
            }
            for case_id, (rep, group, _) in zip(case_ids, plan, strict=True)
        ]
        notice_ids = await _insert(session, Notice, notice_rows)

        listing_rows: list[dict[str, Any]] = []
        for case_id, notice_id, (_, group, rows) in zip(case_ids, notice_ids, plan, strict=True):
            for row in rows:
                listing_rows.append(
                    {
                        "case_id": case_id,
                        "position": row.index,
                        "platform": group.platform,
                        "key": row.key,
                        "url": row.url,
                        "submitted_url": row.url,
                        "seller": group.seller(row.index),
                        "status": row.status,
                        "status_reason": "not infringing, says the platform"
                        if row.status == "rejected"
                        else None,
                        "reference": f"REF-{group.name}-{row.rep}" if row.submitted else None,
                        "notice_id": notice_id,
                        "created_at": row.created,
                        "updated_at": row.decided or row.submitted or row.created,
                        "submitted_at": row.submitted,
                        "decided_at": row.decided,
                    }
                )
        listing_ids = await _insert(session, Listing, listing_rows)

        position = 0
        by_group: dict[tuple[str, int], list[int]] = {}
        for case_id, notice_id, (rep, group, rows) in zip(case_ids, notice_ids, plan, strict=True):
            ids = listing_ids[position : position + len(rows)]
            position += len(rows)
            by_group[(group.name, rep)] = ids
            seeded.cases.setdefault(group.name, []).append(case_id)
            seeded.notices.setdefault(group.name, []).append(notice_id)
            seeded.listings.setdefault(group.name, []).extend(ids)

        # Re-reports point at the removed listings they report again.
        for rep, group, rows in plan:
            if group.relist_of:
                originals = by_group[(group.relist_of, rep)]
                for listing_id, row in zip(by_group[(group.name, rep)], rows, strict=True):
                    await session.execute(
                        update(Listing)
                        .where(Listing.id == listing_id)
                        .values(relisted_from=originals[row.index])
                    )

        events: list[dict[str, Any]] = []
        for case_id, notice_id, (rep, group, rows) in zip(case_ids, notice_ids, plan, strict=True):
            ids = by_group[(group.name, rep)]
            events.append(
                _event(case_id, None, None, "opened", group.start, {"listings": len(rows)})
            )
            if group.submit is not None:
                events.append(
                    _event(case_id, None, notice_id, "notice_sent", group.start + group.submit, {})
                )
            for listing_id, row in zip(ids, rows, strict=True):
                events += _listing_events(case_id, listing_id, notice_id, row)
        await session.execute(insert(Event.__table__), events)
    return seeded


async def _insert(session: Any, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    core = table.__table__  # Core, not ORM bulk insert: several times faster for big seeds
    result = await session.execute(
        insert(core).returning(core.c.id, sort_by_parameter_order=True), rows
    )
    return [row[0] for row in result.all()]


def _event(
    case_id: int,
    listing_id: int | None,
    notice_id: int | None,
    kind: str,
    when: datetime,
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "listing_id": listing_id,
        "notice_id": notice_id,
        "actor": "seed",
        "kind": kind,
        "detail": detail,
        "created_at": when,
    }


def _listing_events(
    case_id: int, listing_id: int, notice_id: int, row: _Row
) -> list[dict[str, Any]]:
    def change(old: str, new: str, when: datetime) -> dict[str, Any]:
        detail = {"from": old, "to": new, "reason": None, "reference": None}
        return _event(case_id, listing_id, notice_id, "status_changed", when, detail)

    out = []
    state = "queued"
    if row.submitted is not None:
        out.append(change(state, "submitted", row.submitted))
        state = "submitted"
    final = "removed" if row.status == "relisted" else row.status
    if row.status == "in_review" and row.submitted is not None:
        out.append(change(state, "in_review", row.submitted + STEP))
    elif row.status == "failed":
        out.append(change(state, "failed", row.created + STEP))
    elif row.decided is not None:
        if row.index < row.group.via_needs_info:
            asked = (row.submitted or row.created) + (
                row.decided - (row.submitted or row.created)
            ) / 2
            out.append(change(state, "needs_info", asked))
            state = "needs_info"
        out.append(change(state, final, row.decided))
    return out
