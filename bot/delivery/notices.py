"""The notice: built once per submission, the same words for every channel.

`build_notice` checks that the notice carries what the law asks of it and renders it as plain
text (an email body, a webhook's `text`, the portal guide's source):

- copyright: DMCA §512(c)(3)(A) — signature, the work, the infringing material and where it is,
  contact details, the good-faith statement, the accuracy and authority statement;
- a notice to a platform in the EU: DSA Art. 16(2) — a substantiated explanation, the exact
  URLs, the notifier's name and email, the bona fide statement;
- trademarks (and counterfeits, which rest on a trademark): mark, registration number, office,
  classes, owner, and the agent's authority when an agent files for the owner;
- designs and patents: registration number and office.

Anything missing is reported at once as a `MissingElementError`, each element naming the key
to set, so a person fixes app.yaml (or the report) in one pass. The statements are fixed text.
Every user-written value is cleaned of control characters; nothing is escaped, because the
text is plain and its words are legal statements that must reach the platform unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.config.schema import INFRINGEMENT_TYPES, Right, RightsHolder
from bot.core.platforms import platform_name
from bot.delivery.adapters.base import NoticeListing, OutgoingNotice

MIN_EXPLANATION = 20  # characters; below this a "substantiated explanation" is not one

DMCA = "DMCA §512(c)(3)(A)"
DSA = "DSA Art. 16(2)"
TRADEMARK_NOTICE = "trademark notice"
REGISTERED_RIGHT_NOTICE = "registered right notice"

# Country-code domains and jurisdiction codes of the EU member states (EL is Greece in EU usage).
_EU_STATES = frozenset(
    {"at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "el", "hu", "ie"}
    | {"it", "lv", "lt", "lu", "mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se"}
)
_EU_TLDS = (_EU_STATES - {"el"}) | {"eu"}
_EU_JURISDICTIONS = _EU_STATES | {"eu", "european union"}

# The kind of right each infringement type rests on: a counterfeit is a fake of a trademarked good.
_RIGHT_KIND_FOR = {
    "counterfeit": "trademark",
    "trademark": "trademark",
    "copyright": "copyright",
    "design": "design",
    "patent": "patent",
}

_CITED_RIGHT_LAW = {
    "trademark": TRADEMARK_NOTICE,
    "copyright": f"{DMCA}(ii)",
    "design": REGISTERED_RIGHT_NOTICE,
    "patent": REGISTERED_RIGHT_NOTICE,
}

# Bidirectional overrides and isolates can make a text read differently from what it says.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")
_BLANK_RUNS = re.compile(r"\n{3,}")

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


@dataclass(frozen=True)
class MissingElement:
    """One element the law asks of a notice that the configuration or the report lacks.

    `where` is the key to set: an app.yaml path (`rights_holder.signatory`,
    `rights.<right id>.number` — the right inside its brand's `rights:` list) or, for what
    the reporter supplies, a `report.` path (`report.description`).
    """

    element: str
    where: str
    law: str

    def sentence(self) -> str:
        """`signatory — set rights_holder.signatory in app.yaml (DMCA §512(c)(3)(A)(i))`."""
        if self.where in ("report.right", "report.infringement"):
            fix = f"change the report's {self.where.removeprefix('report.')}"
        elif self.where.startswith("report."):
            fix = f"fill in the report's {self.where.removeprefix('report.')}"
        else:
            fix = f"set {self.where} in app.yaml"
        law = f" ({self.law})" if self.law else ""
        return f"{self.element} — {fix}{law}"


class MissingElementError(Exception):
    """The notice would not be valid; `str(error)` lists what is missing and where to set it."""

    def __init__(self, missing: Sequence[MissingElement]) -> None:
        self.missing = list(missing)
        super().__init__(
            "The notice cannot be sent until it has everything the law asks for. Missing: "
            + "; ".join(item.sentence() for item in self.missing)
            + "."
        )


def clean_line(value: str | None) -> str:
    """One line of user-written text: no control characters, no line breaks, single spaces."""
    spaced = "".join(" " if ch.isspace() else ch for ch in value or "")
    return " ".join(_strip_controls(spaced, keep="").split())


def clean_text(value: str | None) -> str:
    """User-written prose: line breaks and tabs kept, every other control character removed."""
    text = _LINE_BREAKS.sub("\n", value or "")
    text = _strip_controls(text, keep="\n\t")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _strip_controls(text: str, *, keep: str) -> str:
    return "".join(
        ch
        for ch in text
        if ch in keep or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )


def applies_eu(listings: Sequence[NoticeListing], right: Right) -> bool:
    """Whether DSA Art. 16 applies: a listing on an EU marketplace, or an EU/member-state right."""
    jurisdiction = clean_line(right.jurisdiction).lower()
    if jurisdiction in _EU_JURISDICTIONS:
        return True
    return any(_on_eu_site(listing) for listing in listings)


def _on_eu_site(listing: NoticeListing) -> bool:
    # The key names the site where ids are per site (amazon.de:…); otherwise the URL's host does.
    site = listing.key.partition(":")[0]
    if "." in site and site.rsplit(".", 1)[1].lower() in _EU_TLDS:
        return True
    try:
        host = urlsplit(listing.url.strip()).hostname or ""
    except ValueError:
        return False
    labels = host.rstrip(".").lower().split(".")
    return len(labels) > 1 and labels[-1] in _EU_TLDS


def missing_elements(
    *,
    right: Right,
    rights_holder: RightsHolder,
    infringement: str,
    description: str,
    listings: Sequence[NoticeListing],
    eu: bool,
) -> list[MissingElement]:
    """Every element the notice would lack, in the order the notice presents them."""
    missing: list[MissingElement] = []
    at = f"rights.{right.id}"
    add = missing.append

    wanted_kind = _RIGHT_KIND_FOR.get(infringement)
    if wanted_kind is None:
        known = ", ".join(INFRINGEMENT_TYPES)
        add(MissingElement(f"an infringement type ({known})", "report.infringement", ""))
    elif right.kind != wanted_kind:
        add(
            MissingElement(
                f"a {wanted_kind} right for a {INFRINGEMENT_TYPES[infringement].lower()} notice "
                f"(right {right.id} is a {right.kind})",
                "report.right",
                _CITED_RIGHT_LAW[wanted_kind],
            )
        )

    if right.kind == "copyright":
        if not clean_line(rights_holder.signatory):
            add(MissingElement("signatory", "rights_holder.signatory", f"{DMCA}(i)"))
        if not clean_line(right.work):
            add(MissingElement("copyrighted work", f"{at}.work", f"{DMCA}(ii)"))
    elif right.kind == "trademark":
        if not clean_line(right.number):
            add(MissingElement("registration number", f"{at}.number", TRADEMARK_NOTICE))
        if not clean_line(right.office):
            add(MissingElement("registration office", f"{at}.office", TRADEMARK_NOTICE))
        if not right.classes:
            add(MissingElement("classes", f"{at}.classes", TRADEMARK_NOTICE))
    else:
        if not clean_line(right.number):
            add(MissingElement("registration number", f"{at}.number", REGISTERED_RIGHT_NOTICE))
        if not clean_line(right.office):
            add(MissingElement("registration office", f"{at}.office", REGISTERED_RIGHT_NOTICE))

    location_law = TRADEMARK_NOTICE if right.kind == "trademark" else REGISTERED_RIGHT_NOTICE
    if right.kind == "copyright":
        location_law = f"{DMCA}(iii)"
    elif eu:
        location_law = f"{DSA}(b)"
    if not listings:
        add(MissingElement("the listings", "report.listings", location_law))
    for listing in listings:
        if not clean_line(listing.url):
            add(
                MissingElement(f"the URL of listing {listing.key}", "report.listings", location_law)
            )

    if right.kind == "copyright":
        if not clean_line(rights_holder.address):
            add(MissingElement("postal address", "rights_holder.address", f"{DMCA}(iv)"))
        if not clean_line(rights_holder.phone):
            add(MissingElement("phone number", "rights_holder.phone", f"{DMCA}(iv)"))

    if eu:
        if len(clean_text(description)) < MIN_EXPLANATION:
            add(
                MissingElement(
                    f"an explanation of why the listings are illegal (at least {MIN_EXPLANATION} "
                    "characters)",
                    "report.description",
                    f"{DSA}(a)",
                )
            )
        if not clean_line(rights_holder.name):
            add(MissingElement("notifier name", "rights_holder.name", f"{DSA}(c)"))
        if not clean_line(rights_holder.email):
            add(MissingElement("notifier email", "rights_holder.email", f"{DSA}(c)"))
    return missing


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

    The portal guide shows these ready to paste; empty fields are left out.
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
        ("Description", notice.description),
        ("Evidence", "\n".join(notice.evidence)),
        ("Statements", "\n".join(statements(notice))),
        ("Signature", clean_line(holder.signatory)),
    ]
    return [(label, value) for label, value in fields if value]


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
    lines += ["", "STATEMENTS", *(f"- {item}" for item in statements(notice))]
    lines += ["", "SIGNATURE"]
    signatory = clean_line(holder.signatory)
    if signatory:
        lines.append(f"/{signatory}/ (electronic signature)")
    lines += [f"for {clean_line(holder.name)}", f"Signed on {when.strftime('%Y-%m-%d')}"]
    return "\n".join(lines) + "\n"


def _pairs(fields: Sequence[tuple[str, str]]) -> list[str]:
    return [f"{label}: {value}" for label, value in fields if value]
