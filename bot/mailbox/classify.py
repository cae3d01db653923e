"""What a platform's reply says, per listing: removed, rejected, needs info, received, or unknown.

The wording lives in data files, `phrases/<platform>.yaml` (and `generic.yaml`, which every
platform also uses), per language: English, Chinese, Spanish and Portuguese at least. A phrase
counts when it appears in the reply's own text (lower-cased, whitespace collapsed). Among
removed, rejected and needs info, the outcome with the most distinct phrases wins; a tie is
`unknown`, never a guess. `received` (an acknowledgement) is said only when nothing else is.

Per listing: a listing the reply names (its URL or its id) takes the outcome of the line naming
it, or of the nearest line above it that says one (a heading over a list of links); a listing the
reply does not name takes the reply's outcome as a whole.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

PHRASES = Path(__file__).parent / "phrases"
LANGUAGES = ("en", "zh", "es", "pt")
_LOOK_UP = 6  # lines above a listing searched for the heading that says its outcome


class Outcome(StrEnum):
    REMOVED = "removed"
    REJECTED = "rejected"
    NEEDS_INFO = "needs_info"
    RECEIVED = "received"
    UNKNOWN = "unknown"


DECISIVE = (Outcome.REMOVED, Outcome.REJECTED, Outcome.NEEDS_INFO)


@dataclass(frozen=True)
class PhraseTable:
    """One data file: the platforms it speaks for, their senders' domains, and the phrases."""

    name: str
    platforms: tuple[str, ...]
    senders: tuple[str, ...]
    phrases: Mapping[str, Mapping[Outcome, tuple[str, ...]]]  # language → outcome → phrases


def _table(path: Path) -> PhraseTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    phrases = {
        language: {
            Outcome(outcome): tuple(_normal(str(p)) for p in items)
            for outcome, items in by_outcome.items()
        }
        for language, by_outcome in data["phrases"].items()
    }
    return PhraseTable(
        name=path.stem,
        platforms=tuple(str(p) for p in data.get("platforms") or ()),
        senders=tuple(str(s).lower() for s in data.get("senders") or ()),
        phrases=phrases,
    )


@functools.cache
def tables() -> dict[str, PhraseTable]:
    """Every phrase table, by file name (`generic`, `alibaba`, …)."""
    return {path.stem: _table(path) for path in sorted(PHRASES.glob("*.yaml"))}


def table_for(platform: str | None) -> PhraseTable | None:
    """The platform's own table, if it has one."""
    return next((t for t in tables().values() if platform and platform in t.platforms), None)


def platforms_of_sender(address: str | None) -> tuple[str, ...]:
    """The platforms a sender's address speaks for (its domain, or a subdomain of one, is in a
    table's `senders`): Alibaba's IPP answers for Taobao, Tmall, AliExpress… alike."""
    if not address or "@" not in address:
        return ()
    domain = address.rsplit("@", 1)[1].lower().rstrip(".")
    for table in tables().values():
        if any(domain == sender or domain.endswith("." + sender) for sender in table.senders):
            return table.platforms
    return ()


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split())


def _phrases(platform: str | None) -> dict[Outcome, list[str]]:
    merged: dict[Outcome, list[str]] = {outcome: [] for outcome in Outcome}
    chosen = [tables()["generic"]]
    if (own := table_for(platform)) is not None:
        chosen.append(own)
    for table in chosen:
        for by_outcome in table.phrases.values():
            for outcome, items in by_outcome.items():
                merged[outcome].extend(items)
    return merged


def outcome_of(text: str, *, platform: str | None = None) -> Outcome:
    """What `text` says, read with the platform's phrases and the generic ones."""
    normal = _normal(text)
    if not normal:
        return Outcome.UNKNOWN
    counts = {
        outcome: sum(1 for phrase in set(phrases) if phrase in normal)
        for outcome, phrases in _phrases(platform).items()
    }
    best = max(counts[o] for o in DECISIVE)
    if best:
        leaders = [o for o in DECISIVE if counts[o] == best]
        return leaders[0] if len(leaders) == 1 else Outcome.UNKNOWN
    return Outcome.RECEIVED if counts[Outcome.RECEIVED] else Outcome.UNKNOWN


@dataclass(frozen=True)
class Named:
    """A listing as a reply may name it: its id and the strings that mention it."""

    listing_id: int
    mentions: tuple[str, ...]


def mentions_of(*, key: str, url: str) -> tuple[str, ...]:
    """How a reply may name a listing: its URL, its id (the key's last part), lower-cased."""
    ident = key.split(":", 1)[-1].rsplit(".", 1)[-1]
    found = [url.lower()]
    if len(ident) >= 5:
        found.append(ident.lower())
    return tuple(found)


def _line_outcome(lines: Sequence[str], index: int, platform: str | None) -> Outcome:
    said = outcome_of(lines[index], platform=platform)
    if said in DECISIVE:
        return said
    for above in range(index - 1, max(-1, index - 1 - _LOOK_UP), -1):
        said = outcome_of(lines[above], platform=platform)
        if said in DECISIVE:
            return said
    return Outcome.UNKNOWN


def per_listing(
    text: str, listings: Sequence[Named], *, platform: str | None = None
) -> dict[int, Outcome]:
    """Each listing's outcome in the reply `text`."""
    whole = outcome_of(text, platform=platform)
    lines = [line.lower() for line in text.splitlines()]
    result: dict[int, Outcome] = {}
    for listing in listings:
        at = next((i for i, line in enumerate(lines)
                   if any(_mentioned(m, line) for m in listing.mentions)), None)  # fmt: skip
        said = Outcome.UNKNOWN if at is None else _line_outcome(lines, at, platform)
        result[listing.listing_id] = said if said != Outcome.UNKNOWN else whole
    return result


def _mentioned(mention: str, line: str) -> bool:
    if mention.startswith("http"):
        return mention in line
    return re.search(rf"(?<![0-9a-z]){re.escape(mention)}(?![0-9a-z])", line) is not None
