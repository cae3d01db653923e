"""What an answer is and what became of it, read from its events (`storage.answers`).

An answer is the `answer_requested` event a person's form wrote; each later event that names it
(`detail["answer"]`) is one step of its fate:

- `answer_sending`: a run marked it and committed, then handed it to the channel;
- `answer_not_taken`: the channel did not take it (nothing left): it may be sent again;
- `answer_guided`: the channel cannot take answers; the thread showed it for a person to pass on;
- and one outcome: `answer_sent` (by the bot, or a person who passed it on), `answer_failed`
  (refused, or out of tries), `answer_uncertain` (it may have arrived; never sent again on a
  channel that cannot be asked), `answer_not_needed` (its listings were decided before it left).

Pure functions over the events: the job and the person's buttons read the same trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.models import Event

REQUESTED = "answer_requested"
SENDING = "answer_sending"
NOT_TAKEN = "answer_not_taken"
GUIDED = "answer_guided"
SENT = "answer_sent"
FAILED = "answer_failed"
UNCERTAIN = "answer_uncertain"
NOT_NEEDED = "answer_not_needed"
OUTCOMES = frozenset({SENT, FAILED, UNCERTAIN, NOT_NEEDED})


@dataclass(frozen=True, slots=True)
class AnswerFileRef:
    """A file attached in the form: Slack's id and what it said of it (fetched when sending)."""

    id: str
    name: str
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A person's answer, as its `answer_requested` event keeps it."""

    id: int
    case_id: int
    notice_id: int
    actor: str
    message: str
    evidence: tuple[str, ...]
    listing_ids: tuple[int, ...]
    files: tuple[AnswerFileRef, ...]
    asked: dict[int, str | None]  # the platform's words, per listing, when it was answered

    @classmethod
    def of(cls, event: Event) -> Answer:
        detail = event.detail
        assert event.id is not None and event.notice_id is not None
        return cls(
            id=event.id,
            case_id=event.case_id,
            notice_id=event.notice_id,
            actor=event.actor,
            message=str(detail.get("message") or ""),
            evidence=tuple(str(link) for link in detail.get("evidence") or []),
            listing_ids=tuple(int(item) for item in detail.get("listings") or []),
            files=tuple(
                AnswerFileRef(
                    str(item["id"]), str(item.get("name") or item["id"]), item.get("size")
                )
                for item in detail.get("files") or []
                if isinstance(item, dict) and item.get("id")
            ),
            asked={int(key): value for key, value in (detail.get("asked") or {}).items()},
        )


def answer_detail(
    *,
    message: str,
    evidence: Sequence[str],
    listing_ids: Sequence[int],
    files: Sequence[AnswerFileRef],
    asked: dict[int, str | None],
) -> dict[str, Any]:
    """An answer as its `answer_requested` event keeps it (JSON)."""
    return {
        "message": message,
        "evidence": list(evidence),
        "listings": list(listing_ids),
        "files": [{"id": item.id, "name": item.name, "size": item.size} for item in files],
        "asked": {str(key): value for key, value in asked.items()},
    }


def steps(answer_id: int, events: Sequence[Event]) -> list[Event]:
    """The events of one answer's fate, oldest first."""
    return [
        event
        for event in events
        if event.kind != REQUESTED and (event.detail or {}).get("answer") == answer_id
    ]


def outcome(answer_id: int, events: Sequence[Event]) -> Event | None:
    """The answer's outcome, once it has one."""
    return next((e for e in steps(answer_id, events) if e.kind in OUTCOMES), None)


def in_flight(answer_id: int, events: Sequence[Event]) -> bool:
    """Was the answer handed to its channel by a run that never said how it went? (Each
    `answer_sending` is closed by a `answer_not_taken` or an outcome.)"""
    open_sends = 0
    for event in steps(answer_id, events):
        if event.kind == SENDING:
            open_sends += 1
        elif event.kind == NOT_TAKEN or event.kind in OUTCOMES:
            open_sends = 0
    return open_sends > 0


def guided(answer_id: int, events: Sequence[Event]) -> bool:
    return any(event.kind == GUIDED for event in steps(answer_id, events))


def unsettled(events: Sequence[Event]) -> list[Answer]:
    """The notice's answers on their way: asked for, not shown to a person, without an outcome."""
    return [
        Answer.of(event)
        for event in events
        if event.kind == REQUESTED
        and event.id is not None
        and outcome(event.id, events) is None
        and not guided(event.id, events)
    ]


def answered(events: Sequence[Event]) -> dict[int, str | None]:
    """For each listing an answer reached the platform for, what the platform had asked then
    (the latest answer's): a platform that still reports the same request, in the same words,
    has not looked at the answer yet."""
    requests = {event.id: event for event in events if event.kind == REQUESTED}
    asked: dict[int, str | None] = {}
    for event in events:
        request = requests.get((event.detail or {}).get("answer"))
        if event.kind == SENT and request is not None:
            asked.update(Answer.of(request).asked)
    return asked
