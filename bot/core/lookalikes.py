"""Hosts dressed up as a marketplace's: letters of other scripts, punycode, digits for letters.

A host's *skeleton* is what a reader takes it for: its punycode labels (``xn--…``) decoded as a
browser shows them, then each character replaced by the Latin letter it passes for (the Cyrillic
U+0435 → 'e', the Greek omicron → 'o', a fullwidth 'e' → 'e', 'é' → 'e', the digit '0' → 'o',
'rn' → 'm'). A host
that is not a marketplace's own but whose skeleton is a marketplace's domain is a lookalike, and
is named as one: "looks like eBay (ebay.com) but is not". This is the idea of Unicode's
confusable skeletons (UTS #39) with our own small table: the Latin lookalikes in Cyrillic, Greek
and Armenian, and the ASCII swaps typosquatters use. Nothing is read at run time.

A table entry may be generous (Cyrillic 'м' for 'm'): a skeleton only decides how a refused host
is explained, never that a host is accepted.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Each lower-case character → the Latin letter it is taken for.
_LATIN_LOOKALIKES: dict[str, str] = {
    # Cyrillic
    "\u0430": "a", "\u0432": "b", "\u044c": "b", "\u0441": "c", "\u0501": "d", "\u0435": "e",
    "\u04bb": "h", "\u043d": "h", "\u0456": "i", "\u0458": "j", "\u043a": "k", "\u04cf": "l",
    "\u043c": "m", "\u043e": "o", "\u0440": "p", "\u051b": "q", "\u0455": "s", "\u0442": "t",
    "\u0443": "y", "\u051d": "w", "\u0445": "x",
    # Greek
    "\u03b1": "a", "\u03b2": "b", "\u03b5": "e", "\u03b7": "n", "\u03b9": "i", "\u03ba": "k",
    "\u03bd": "v", "\u03bf": "o", "\u03c1": "p", "\u03c4": "t", "\u03c5": "u", "\u03c7": "x",
    "\u03c9": "w", "\u03b3": "y",
    # Armenian; Latin letters beyond ASCII (dotless i, iota, alpha, script g)
    "\u0585": "o", "\u057d": "u", "\u0578": "n", "\u0131": "i", "\u0269": "i", "\u0251": "a",
    "\u0261": "g",
    # ASCII digits for letters
    "0": "o", "1": "l",
}  # fmt: skip
# Pairs of ASCII letters read as one.
_PAIRS = {"rn": "m", "vv": "w"}
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN")
_FORMS = ("FULLWIDTH", "HALFWIDTH", "MATHEMATICAL")  # compatibility forms of Latin letters


@dataclass(frozen=True, slots=True)
class Lookalike:
    """A host that imitates `domain`: as a browser shows it, and the swaps that make it look so."""

    domain: str
    shown: str
    swaps: tuple[str, ...]  # "a Cyrillic '…' (U+0435) for 'e'"
    punycode: bool

    def how(self) -> str:
        """What gives it away, in a few words."""
        shown = [*self.swaps[:3], *([f"{len(self.swaps) - 3} more"] if len(self.swaps) > 3 else [])]
        said = " and ".join([", ".join(shown[:-1]), shown[-1]] if len(shown) > 1 else shown)
        if not self.punycode:
            return f"its name has {said}"
        written = f"its name is punycode for {self.shown}"
        return f"{written}, with {said}" if said else written


class LookalikeIndex:
    """The skeletons of the marketplaces' domains, to find the one a host imitates."""

    def __init__(self, domains: Iterable[str]) -> None:
        self._by_skeleton = {_skeleton(domain)[0]: domain for domain in domains}

    def find(self, host: str) -> Lookalike | None:
        """The lookalike `host` is, if it imitates a domain of the index without being it."""
        if "." not in host:
            return None
        labels = [_decoded(label) for label in host.lower().removesuffix(".").split(".")]
        skeletons = [_skeleton(label) for label, _ in labels]
        for start in range(len(labels) - 1):
            domain = self._by_skeleton.get(".".join(text for text, _ in skeletons[start:]))
            if domain is None:
                continue
            shown = ".".join(label for label, _ in labels[start:])
            swaps = tuple(dict.fromkeys(swap for _, found in skeletons[start:] for swap in found))
            if not swaps and len(shown) == len(domain):  # the swap is the domain's ('1688.com')
                swaps = tuple(
                    f"'{a}' for '{b}'" for a, b in zip(shown, domain, strict=True) if a != b
                )
            punycode = any(was_punycode for _, was_punycode in labels[start:])
            if not swaps and not punycode:
                return None  # the domain itself, inside a host that is malformed another way
            return Lookalike(domain=domain, shown=shown, swaps=swaps, punycode=punycode)
        return None


def shown_host(host: str) -> str:
    """`host` as a browser shows it: its punycode labels decoded."""
    return ".".join(_decoded(label)[0] for label in host.split("."))


def mixed_scripts(host: str) -> list[str]:
    """The scripts of a label of `host` that mixes letters of several (Latin and Cyrillic…), as
    lookalike hosts do; empty when no label does."""
    for label, _ in (_decoded(label) for label in host.split(".")):
        scripts = dict.fromkeys(_script(char) for char in label if char.isalpha())
        if len(scripts) > 1:
            return [script.title() for script in scripts]
    return []


def _decoded(label: str) -> tuple[str, bool]:
    """A label as a browser shows it (punycode decoded), and whether it was punycode."""
    if not label.lower().startswith("xn--"):
        return label, False
    try:
        return label[4:].encode("ascii").decode("punycode").lower(), True
    except UnicodeError:
        return label, False


def _skeleton(label: str) -> tuple[str, list[str]]:
    """What `label` reads as, and each swap that makes it read so."""
    out: list[str] = []
    swaps: list[str] = []
    for char in label:
        reads = _reads_as(char)
        if reads != char:
            swaps.append(f"{_described(char)} for '{reads}'")
        out.append(reads)
    text = "".join(out)
    for pair, letter in _PAIRS.items():
        if pair in text:
            text = text.replace(pair, letter)
            swaps.append(f"'{pair}' for '{letter}'")
    return text, swaps


def _reads_as(char: str) -> str:
    if char.isascii() and not char.isdigit():
        return char.lower()
    # Compatibility forms (fullwidth, bold) and accents ('é') give way to their letter.
    base = unicodedata.normalize("NFKD", char)
    base = "".join(part for part in base if not unicodedata.combining(part)).lower()
    return "".join(_LATIN_LOOKALIKES.get(part, part) for part in base) or char


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return next((script for script in _SCRIPTS if script in name), name.split(" ")[0] or "OTHER")


def _described(char: str) -> str:
    if char.isascii():
        return f"the digit '{char}'" if char.isdigit() else f"'{char}'"
    script = _script(char)
    form = unicodedata.name(char, "").split(" ")[0]
    if form in _FORMS:
        name = form.lower()  # "a fullwidth '…'"
    else:
        name = script.title() if script in _SCRIPTS else script.lower()
    article = "an" if name[0] in "AEIOUaeiou" else "a"
    return f"{article} {name} '{char}' (U+{ord(char):04X})"
