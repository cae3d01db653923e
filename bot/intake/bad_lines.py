"""The lines of a report that cannot be filed: what the form says of them, and the full list.

The form shows them beside their field, line by line, as many as Slack shows in a form error
(`bot.slack_ui.report_form.ERROR_LIMIT`); when more remain it says so, and the person is sent
every one as a CSV file (`bad_lines_csv`). The file has a `url` column, so the person can fix the
URLs in it and upload it in the form again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack_ui.report_form import (
    ERROR_LIMIT,
    FILE_FIELD,
    SKIP_OPTION,
    URLS,
    fit_lines,
    more_sent_as_file,
)

_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a cell a spreadsheet would run as a formula


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that cannot be filed: its number (typed, or in the report's file), text and why."""

    line: int
    text: str
    reason: str
    in_file: bool = False

    @property
    def where(self) -> str:
        return f"file line {self.line}" if self.in_file else f"line {self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def good_ones(count: int) -> str:
    """What the form says to file the `count` good lines without the bad ones."""
    return f"Tick “{SKIP_OPTION}” below to file the {count:,} good one{'s' if count != 1 else ''}."


def form_errors(bad: Sequence[BadLine], *, good: int) -> tuple[dict[str, str], int]:
    """The form's errors for the `bad` lines (typed ones beside the URL field, a file's beside the
    file input), with the way to file the `good` ones; and how many bad lines they leave out."""
    errors: dict[str, str] = {}
    typed = [line for line in bad if not line.in_file]
    in_file = [line for line in bad if line.in_file]
    shown = 0
    for field, lines in ((URLS, typed), (FILE_FIELD, in_file)):
        if not lines:
            continue
        says_good = good and (field == URLS or not typed)  # once, in the first field with errors
        errors[field], count = fit_lines(
            [str(line) for line in lines],
            limit=ERROR_LIMIT,
            more=more_sent_as_file,
            end=good_ones(good) if says_good else "",
        )
        shown += count
    return errors, len(bad) - shown


def bad_lines_csv(bad: Sequence[BadLine]) -> bytes:
    """Every bad line as CSV (UTF-8 with a byte-order mark, as spreadsheets open it): where it
    was, its number, the URL as given, and why it cannot be filed."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["source", "line", "url", "reason"])
    for line in bad:
        source = "file" if line.in_file else "typed"
        writer.writerow([source, line.line, _inert(line.text), _inert(line.reason)])
    return out.getvalue().encode("utf-8-sig")


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA) else cell
