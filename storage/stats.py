"""The figures: the weekly digest's and the platform scorecard's, computed by the database.

Every figure is an aggregate (GROUP BY, COUNT, SUM over CASE, percentiles); no listing row is
loaded into Python. The same statements run on SQLite and PostgreSQL; what differs between them is
kept in two small helpers, `_epoch` (whole seconds since 1970 of a UTC timestamp) and
`_json_text` (a key of a JSON column as text), and in `_removal_times` (how a percentile is found).

Definitions shared by both reports:

- **Reported in a period** — a listing whose `created_at` lies in [start, end).
- **Outcome at `now`** — removed, rejected, needs info, withdrawn, or open (not decided yet:
  queued, submitted, in review, failed). A decision counts only if it was made before `now`
  (`decided_at < now`), so a digest built later for a past moment shows what was known then;
  with `now` = the present this is simply the listing's status.
- **Relisted counts as removed.** A `relisted` listing was removed and later reported again, so
  for every takedown figure (removed, takedown rate, time to removal) it is a removal.
- **Takedown rate** — removed / (removed + rejected); None when nothing was decided.
- **Time to removal** — from `submitted_at` to `decided_at` of removed listings, in whole seconds
  (each timestamp truncated to the second: `strftime('%s', …)` on SQLite, which stores naive UTC
  text, and `floor(date_part('epoch', …))` on PostgreSQL), reported in hours. Whole seconds
  rather than `julianday()` differences: julianday is a float of days with millisecond
  resolution, so the two databases could disagree in the last digits and at SLA boundaries.
- **Percentiles: nearest rank.** The p-th percentile of n sorted durations is the one at rank
  ceil(p/100 · n) (1-based): the median is the ceil(n/2)-th, p90 the ceil(0.9·n)-th. It is always
  an observed duration. PostgreSQL computes it with `percentile_disc` (exactly this rank, see
  `_NEAREST_RANK_FRACTIONS`); SQLite, which has no such aggregate, with ROW_NUMBER/COUNT windows
  in integer arithmetic. Both databases agree exactly.
- **Past SLA** — still awaiting the platform at `now` (queued, submitted, in review, needs info;
  not failed, which is ours to fix — the same rule as the SLA reminders) and its SLA clock, started
  at submission or, if never submitted, at the report, started more than `sla[platform]` days
  before `now`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    and_,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from storage.models import Case, Event, Listing, Notice, UTCDateTime

DEFAULT_SLA_DAYS = 7
TOP_SELLERS = 5
OLDEST_OPEN = 5

# A listing's outcome at a moment (see `_outcome_in`).
REMOVED = "removed"
REJECTED = "rejected"
NEEDS_INFO = "needs_info"
WITHDRAWN = "withdrawn"
OPEN = "open"

# Statuses that are open whatever `decided_at` says, and the statuses behind each decided outcome.
_UNDECIDED = ("queued", "submitted", "in_review", "failed")
_DECIDED_AS = {
    REMOVED: ("removed", "relisted"),
    REJECTED: ("rejected",),
    NEEDS_INFO: ("needs_info",),
    WITHDRAWN: ("withdrawn",),
}


# -- the two dialect helpers ----------------------------------------------------------------------


class _epoch(FunctionElement[int]):
    """Whole seconds since 1970-01-01 UTC of a timestamp column (fraction truncated)."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(_epoch, "sqlite")
def _epoch_sqlite(element: _epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps naive UTC text ('YYYY-MM-DD HH:MM:SS.ffffff'); strftime('%s') reads it as UTC.
    (arg,) = element.clauses
    return compiler.process(cast(func.strftime("%s", arg), Integer), **kw)


@compiles(_epoch, "postgresql")
def _epoch_postgresql(element: _epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part() is float8, EXTRACT numeric: the same whole second, at a fraction of the cost
    # over a million rows. The float is the microsecond count divided by 10^6, rounded once; a
    # fraction is at most .999999, 10^-6 below the next second, far more than that rounding can
    # move it before the year 2200, so floor() gives the same second as the exact value.
    (arg,) = element.clauses
    return compiler.process(cast(func.floor(func.date_part("epoch", arg)), BigInteger), **kw)


class _json_text(FunctionElement[str]):
    """A top-level key of a JSON column as text: `column ->> 'key'` on PostgreSQL,
    `json_extract(column, '$.key')` on SQLite. The key is written into the SQL (it is one of
    ours, checked below), so a partial index on the same expression can serve the query."""

    type = String()
    name = "json_text"
    inherit_cache = True

    def __init__(self, column: Any, key: str) -> None:
        if not key.isidentifier():
            raise ValueError(f"unexpected JSON key {key!r}")
        super().__init__(col(column), literal_column(f"'{key}'"))


@compiles(_json_text, "sqlite")
def _json_text_sqlite(element: _json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = element.clauses
    path = "'$." + compiler.process(key, **kw).strip("'") + "'"
    return f"json_extract({compiler.process(column, **kw)}, {path})"


@compiles(_json_text, "postgresql")
def _json_text_postgresql(element: _json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = element.clauses
    return f"({compiler.process(column, **kw)} ->> {compiler.process(key, **kw)})"


# -- result shapes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlatformFigures:
    """One platform's listings reported in the period, by outcome at `now` (they sum to
    `reported`), with its removal times. `platform` is "" for the all-platforms total."""

    platform: str
    reported: int
    removed: int
    rejected: int
    needs_info: int
    open: int
    withdrawn: int
    relisted: int  # re-reports of a listing removed before (relisted_from set)
    median_hours: float | None
    p90_hours: float | None

    @property
    def decided(self) -> int:
        return self.removed + self.rejected

    @property
    def takedown_rate(self) -> float | None:
        return self.removed / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class OldListing:
    """An open listing, with what a link to its case's thread needs."""

    listing_id: int
    case_id: int
    platform: str
    key: str
    url: str
    status: str
    created_at: datetime
    channel_id: str | None
    thread_ts: str | None


@dataclass(frozen=True, slots=True)
class SellerCount:
    seller: str
    listings: int


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """What `period_figures` returns. `platforms` is sorted by listings reported (most first).

    `past_sla` and `oldest_open` look at every listing open at `now`, whenever it was reported:
    a listing stuck for a month matters most. The rest counts listings reported in the period.
    """

    start: datetime
    end: datetime
    now: datetime
    cases: int
    platforms: tuple[PlatformFigures, ...]
    total: PlatformFigures
    past_sla: Mapping[str, int]  # platform → listings past their SLA at `now`
    oldest_open: tuple[OldListing, ...]
    top_sellers: tuple[SellerCount, ...]

    @property
    def past_sla_total(self) -> int:
        return sum(self.past_sla.values())

    def platform(self, platform: str) -> PlatformFigures | None:
        return next((item for item in self.platforms if item.platform == platform), None)


@dataclass(frozen=True, slots=True)
class PlatformScore:
    """One platform's record, all time or since a date (listings by report date, notices by
    send date)."""

    platform: str
    notices_sent: int
    reported: int
    removed: int
    rejected: int
    median_hours: float | None
    p90_hours: float | None
    sla_breaches: int  # decided later than the SLA, or still open past it
    needed_info: int  # listings the platform ever asked for more information about

    @property
    def decided(self) -> int:
        return self.removed + self.rejected

    @property
    def takedown_rate(self) -> float | None:
        return self.removed / self.decided if self.decided else None

    @property
    def needs_info_share(self) -> float | None:
        return self.needed_info / self.reported if self.reported else None


# -- shared expressions ---------------------------------------------------------------------------


def _when(value: datetime) -> ColumnElement[datetime]:
    """A bound timestamp stored the way the columns store theirs (naive UTC text on SQLite)."""
    return literal(value, UTCDateTime())


def _outcome_in(now: datetime, *outcomes: str) -> ColumnElement[bool]:
    """Whether a listing's outcome at `now` is one of `outcomes`.

    Open: not decided (queued, submitted, in review, failed), or decided at or after `now`.
    Otherwise the status is the outcome, relisted counting as removed. Written as tests of the
    status and `decided_at` rather than as a CASE naming the outcome: the figures ask this several
    times per listing, and a million listings make the difference."""
    status = col(Listing.status)
    decided_at = col(Listing.decided_at)
    statuses = [name for outcome in outcomes if outcome != OPEN for name in _DECIDED_AS[outcome]]
    if OPEN in outcomes:
        # A decided status is then wanted whether the decision was made before `now` or not.
        return or_(status.in_([*_UNDECIDED, *statuses]), decided_at >= _when(now))
    return and_(status.in_(statuses), or_(decided_at.is_(None), decided_at < _when(now)))


def _sla_clock(now: datetime) -> ColumnElement[datetime]:
    """When a listing's SLA clock started, as known at `now`: its submission, else its report."""
    submitted = col(Listing.submitted_at)
    return sql_case(
        (and_(submitted.is_not(None), submitted < _when(now)), submitted),
        else_=col(Listing.created_at),
    )


def _by_platform(
    sla: Mapping[str, int], default_sla: int, value: Callable[[int], Any]
) -> ColumnElement[Any]:
    """CASE platform WHEN … THEN value(sla[platform]) … ELSE value(default_sla) END, naming only
    the platforms whose SLA differs from the default: each WHEN is one more comparison per row."""
    special = {platform: value(days) for platform, days in sla.items() if days != default_sla}
    if not special:
        return value(default_sla)
    return sql_case(special, value=col(Listing.platform), else_=value(default_sla))


def _past_sla(now: datetime, sla: Mapping[str, int], default_sla: int) -> ColumnElement[bool]:
    """Awaiting the platform at `now`, with the SLA clock started more than SLA days before."""
    deadline = _by_platform(sla, default_sla, lambda days: _when(now - timedelta(days=days)))
    return and_(
        col(Listing.created_at) < _when(now),
        col(Listing.status) != "failed",
        _outcome_in(now, OPEN, NEEDS_INFO),
        _sla_clock(now) < deadline,
    )


def _hours(seconds: int | None) -> float | None:
    return None if seconds is None else seconds / 3600


# p → the fraction `percentile_disc` is given. PostgreSQL takes the row at ceil(fraction · n) in
# float8; for these two that is exactly ceil(p · n / 100) for every n (0.5 is exact; the float
# nearest 0.9 exceeds it by less than the product's rounding can show). Another percentile needs
# the same check before it is added here.
_NEAREST_RANK_FRACTIONS = {50: 0.5, 90: 0.9}


def _nearest_rank(seconds: ColumnElement[int], percent: int) -> ColumnElement[int]:
    """PostgreSQL: the nearest-rank `percent`-th percentile of `seconds` in a group."""
    return func.percentile_disc(_NEAREST_RANK_FRACTIONS[percent]).within_group(seconds)


async def _removal_times(
    session: AsyncSession, *, where: Sequence[ColumnElement[bool]], now: datetime, overall: bool
) -> dict[str, tuple[float | None, float | None]]:
    """Platform → (median, p90) hours from submission to removal (nearest rank); with `overall`,
    under "" the same over all platforms, from the same pass over the removals."""
    seconds = _epoch(col(Listing.decided_at)) - _epoch(col(Listing.submitted_at))
    platform = col(Listing.platform)
    removals = (
        *where,
        _outcome_in(now, REMOVED),
        col(Listing.submitted_at).is_not(None),
        col(Listing.decided_at).is_not(None),
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # ROLLUP adds the all-platforms row (platform NULL), even when there is no removal at all.
        percentiles = (
            await session.execute(
                select(platform, _nearest_rank(seconds, 50), _nearest_rank(seconds, 90))
                .where(*removals)
                .group_by(func.rollup(platform) if overall else platform)
            )
        ).all()
        return {name or "": (_hours(mid), _hours(high)) for name, mid, high in percentiles}

    ranked = (
        select(
            platform.label("platform"),
            seconds.label("seconds"),
            func.row_number().over(partition_by=platform, order_by=seconds).label("rank"),
            func.count().over(partition_by=platform).label("n"),
            *(
                (
                    func.row_number().over(order_by=seconds).label("rank_all"),
                    func.count().over().label("n_all"),
                )
                if overall
                else (literal(0).label("rank_all"), literal(1).label("n_all"))
            ),
        )
        .where(*removals)
        .subquery()
    )
    c = ranked.c

    # The p-th percentile is the value at the smallest rank r with r >= p/100 · n, i.e. r*100 >= p*n:
    # the least duration among the rows ranked there or later.
    def at(rank: Any, n: Any, percent: int) -> ColumnElement[int]:
        return func.min(sql_case((rank * 100 >= n * percent, c.seconds)))

    rows = (
        await session.execute(
            select(
                c.platform,
                at(c.rank, c.n, 50),
                at(c.rank, c.n, 90),
                at(c.rank_all, c.n_all, 50),
                at(c.rank_all, c.n_all, 90),
            ).group_by(c.platform)
        )
    ).all()
    times = {name: (_hours(mid), _hours(high)) for name, mid, high, _, _ in rows}
    if not overall:
        return times
    # Overall: each platform's group holds the least of its rows ranked there or later overall;
    # the least of those is the overall value.
    mids = [mid for *_, mid, _ in rows if mid is not None]
    highs = [high for *_, high in rows if high is not None]
    times[""] = (_hours(min(mids)) if mids else None, _hours(min(highs)) if highs else None)
    return times


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(sql_case((condition, 1), else_=0)), 0)


# -- the digest's figures -------------------------------------------------------------------------


async def _no_jit(session: AsyncSession) -> None:
    """PostgreSQL: no JIT compilation for these statements (this transaction only). Their cost
    estimates sit near `jit_above_cost` at a million listings; past it, compiling adds about 0.3 s
    and saves nothing on scans this simple."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))


async def period_figures(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    sla: Mapping[str, int],
    default_sla: int = DEFAULT_SLA_DAYS,
) -> PeriodFigures:
    """The figures of the listings reported in [start, end), their outcomes as of `now`, and the
    listings open at `now` (past SLA, oldest). `sla` maps platform → SLA days; other platforms
    have `default_sla`. All datetimes are aware."""
    await _no_jit(session)
    in_period = [col(Listing.created_at) >= _when(start), col(Listing.created_at) < _when(end)]
    counts = [
        func.count(),
        *(_count_if(_outcome_in(now, name)) for name in (REMOVED, REJECTED, NEEDS_INFO)),
        _count_if(_outcome_in(now, OPEN)),
        _count_if(_outcome_in(now, WITHDRAWN)),
        _count_if(col(Listing.relisted_from).is_not(None)),
    ]
    rows = (
        await session.execute(
            select(col(Listing.platform), *counts).where(*in_period).group_by(col(Listing.platform))
        )
    ).all()
    times = await _removal_times(session, where=in_period, now=now, overall=True)

    platforms = sorted(
        (
            _platform_figures(platform, [int(n) for n in numbers], times.get(platform))
            for platform, *numbers in rows
        ),
        key=lambda item: (-item.reported, item.platform),
    )
    sums = [sum(getattr(item, name) for item in platforms) for name in _COUNT_FIELDS]
    total = _platform_figures("", sums, times[""])

    cases = (
        await session.execute(
            select(func.count())
            .select_from(Case)
            .where(col(Case.created_at) >= _when(start), col(Case.created_at) < _when(end))
        )
    ).scalar_one()

    past = await session.execute(
        select(col(Listing.platform), func.count())
        .where(_past_sla(now, sla, default_sla))
        .group_by(col(Listing.platform))
    )

    open_now = and_(col(Listing.created_at) < _when(now), _outcome_in(now, OPEN, NEEDS_INFO))
    oldest = await session.execute(
        select(
            col(Listing.id),
            col(Listing.case_id),
            col(Listing.platform),
            col(Listing.key),
            col(Listing.url),
            col(Listing.status),
            col(Listing.created_at),
            col(Case.channel_id),
            col(Case.thread_ts),
        )
        .join(Case, col(Case.id) == col(Listing.case_id))
        .where(open_now)
        .order_by(col(Listing.created_at), col(Listing.id))
        .limit(OLDEST_OPEN)
    )

    seller = func.trim(col(Listing.seller))
    sellers = await session.execute(
        select(seller, func.count())
        .where(*in_period, col(Listing.seller).is_not(None), seller != "")
        .group_by(seller)
        .order_by(func.count().desc(), seller)
        .limit(TOP_SELLERS)
    )

    return PeriodFigures(
        start=start,
        end=end,
        now=now,
        cases=int(cases),
        platforms=tuple(platforms),
        total=total,
        past_sla={platform: int(count) for platform, count in past.all()},
        oldest_open=tuple(_old_listing(row) for row in oldest.all()),
        top_sellers=tuple(SellerCount(name, int(count)) for name, count in sellers.all()),
    )


_COUNT_FIELDS = ("reported", "removed", "rejected", "needs_info", "open", "withdrawn", "relisted")


def _platform_figures(
    platform: str, counts: Sequence[int], times: tuple[float | None, float | None] | None
) -> PlatformFigures:
    reported, removed, rejected, needs_info, open_, withdrawn, relisted = counts
    median, p90 = times or (None, None)
    return PlatformFigures(
        platform=platform,
        reported=reported,
        removed=removed,
        rejected=rejected,
        needs_info=needs_info,
        open=open_,
        withdrawn=withdrawn,
        relisted=relisted,
        median_hours=median,
        p90_hours=p90,
    )


def _old_listing(row: Any) -> OldListing:
    listing_id, case_id, platform, key, url, status, created_at, channel_id, thread_ts = row
    return OldListing(
        listing_id=int(listing_id),
        case_id=int(case_id),
        platform=platform,
        key=key,
        url=url,
        status=status,
        created_at=created_at,
        channel_id=channel_id,
        thread_ts=thread_ts,
    )


# -- the scorecard --------------------------------------------------------------------------------


async def scorecard(
    session: AsyncSession,
    *,
    since: datetime | None,
    now: datetime,
    sla: Mapping[str, int],
    default_sla: int = DEFAULT_SLA_DAYS,
) -> list[PlatformScore]:
    """Each platform's record for listings reported in [since, now) (all time when `since` is
    None), most listings first.

    SLA breaches: listings removed or rejected more than SLA days after their clock started
    (submission, else report), plus those still awaiting the platform past their SLA at `now`.
    Needed info: listings with a `status_changed` event to `needs_info`, or in that state now.
    """
    await _no_jit(session)
    where = [col(Listing.created_at) < _when(now)]
    if since is not None:
        where.append(col(Listing.created_at) >= _when(since))

    clock = func.coalesce(col(Listing.submitted_at), col(Listing.created_at))
    limit_seconds = _by_platform(sla, default_sla, lambda days: days * 86400)
    decided_late = and_(
        _outcome_in(now, REMOVED, REJECTED),
        _epoch(col(Listing.decided_at)) - _epoch(clock) > limit_seconds,
    )
    # `IN (subquery)` rather than a correlated EXISTS: both databases evaluate it once (a hashed
    # subplan, an ephemeral index) instead of once per listing. The LIKE on the stored JSON text
    # is a cheap pre-filter (no JSON parsing for the many other events); the JSON test decides.
    asked = select(col(Event.listing_id)).where(
        col(Event.kind) == "status_changed",
        cast(col(Event.detail), Text).like("%needs_info%"),
        _json_text(Event.detail, "to") == "needs_info",
        col(Event.created_at) < _when(now),
    )
    asked_for_info = or_(_outcome_in(now, NEEDS_INFO), col(Listing.id).in_(asked))
    listing_rows = await session.execute(
        select(
            col(Listing.platform),
            func.count(),
            _count_if(_outcome_in(now, REMOVED)),
            _count_if(_outcome_in(now, REJECTED)),
            _count_if(or_(decided_late, _past_sla(now, sla, default_sla))),
            _count_if(asked_for_info),
        )
        .where(*where)
        .group_by(col(Listing.platform))
    )
    listings = {platform: tuple(map(int, numbers)) for platform, *numbers in listing_rows.all()}
    times = await _removal_times(session, where=where, now=now, overall=False)

    sent_where = [col(Notice.status) == "sent"]
    if since is not None:
        sent_where.append(col(Notice.sent_at) >= _when(since))
    notice_rows = await session.execute(
        select(col(Notice.platform), func.count()).where(*sent_where).group_by(col(Notice.platform))
    )
    notices = {platform: int(count) for platform, count in notice_rows.all()}

    scores = []
    for platform in set(listings) | set(notices):
        reported, removed, rejected, breaches, needed_info = listings.get(platform, (0,) * 5)
        median, p90 = times.get(platform, (None, None))
        scores.append(
            PlatformScore(
                platform=platform,
                notices_sent=notices.get(platform, 0),
                reported=reported,
                removed=removed,
                rejected=rejected,
                median_hours=median,
                p90_hours=p90,
                sla_breaches=breaches,
                needed_info=needed_info,
            )
        )
    return sorted(scores, key=lambda item: (-item.reported, -item.notices_sent, item.platform))
