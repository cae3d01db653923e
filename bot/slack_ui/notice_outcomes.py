"""What became of a notice, said in its case's thread: it reached the platform after its
withdrawal was asked for, it was withdrawn before it left, a background lookup answered or could
not; a person's note; and what a person who pressed Withdraw is told."""

from __future__ import annotations

from datetime import timedelta

from bot.core.platforms import platform_name
from bot.core.states import ListingStatus
from bot.slack_ui.mrkdwn import Blocks, context, escape, escape_cut, listing_link, mrkdwn

# The statuses a person records with Record decision…, as the form and the thread name them.
PERSON_STATUSES: dict[str, str] = {
    ListingStatus.IN_REVIEW: "In review",
    ListingStatus.REMOVED: "Removed",
    ListingStatus.REJECTED: "Rejected",
    ListingStatus.NEEDS_INFO: "Needs information",
}


def every(interval: timedelta) -> str:
    """An interval in words: "30 minutes", "hour", "6 hours" (after "every")."""
    minutes = int(interval.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def arrived_after_withdrawal(*, platform: str, reference: str | None) -> tuple[str, Blocks]:
    """The platform has a notice whose withdrawal was asked for while it was on its way."""
    name = escape_cut(platform_name(platform), 100)
    ref = f" (ref. `{escape_cut(reference, 100)}`)" if reference else ""
    which = f"notice `{escape_cut(reference, 100)}`" if reference else "the notice"
    text = f"The notice reached {name}{ref} after its withdrawal was asked for: ask {name} to withdraw it"
    return text, [
        {
            "type": "section",
            "text": mrkdwn(
                f":warning: *The notice reached {name}*{ref} although its withdrawal was asked for: it was already on its way. Its listings stay withdrawn here; ask {name} to withdraw {which} through its IP programme (the bot cannot withdraw a notice a platform has)."
            ),
        }
    ]


def withdrawn_unsent(*, platform: str, why: str) -> tuple[str, Blocks]:
    """A notice whose withdrawal was asked for while it was on its way, and which never arrived."""
    name = escape_cut(platform_name(platform), 100)
    text = f"The notice to {name} is withdrawn, as asked, and will not be sent"
    return text, [
        context(
            f":leftwards_arrow_with_hook: The notice to {name} is withdrawn, as asked: {escape_cut(why, 500)}. It will not be sent."
        )
    ]


def lookup_sending(*, platform: str) -> tuple[str, Blocks]:
    """The held notice's platform has no record of it: safe to send, and sent now."""
    name = escape_cut(platform_name(platform), 100)
    text = f"{name} has no record of the notice: it is being sent now"
    return text, [
        context(
            f":mag: {name} answered: it has no record of the notice whose fate was unknown, so it never arrived. It is being sent now; this thread will say how it went."
        )
    ]


def lookup_problem(*, platform: str, error: str, stopped: bool) -> tuple[str, Blocks]:
    """Asking the platform about a held notice failed in a way worth saying (once)."""
    name = escape_cut(platform_name(platform), 100)
    then = (
        "Only a person can settle it now: check the platform, then press *It arrived…* or *Send again*."
        if stopped
        else "The bot keeps asking."
    )
    text = f"Could not ask {name} whether the held notice arrived: {escape_cut(error, 1000)}"
    return text, [
        context(
            f":grey_question: Could not ask {name} whether the held notice arrived: {escape_cut(error, 1000)}. {then}"
        )
    ]


def note_posted(
    *, actor: str, platform: str, status: str, listings: list[tuple[str, str]], note: str
) -> tuple[str, Blocks]:
    """A person's note on listings whose status it leaves as it is."""
    label = PERSON_STATUSES.get(status, status.replace("_", " "))
    shown = ", ".join(listing_link(url, key[:100]) for url, key in listings[:10])
    more = f" and {len(listings) - 10:,} more" if len(listings) > 10 else ""
    head = f":memo: *Note* on {escape_cut(platform_name(platform), 100)} ({escape(label)}): {shown}{more}"
    return f"Note: {escape_cut(note, 200)}", [
        {"type": "section", "text": mrkdwn(f"{head}\n> {escape_cut(note, 1500)}")},
        context(f"by <@{actor}>"),
    ]


def withdrawal_answer(*, was: str, platform: str, reference: str | None, count: int) -> str:
    """What the person who pressed Withdraw is told, by where the notice stood (`was`)."""
    name = escape(platform_name(platform))
    ref = f" (ref. {escape_cut(reference, 100)})" if reference else ""
    if was == "sending":
        return (
            f"This notice is already on its way to {name}: the bot cannot stop it. Its listings "
            f"are withdrawn here, and the thread will say whether it arrived; if it did, ask "
            f"{name} to withdraw it."
        )
    if was == "sent":
        if not count:
            return "Nothing left to withdraw: every listing of this notice is already decided."
        return (
            f"Withdrawn here. {name} already has the notice{ref}: ask {name} to withdraw it "
            "through its IP programme."
        )
    if was == "held":
        return (
            f"Withdrawn: it will not be sent again. It may have reached {name} before the "
            f"connection broke: check {name} and, if it is there, ask {name} to withdraw it."
        )
    return f"Withdrawn: the notice was never sent to {name}."


def withdrawal_note(*, was: str, platform: str) -> str:
    """The line under the thread's "Withdrawn" reply, by where the notice stood (`was`)."""
    name = platform_name(platform)
    if was == "sending":
        return (
            f"The notice was already on its way to {name}; this thread will say whether it arrived"
        )
    if was == "sent":
        return f"{name} already has the notice: ask {name} to withdraw it"
    if was == "held":
        return f"The notice may have reached {name}: check {name} and, if it is there, ask {name} to withdraw it"
    return f"The notice was never sent to {name}"
