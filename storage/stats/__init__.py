"""The figures: the weekly digest's (`period`) and the platform scorecard's (`scorecard`), computed
by the database.

Every figure is an aggregate (GROUP BY, COUNT, SUM over CASE, percentiles); no listing row is
loaded into Python. The same statements run on SQLite and PostgreSQL; what differs between them is
kept in two small helpers in `sql`, `epoch_seconds` (whole seconds since 1970 of a UTC timestamp)
and `json_text` (a key of a JSON column as text), and in `outcomes.removal_times` (how a
percentile is found). The expressions both reports share are in `outcomes`.

Definitions shared by both reports:

- **Reported in a period** — a listing whose `created_at` lies in [start, end).
- **Outcome at `now`** — removed, rejected, needs info, withdrawn, or open (not decided yet:
  queued, submitted, in review, failed). A decision counts only if it was made before `now`
  (`decided_at < now`), so a digest built later for a past moment shows what was known then;
  with `now` = the present this is simply the listing's status.
- **Awaiting you** — open at `now`, not yet submitted, and its notice waiting at `now` for a
  person to file it on a portal (`outcomes.awaiting_you_at`): its notice's status if the notice
  has not changed since `now`, else the last of its filing events before `now` (the guide posted,
  confirmed, failed, withdrawn). Counted apart: the digest's "still open" leaves these out.
- **Relisted counts as removed.** A `relisted` listing was removed and later reported again, so
  for every takedown figure (removed, takedown rate, time to removal) it is a removal.
- **Takedown rate** — removed / (removed + rejected); None when nothing was decided.
- **Corrections count as the final decision.** A decision an approver corrected is replaced by
  the correction (a listing is one row, counted once, by its status now): a removal corrected away
  is no removal. A correction to another decision keeps `decided_at` (when the corrected decision
  was recorded: the platform decided then); one back to in review clears it, and the next decision
  sets it. A needs-info decision corrected away (a `decision_corrected` event whose `corrects`
  names its `status_changed` event) was never asked, for the scorecard's "needed info". For a
  past `now`, a corrected listing is seen as it stands now: reopened, as undecided; corrected into
  another decision, as that one since the first was recorded.
- **Time to removal** — from `submitted_at` (the first submission, kept through corrections) to
  `decided_at` of removed listings (the final removal's, see above), in whole seconds
  (each timestamp truncated to the second: `strftime('%s', …)` on SQLite, which stores naive UTC
  text, and `floor(date_part('epoch', …))` on PostgreSQL), reported in hours. Whole seconds
  rather than `julianday()` differences: julianday is a float of days with millisecond
  resolution, so the two databases could disagree in the last digits and at SLA boundaries.
- **Percentiles: nearest rank.** The p-th percentile of n sorted durations is the one at rank
  ceil(p/100 · n) (1-based): the median is the ceil(n/2)-th, p90 the ceil(0.9·n)-th. It is always
  an observed duration. PostgreSQL computes it with `percentile_disc` (exactly this rank, see
  `NEAREST_RANK_FRACTIONS`); SQLite, which has no such aggregate, with ROW_NUMBER/COUNT windows
  in integer arithmetic. Both databases agree exactly.
- **Past SLA** — still awaiting the platform at `now` (queued, submitted, in review, needs info;
  not failed, which is ours to fix — the same rule as the SLA reminders) and its SLA clock, started
  at submission or, if never submitted, at the report, started more than `sla[platform]` days
  before `now`.
"""
