"""Block Kit for platforms' emails (`bot.mailbox`): the suggestion in a case's thread with its
buttons, the form to change it, the triage inbox and the form to attach a message to a case.

Everything the email says (sender, subject, text) is the platform's or a stranger's words: it is
escaped and cut to Slack's limits here. Action ids are read by `handlers.mail`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.slack_ui.mrkdwn import Blocks, button, context, escape_cut, listing_link, mrkdwn, plain

# Action ids (handlers.mail registers one listener each) and modal callback ids.
APPLY = "mail_apply"
CHANGE = "mail_change"
NOT_ABOUT = "mail_not_about"
ATTACH = "mail_attach"
DISMISS = "mail_dismiss"
CHANGE_VIEW = "mail_change_form"
ATTACH_VIEW = "mail_attach_form"
CASE_FIELD = "case"
NOTE_FIELD = "note"

OUTCOME_LABELS = {
    "removed": "Removed",
    "rejected": "Rejected",
    "needs_info": "Needs information",
    "received": "Received (in review)",
    "unknown": "Unknown: leave as it is",
}
MATCHED_BY = {
    "reply_header": "it answers our emailed notice",
    "case_ref": "it names the case",
    "complaint_number": "it quotes the complaint number",
    "listing": "it names the case's listings",
    "sender": "its sender is the only platform awaiting an answer",
    "person": "attached by a person",
}
_EXCERPT = 600
_SHOWN_LISTINGS = 20
_FORM_LISTINGS = 40  # a modal holds 100 blocks; one select each, and room to spare
_INBOX_SHOWN = 10
_SECTION_TEXT = 2900  # of a section's 3,000 characters; room for the last line


@dataclass(frozen=True)
class MailCard:
    """What the thread shows of one email: who sent it, about what, a piece of its text, and the
    decision suggested for each listing (key, url, outcome)."""

    mail_id: int
    sender: str
    subject: str
    excerpt: str
    sha256: str
    matched_by: str | None
    listings: Sequence[tuple[str, str, str]]
    source: str = "mailbox"


def _head(card: MailCard) -> Blocks:
    where = "forwarded in Slack" if card.source == "slack" else "in the team's mailbox"
    why = MATCHED_BY.get(card.matched_by or "", "")
    lines = [
        f":envelope: *A platform's email {where}*",
        f"*From:* {escape_cut(card.sender or 'unknown sender', 200)}",
        f"*Subject:* {escape_cut(card.subject or '(no subject)', 300)}",
    ]
    blocks: Blocks = [{"type": "section", "text": mrkdwn("\n".join(lines))}]
    excerpt = " ".join(card.excerpt.split())
    if excerpt:
        quoted = escape_cut(excerpt, _EXCERPT)
        blocks.append({"type": "section", "text": mrkdwn(f"> {quoted}")})
    facts = f"SHA-256 `{card.sha256[:12]}`" + (f" · matched: {why}" if why else "")
    blocks.append(context(facts))
    return blocks


def _outcomes(card: MailCard, *, verb: str) -> dict[str, Any]:
    """The decision per listing, as many lines as a section holds, then how many more."""
    text = f"*{verb}*"
    shown = 0
    for key, url, outcome in card.listings[:_SHOWN_LISTINGS]:
        line = f"\n• {listing_link(url, key[:100])}: *{OUTCOME_LABELS.get(outcome, outcome)}*"
        if len(text) + len(line) > _SECTION_TEXT:
            break
        text, shown = text + line, shown + 1
    if len(card.listings) > shown:
        text += f"\n… and {len(card.listings) - shown:,} more"
    if not card.listings:
        text += "\n(no open listing to decide)"
    return {"type": "section", "text": mrkdwn(text)}


def suggestion(card: MailCard) -> tuple[str, Blocks]:
    """The suggestion posted in the case's thread, with Apply / Change… / Not about this case."""
    value = str(card.mail_id)
    blocks = [
        *_head(card),
        _outcomes(card, verb="Suggested decision"),
        {
            "type": "actions",
            "block_id": f"mail:{value}",
            "elements": [
                button("Apply", APPLY, value, style="primary"),
                button("Change…", CHANGE, value),
                button("Not about this case", NOT_ABOUT, value),
            ],
        },
    ]
    return f"A platform's email: {card.subject or '(no subject)'}"[:300], blocks


def settled(card: MailCard, *, note: str) -> tuple[str, Blocks]:
    """The suggestion once it is settled (applied, changed, moved to the inbox): no buttons,
    and `note` (mrkdwn, ours) saying what happened and who did it."""
    verb = "Applied" if note.startswith(":white_check_mark:") else "Suggested"
    blocks = [*_head(card), _outcomes(card, verb=verb), context(note)]
    return f"A platform's email: {card.subject or '(no subject)'}"[:300], blocks


def applied_note(actor: str, *, automatically: bool) -> str:
    if automatically:
        return (
            ":white_check_mark: Applied automatically (`mailbox.auto_apply`): the email answers "
            "this case's notice and says one thing."
        )
    return f":white_check_mark: Applied by <@{actor}>."


def change_view(mail_id: int, listings: Sequence[tuple[int, str, str]]) -> dict[str, Any]:
    """The form to pick another outcome per listing (listing id, key, suggested outcome)."""
    options = [
        {"text": plain(label, limit=75), "value": outcome}
        for outcome, label in OUTCOME_LABELS.items()
    ]
    blocks: Blocks = [
        {
            "type": "section",
            "text": mrkdwn("What did the platform decide for each listing?"),
        }
    ]
    for listing_id, key, outcome in listings[:_FORM_LISTINGS]:
        chosen = next((o for o in options if o["value"] == outcome), options[-1])
        blocks.append(
            {
                "type": "input",
                "block_id": f"listing:{listing_id}",
                "label": plain(key, limit=2000),
                "element": {
                    "type": "static_select",
                    "action_id": "outcome",
                    "options": options,
                    "initial_option": chosen,
                },
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": NOTE_FIELD,
            "optional": True,
            "label": plain("Note (kept with the decision)", limit=2000),
            "element": {"type": "plain_text_input", "action_id": NOTE_FIELD, "max_length": 500},
        }
    )
    return {
        "type": "modal",
        "callback_id": CHANGE_VIEW,
        "private_metadata": f'{{"mail": {mail_id}}}',
        "title": plain("Platform's decision", limit=24),
        "submit": plain("Apply", limit=24),
        "close": plain("Cancel", limit=24),
        "blocks": blocks,
    }


def chosen_outcomes(values: dict[str, Any]) -> dict[int, str]:
    """Listing id → outcome, from a submitted change form's state."""
    chosen: dict[int, str] = {}
    for block_id, actions in values.items():
        if not block_id.startswith("listing:") or not block_id[8:].isdigit():
            continue
        option = ((actions.get("outcome") or {}).get("selected_option")) or {}
        if option.get("value") in OUTCOME_LABELS:
            chosen[int(block_id[8:])] = str(option["value"])
    return chosen


def attach_view(mail_id: int, subject: str) -> dict[str, Any]:
    """The form asking which case an email from the inbox is about."""
    return {
        "type": "modal",
        "callback_id": ATTACH_VIEW,
        "private_metadata": f'{{"mail": {mail_id}}}',
        "title": plain("Attach to case", limit=24),
        "submit": plain("Attach", limit=24),
        "close": plain("Cancel", limit=24),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(f"*{escape_cut(subject or '(no subject)', 300)}*"),
            },
            {
                "type": "input",
                "block_id": CASE_FIELD,
                "label": plain("Case", limit=2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": CASE_FIELD,
                    "max_length": 20,
                    "placeholder": plain("TD-42", limit=150),
                },
            },
        ],
    }


@dataclass(frozen=True)
class Waiting:
    """An email in the triage inbox, as listed; `unread` says why the reader did not read it."""

    mail_id: int
    sender: str
    subject: str
    excerpt: str
    received: str  # a date, already formatted
    unread: str | None = None


@dataclass(frozen=True)
class Inbox:
    """What the triage inbox lists: emails no case was found for (`waiting`, `total` of them),
    emails kept but not read (`unread`: skipped by the reader, nobody has acted on them), and how
    many of our own notices came back (`loops`: kept, never listed, they need no decision)."""

    waiting: Sequence[Waiting] = ()
    total: int = 0
    unread: Sequence[Waiting] = ()
    unread_total: int = 0
    loops: int = 0


def _listed(item: Waiting, *, buttons: bool) -> Blocks:
    excerpt = escape_cut(" ".join(item.excerpt.split()), 200)
    line = (
        f"*{escape_cut(item.subject or '(no subject)', 200)}*\n"
        f"{escape_cut(item.sender or 'unknown sender', 200)} · {escape_cut(item.received, 40)}"
        + (f"\n> {excerpt}" if excerpt else "")
        + (f"\n_kept but not read: {escape_cut(item.unread, 300)}_" if item.unread else "")
    )
    blocks: Blocks = [{"type": "section", "text": mrkdwn(line)}]
    if buttons:
        value = str(item.mail_id)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"{'unread' if item.unread else 'inbox'}:{value}",
                "elements": [
                    button("Attach to case…", ATTACH, value, style="primary"),
                    button("Dismiss", DISMISS, value),
                ],
            }
        )
    return blocks


def unread_line(total: int) -> str:
    many = total != 1
    return f"{total:,} email{'s' if many else ''} kept but not read"


def loops_line(loops: int) -> str:
    many = loops != 1
    return (
        f"{loops:,} of our own notices came back to the mailbox (a mail loop): "
        f"kept, not listed here; {'they need' if many else 'it needs'} no decision."
    )


def inbox(box: Inbox, *, buttons: bool = True, shown: int = _INBOX_SHOWN) -> tuple[str, Blocks]:
    """The triage inbox: emails no case was found for, then those kept but not read, each with
    Attach to case… and Dismiss; a footer counts the mail loops kept."""
    said = [waiting_line(box.total)] if box.total else []
    said += [unread_line(box.unread_total)] if box.unread_total else []
    text = ("; ".join(said) or "No platform email waits in the inbox") + "."
    blocks: Blocks = [] if said else [{"type": "section", "text": mrkdwn(text)}]
    if box.total:
        blocks.append({"type": "section", "text": mrkdwn(f"*{waiting_line(box.total)}*")})
        for item in box.waiting[:shown]:
            blocks += _listed(item, buttons=buttons)
    if box.unread_total:
        head = f"*{unread_line(box.unread_total)}* (too large, malformed or unreadable)"
        blocks.append({"type": "section", "text": mrkdwn(head)})
        for item in box.unread[:shown]:
            blocks += _listed(item, buttons=buttons)
    notes = []
    if box.total > len(box.waiting[:shown]) or box.unread_total > len(box.unread[:shown]):
        notes.append("The oldest are shown; settle them to see more.")
    if box.loops:
        notes.append(loops_line(box.loops))
    if notes:
        blocks.append(context(" ".join(notes)))
    return text, blocks


def waiting_line(total: int) -> str:
    """`3 platform emails wait in the inbox` (the inbox's head, and the digest's line)."""
    many = total != 1
    return f"{total:,} platform email{'s' if many else ''} wait{'' if many else 's'} in the inbox"


def sources_line(sources: Mapping[str, int], *, waiting: int | None = None, unread: int = 0) -> str:
    """Where the decisions came from (`storage.stats.sources`), and what waits in the inbox
    (emails no case was found for, and those kept but not read)."""
    line = (
        f"Decisions: {sources.get('mailbox', 0):,} from the mailbox, "
        f"{sources.get('api', 0):,} from platforms' APIs, {sources.get('people', 0):,} by people."
    )
    said = [waiting_line(waiting)] if waiting else []
    said += [unread_line(unread)] if unread else []
    if said:
        line += f" {'; '.join(said)} (`/report-listing inbox`)."
    return line
