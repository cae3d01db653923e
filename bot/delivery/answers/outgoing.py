"""An answer as its channel receives it: the person's words with the evidence links, the listings
it concerns and the case, in plain text, and the notice it answers as it was sent (its subject
and Message-ID, from the kept record where there is one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.platforms import platform_name
from bot.delivery.adapters.base import AnswerFile, NoticeListing, OutgoingAnswer, OutgoingNotice
from bot.delivery.answers.trail import Answer
from bot.delivery.cleaning import clean_line, clean_text
from storage import notice_records


@dataclass(frozen=True, slots=True)
class AsSent:
    """What the platform has of the notice: the subject and Message-ID it went out with."""

    subject: str | None
    message_id: str | None


async def as_sent(session: AsyncSession, notice_id: int) -> AsSent:
    """The notice as its kept record says it went (none for a notice sent before records were
    kept: the channel then uses what it sends the notice with)."""
    record = (await notice_records.latest_notices(session, [notice_id])).get(notice_id)
    subject = record.facts.get("subject") if record is not None else None
    return AsSent(
        subject=subject if isinstance(subject, str) else None,
        message_id=await notice_records.message_id_of(session, notice_id),
    )


def answer_key(notice_key: str, answer_id: int) -> str:
    """The answer's idempotency key: its notice's, and which answer."""
    return f"{notice_key}.answer.{answer_id}"


def answer_text(
    out: OutgoingNotice,
    *,
    message: str,
    evidence: Sequence[str],
    listings: Sequence[NoticeListing],
    files: Sequence[str],
    attached: bool,
) -> str:
    """The answer in plain text, the same words for every channel (an email's body, a webhook's
    `text`, the guide a person pastes). `attached`: the files go with it (else the person attaches
    them)."""
    holder = out.rights_holder
    # An email's reference is its Message-ID, which the reply's headers carry already.
    shown = out.reference and not out.reference.startswith("<")
    reference = f", reference {out.reference}" if shown else ""
    parts = [
        f"Re: our notice {out.case_ref} to {platform_name(out.platform)}{reference}",
        clean_text(message),
    ]
    if evidence:
        parts.append("Evidence:\n" + "\n".join(f"- {link}" for link in evidence))
    if files:
        head = "Attached" if attached else "Files (attached separately)"
        parts.append(f"{head}:\n" + "\n".join(f"- {clean_line(name)}" for name in files))
    noun = "listing" if len(listings) == 1 else "listings"
    parts.append(
        f"This answer concerns {len(listings)} {noun}:\n"
        + "\n".join(f"- {clean_line(item.url)} ({item.key})" for item in listings)
    )
    sign = [clean_line(holder.signatory), clean_line(holder.name), f"Case {out.case_ref}"]
    parts.append("\n".join(line for line in sign if line))
    return "\n\n".join(part for part in parts if part)


def outgoing_answer(
    out: OutgoingNotice,
    answer: Answer,
    *,
    sent: AsSent,
    files: tuple[AnswerFile, ...] = (),
    attached: bool = True,
) -> OutgoingAnswer:
    """The answer for the channel of `out` (the notice it answers)."""
    wanted = set(answer.listing_ids)
    listings = tuple(item for item in out.listings if item.listing_id in wanted)
    names = [item.name for item in files] if files else [ref.name for ref in answer.files]
    return OutgoingAnswer(
        answer_id=answer.id,
        idempotency_key=answer_key(out.idempotency_key, answer.id),
        case_ref=out.case_ref,
        message=clean_text(answer.message),
        evidence=tuple(answer.evidence),
        listings=listings,
        subject=sent.subject or out.subject,
        text=answer_text(
            out,
            message=answer.message,
            evidence=answer.evidence,
            listings=listings,
            files=names,
            attached=attached,
        ),
        files=files,
        in_reply_to=sent.message_id,
    )
