"""The notice: built once per submission, the same words for every channel.

`build_notice` checks that the notice carries what the law asks of it (`bot.delivery.elements`:
anything missing is a `MissingElementError` naming every gap) and renders it as plain text (an
email body, a webhook's `text`, the portal guide's source): the notifier, the right (mark, number,
office, classes, owner), the listings, the explanation and evidence, and the fixed statements —
good faith and accuracy for each kind of right, the agent's authority when an agent files for the
owner, and the bona fide statement where DSA Art. 16(2) applies.

Every user-written value is cleaned of control characters (`bot.delivery.cleaning`); nothing is
escaped, because the text is plain and its words are legal statements that must reach the
platform unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.config.schema import INFRINGEMENT_TYPES, Right, RightsHolder
from bot.core.platforms import platform_name
from bot.delivery.adapters.base import EvidenceRef, NoticeListing, OutgoingNotice
from bot.delivery.cleaning import clean_line, clean_text
from bot.delivery.elements import MissingElementError, applies_eu, missing_elements
from bot.delivery.evidence_text import evidence_files_section

GOOD_FAITH_COPYRIGHT = (
    "I have a good-faith belief that the use of the copyrighted work described above, in the "
    "listings identified in this notice, is not authorised by the copyright owner, its agent, "
    "or the law."
)
ACCURACY_COPYRIGHT = (
    "The information in this notice is accurate, and I state under penalty of perjury that I am "
    "authorised to act on behalf of the owner of an exclusive right that is allegedly infringed."
)
GOOD_FAITH_TRADEMARK = (
    "I have a good-faith belief that the use of the trademark in the listings identified in "
    "this notice is not authorised by the trademark owner, its agent, or the law."
)
GOOD_FAITH_COUNTERFEIT = (
    "I have a good-faith belief that the goods offered in the listings identified in this "
    "notice are not genuine goods of the trademark owner and carry the mark without the "
    "authorisation of the owner, its agent, or the law."
)
GOOD_FAITH_REGISTERED = (
    "I have a good-faith belief that the products offered in the listings identified in this "
    "notice infringe the registered right described above and are not authorised by its "
    "owner, its agent, or the law."
)
ACCURACY_OTHER = (
    "The information in this notice is accurate, and I am the owner of the right described "
    "above or authorised to act on the owner's behalf."
)
BONA_FIDE_EU = (
    "This notice is submitted in the bona fide belief that the information and allegations it "
    "contains are accurate and complete (Regulation (EU) 2022/2065, Article 16(2)(d))."
)


def build_notice(
    *,
    notice_id: int,
    case_ref: str,
    platform: str,
    channel: str,
    idempotency_key: str,
    brand: str,
    right: Right,
    rights_holder: RightsHolder,
    infringement: str,
    description: str,
    evidence: Sequence[str],
    listings: Sequence[NoticeListing],
    reporter: str | None = None,
    now: datetime | None = None,
    evidence_items: Sequence[EvidenceRef] = (),
) -> OutgoingNotice:
    """The notice for one platform's listings of a case, subject and text filled in.

    `reporter` is the display name of the person who filed the report; when given, the notice
    names them as the contact person. Raises MissingElementError listing every gap.
    """
    eu = applies_eu(listings, right)
    problems = missing_elements(
        right=right,
        rights_holder=rights_holder,
        infringement=infringement,
        description=description,
        listings=listings,
        eu=eu,
    )
    if problems:
        raise MissingElementError(problems)
    when = (now or datetime.now(UTC)).astimezone(UTC)
    listings = tuple(listings)
    draft = OutgoingNotice(
        notice_id=notice_id,
        case_ref=clean_line(case_ref),
        platform=platform,
        channel=channel,
        idempotency_key=idempotency_key,
        brand=clean_line(brand),
        right=right,
        rights_holder=rights_holder,
        infringement=infringement,
        description=clean_text(description),
        evidence=tuple(item for item in (clean_line(e) for e in evidence) if item),
        listings=listings,
        subject=_subject(case_ref, infringement, brand, platform, len(listings)),
        text="",
        eu=eu,
        evidence_items=tuple(evidence_items),
    )
    return replace(draft, text=_render(draft, reporter=clean_line(reporter), when=when))


def _subject(case_ref: str, infringement: str, brand: str, platform: str, count: int) -> str:
    label = INFRINGEMENT_TYPES.get(infringement, infringement)
    noun = "listing" if count == 1 else "listings"
    return clean_line(
        f"IP infringement notice {case_ref}: {label} — {brand} "
        f"({count} {noun} on {platform_name(platform)})"
    )


def _owner(notice: OutgoingNotice) -> str:
    return clean_line(notice.right.owner) or clean_line(notice.rights_holder.name)


def _mark(notice: OutgoingNotice) -> str:
    return clean_line(notice.right.mark) or notice.brand


def statements(notice: OutgoingNotice) -> list[str]:
    """The notice's fixed statements, in order; authority first when someone acts for the owner."""
    holder = notice.rights_holder
    owner = _owner(notice)
    out: list[str] = []
    agent = clean_line(holder.agent)
    if agent:
        out.append(
            f"This notice is submitted by {agent}, acting on behalf of {owner}, the owner of the "
            "right described above, which has authorised it to do so."
        )
    elif owner != clean_line(holder.name):
        out.append(
            f"{clean_line(holder.name)} submits this notice on behalf of {owner}, the owner of "
            "the right described above, which has authorised it to do so."
        )
    if notice.right.kind == "copyright":
        out += [GOOD_FAITH_COPYRIGHT, ACCURACY_COPYRIGHT]
    elif notice.right.kind == "trademark":
        good_faith = (
            GOOD_FAITH_COUNTERFEIT if notice.infringement == "counterfeit" else GOOD_FAITH_TRADEMARK
        )
        out += [good_faith, ACCURACY_OTHER]
    else:
        out += [GOOD_FAITH_REGISTERED, ACCURACY_OTHER]
    if notice.eu:
        out.append(BONA_FIDE_EU)
    return out


def _right_fields(notice: OutgoingNotice) -> list[tuple[str, str]]:
    right = notice.right
    kind = right.kind
    fields: list[tuple[str, str]] = [("Type of right", kind.capitalize())]
    if kind == "copyright":
        fields += [
            ("Copyrighted work", clean_line(right.work)),
            ("Work URL", clean_line(right.url)),
        ]
    else:
        if kind == "trademark":
            fields.append(("Trademark", _mark(notice)))
        elif right.mark:
            fields.append(("Name", clean_line(right.mark)))
        fields += [
            ("Registration number", clean_line(right.number)),
            ("Office", clean_line(right.office)),
        ]
        if right.classes:
            fields.append(("Classes", ", ".join(str(c) for c in right.classes)))
    fields += [
        ("Jurisdiction", clean_line(right.jurisdiction)),
        ("Owner", _owner(notice)),
    ]
    return [(label, value) for label, value in fields if value]


def _listing_line(listing: NoticeListing) -> str:
    extra = f"listing {clean_line(listing.key)}"
    if listing.seller:
        extra += f", seller {clean_line(listing.seller)}"
    return f"{clean_line(listing.url)} ({extra})"


def notice_fields(notice: OutgoingNotice) -> list[tuple[str, str]]:
    """The notice as labelled fields, in the order a platform's web form asks for them.

    The portal guide shows these ready to paste; empty fields are left out. They carry every
    value the notice's text (an email's body) carries but its greeting and dates:
    tests/test_portal_guide.py compares the two.
    """
    holder = notice.rights_holder
    fields: list[tuple[str, str]] = [
        ("Rights holder", clean_line(holder.name)),
        ("Agent", clean_line(holder.agent)),
        ("Contact email", clean_line(holder.email)),
        ("Address", clean_line(holder.address)),
        ("Phone", clean_line(holder.phone)),
        ("Brand", notice.brand),
    ]
    right_fields = _right_fields(notice)
    fields += [("IP right", f"{notice.right.kind.capitalize()}: {_right_summary(notice)}")]
    fields += [item for item in right_fields if item[0] != "Type of right"]
    fields += [
        ("Infringement type", INFRINGEMENT_TYPES.get(notice.infringement, notice.infringement)),
        ("Listing URLs", "\n".join(clean_line(listing.url) for listing in notice.listings)),
        ("Seller", _sellers(notice)),
        ("Description", notice.description),
        ("Evidence", "\n".join(notice.evidence)),
        ("Statements", "\n".join(statements(notice))),
        ("Signature", clean_line(holder.signatory)),
        ("Our reference", f"{notice.case_ref} (notice {notice.notice_id})"),
    ]
    return [(label, value) for label, value in fields if value]


def _sellers(notice: OutgoingNotice) -> str:
    """The listings' sellers: one name when they all share it, else each with its listing."""
    named = [
        (clean_line(listing.seller), clean_line(listing.url))
        for listing in notice.listings
        if listing.seller and clean_line(listing.seller)
    ]
    names = list(dict.fromkeys(name for name, _ in named))
    if len(names) == 1 and len(named) == len(notice.listings):
        return names[0]
    return "\n".join(f"{name}: {url}" for name, url in named)


def _right_summary(notice: OutgoingNotice) -> str:
    right = notice.right
    if right.kind == "copyright":
        return clean_line(right.work)
    parts = [_mark(notice) if right.kind == "trademark" else clean_line(right.mark)]
    parts += [clean_line(right.office), clean_line(right.number)]
    return " ".join(part for part in parts if part)


def _render(notice: OutgoingNotice, *, reporter: str, when: datetime) -> str:
    holder = notice.rights_holder
    label = INFRINGEMENT_TYPES.get(notice.infringement, notice.infringement)
    count = len(notice.listings)
    noun = "listing" if count == 1 else "listings"
    lines = [
        f"To the intellectual property team of {platform_name(notice.platform)},",
        "",
        f"This is a notice of {label.lower()} concerning {count} {noun} on your platform, "
        f"sent on behalf of {_owner(notice)} about the brand {notice.brand}. Please remove or "
        "disable access to the listings identified below.",
        "",
        f"Our reference: {notice.case_ref} (notice {notice.notice_id})",
        f"Date: {when.strftime('%Y-%m-%d')}",
        "",
        "NOTIFIER",
        *_pairs(
            [
                ("Name", clean_line(holder.name)),
                ("Agent", clean_line(holder.agent)),
                ("Email", clean_line(holder.email)),
                ("Address", clean_line(holder.address)),
                ("Phone", clean_line(holder.phone)),
                ("Contact person", reporter),
            ]
        ),
        "",
        "INTELLECTUAL PROPERTY RIGHT",
        *_pairs(_right_fields(notice)),
        "",
        f"INFRINGING {noun.upper()} ({count})",
        *(f"{i}. {_listing_line(listing)}" for i, listing in enumerate(notice.listings, 1)),
    ]
    if notice.description:
        lines += ["", "WHY THE LISTINGS INFRINGE", notice.description]
    if notice.evidence:
        lines += ["", "EVIDENCE", *(f"- {item}" for item in notice.evidence)]
    lines += evidence_files_section(notice.evidence_items)
    lines += ["", "STATEMENTS", *(f"- {item}" for item in statements(notice))]
    lines += ["", "SIGNATURE"]
    signatory = clean_line(holder.signatory)
    if signatory:
        lines.append(f"/{signatory}/ (electronic signature)")
    lines += [f"for {clean_line(holder.name)}", f"Signed on {when.strftime('%Y-%m-%d')}"]
    return "\n".join(lines) + "\n"


def _pairs(fields: Sequence[tuple[str, str]]) -> list[str]:
    return [f"{label}: {value}" for label, value in fields if value]
