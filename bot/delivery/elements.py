"""What the law asks of a notice, and which of it a notice would lack.

- copyright: DMCA §512(c)(3)(A) — signature, the work, the infringing material and where it is,
  contact details (the good-faith and accuracy statements are fixed text, `bot.delivery.notices`);
- a notice to a platform in the EU: DSA Art. 16(2) — a substantiated explanation, the exact
  URLs, the notifier's name and email;
- trademarks (and counterfeits, which rest on a trademark): registration number, office, classes;
- designs and patents: registration number and office.

Anything missing is reported at once as a `MissingElementError`, each element naming the key to
set, so a person fixes app.yaml (or the report) in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from urllib.parse import urlsplit

from bot.config.schema import INFRINGEMENT_TYPES, RIGHT_KIND_FOR, Right, RightsHolder
from bot.delivery.adapters.base import NoticeListing
from bot.delivery.cleaning import clean_line, clean_text

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

_CITED_RIGHT_LAW = {
    "trademark": TRADEMARK_NOTICE,
    "copyright": f"{DMCA}(ii)",
    "design": REGISTERED_RIGHT_NOTICE,
    "patent": REGISTERED_RIGHT_NOTICE,
}


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


@dataclass(frozen=True)
class _Given:
    """What a notice's elements are found in."""

    right: Right
    holder: RightsHolder
    description: str

    @property
    def explanation(self) -> str:
        """The description, if it is long enough to be a substantiated explanation."""
        text = clean_text(self.description)
        return text if len(text) >= MIN_EXPLANATION else ""


@dataclass(frozen=True)
class _Element:
    """An element the law asks of a notice, found at `found_at` (an attribute path of `_Given`);
    for rights of `kinds` only (None: every kind), and with `eu` only where DSA applies. `where`
    may name the right: `{right}`."""

    element: str
    where: str
    law: str
    found_at: str
    kinds: frozenset[str] | None = None
    eu: bool = False

    def wanted(self, given: _Given, *, eu: bool) -> bool:
        return (self.kinds is None or given.right.kind in self.kinds) and (eu or not self.eu)

    def present(self, given: _Given) -> bool:
        value = attrgetter(self.found_at)(given)
        return bool(clean_line(value) if isinstance(value, str) or value is None else value)


_COPYRIGHT = frozenset({"copyright"})
_TRADEMARK = frozenset({"trademark"})
_REGISTERED = frozenset({"design", "patent"})
_EXPLANATION = (
    f"an explanation of why the listings are illegal (at least {MIN_EXPLANATION} characters)"
)

# The right's elements, in the order the notice presents them.
_RIGHT_ELEMENTS = (
    _Element("signatory", "rights_holder.signatory", f"{DMCA}(i)", "holder.signatory", _COPYRIGHT),
    _Element("copyrighted work", "rights.{right}.work", f"{DMCA}(ii)", "right.work", _COPYRIGHT),
    _Element("registration number", "rights.{right}.number", TRADEMARK_NOTICE, "right.number", _TRADEMARK),
    _Element("registration office", "rights.{right}.office", TRADEMARK_NOTICE, "right.office", _TRADEMARK),
    _Element("classes", "rights.{right}.classes", TRADEMARK_NOTICE, "right.classes", _TRADEMARK),
    _Element("registration number", "rights.{right}.number", REGISTERED_RIGHT_NOTICE, "right.number", _REGISTERED),
    _Element("registration office", "rights.{right}.office", REGISTERED_RIGHT_NOTICE, "right.office", _REGISTERED),
)  # fmt: skip

# The notifier's elements, after the listings.
_NOTIFIER_ELEMENTS = (
    _Element("postal address", "rights_holder.address", f"{DMCA}(iv)", "holder.address", _COPYRIGHT),
    _Element("phone number", "rights_holder.phone", f"{DMCA}(iv)", "holder.phone", _COPYRIGHT),
    _Element(_EXPLANATION, "report.description", f"{DSA}(a)", "explanation", eu=True),
    _Element("notifier name", "rights_holder.name", f"{DSA}(c)", "holder.name", eu=True),
    _Element("notifier email", "rights_holder.email", f"{DSA}(c)", "holder.email", eu=True),
)  # fmt: skip


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
    given = _Given(right, rights_holder, description)
    return [
        *_wrong_right(right, infringement),
        *_lacking(_RIGHT_ELEMENTS, given, eu=eu),
        *_unlocated(right, listings, eu=eu),
        *_lacking(_NOTIFIER_ELEMENTS, given, eu=eu),
    ]


def _wrong_right(right: Right, infringement: str) -> list[MissingElement]:
    """The infringement type, if it is unknown or the right cited is not of the kind it rests on."""
    wanted_kind = RIGHT_KIND_FOR.get(infringement)
    if wanted_kind is None:
        known = ", ".join(INFRINGEMENT_TYPES)
        return [MissingElement(f"an infringement type ({known})", "report.infringement", "")]
    if right.kind == wanted_kind:
        return []
    return [
        MissingElement(
            f"a {wanted_kind} right for a {INFRINGEMENT_TYPES[infringement].lower()} notice "
            f"(right {right.id} is a {right.kind})",
            "report.right",
            _CITED_RIGHT_LAW[wanted_kind],
        )
    ]


def _lacking(elements: Sequence[_Element], given: _Given, *, eu: bool) -> list[MissingElement]:
    return [
        MissingElement(item.element, item.where.format(right=given.right.id), item.law)
        for item in elements
        if item.wanted(given, eu=eu) and not item.present(given)
    ]


def _unlocated(
    right: Right, listings: Sequence[NoticeListing], *, eu: bool
) -> list[MissingElement]:
    """The listings themselves, and each one's URL: where the infringing material is."""
    if right.kind == "copyright":
        law = f"{DMCA}(iii)"
    elif eu:
        law = f"{DSA}(b)"
    else:
        law = TRADEMARK_NOTICE if right.kind == "trademark" else REGISTERED_RIGHT_NOTICE
    missing = [] if listings else [MissingElement("the listings", "report.listings", law)]
    missing += [
        MissingElement(f"the URL of listing {listing.key}", "report.listings", law)
        for listing in listings
        if not clean_line(listing.url)
    ]
    return missing


def configuration_gaps(*, rights: Sequence[Right], rights_holder: RightsHolder) -> list[str]:
    """What app.yaml lacks for a complete notice of each right, one line per key to set:
    `rights.acme-tm.number: a trademark notice needs the registration number`.

    Every channel's notice (email, webhook, API, portal guide) is built by one function from the
    same elements, so a right that passes here can be cited to every platform; the EU elements
    are asked for too, as any platform may list from an EU site. What the reporter supplies
    (the description, the listings) is checked when a report is filed."""
    lines: list[str] = []
    for right in rights:
        given = _Given(right, rights_holder, description="")
        for item in (*_RIGHT_ELEMENTS, *_NOTIFIER_ELEMENTS):
            if item.where.startswith("report.") or not item.wanted(given, eu=True):
                continue
            if item.present(given):
                continue
            cited = f" ({item.law})" if item.law.startswith((DMCA, DSA)) else ""
            line = (
                f"{item.where.format(right=right.id)}: a {right.kind} notice needs the "
                f"{item.element}{cited}"
            )
            if line not in lines:
                lines.append(line)
    return lines
