"""What surrounds a pasted link is taken away before it is parsed: punctuation, quotes, brackets,
Slack's wrapping, invisible direction marks; a bracket the URL opened itself stays."""

import pytest

from bot.core.listings import find_urls, parse_listing_url
from bot.core.pasted import tidy_link

EBAY = "https://www.ebay.com/itm/123456789012"
WIKI = "https://en.wikipedia.org/wiki/Foo_(bar)"


@pytest.mark.parametrize(
    "pasted",
    [
        f"{EBAY}).",
        f"{EBAY}),",
        f"({EBAY}).",
        f"{EBAY}.",
        f"{EBAY},",
        f"{EBAY};",
        f"{EBAY}>",
        f"<{EBAY}>.",
        f"(<{EBAY}|the backpack>),",
        f'"{EBAY}"',
        f"'{EBAY}'.",
        f"\u201c{EBAY}\u201d",
        f"\u2018{EBAY}\u2019,",
        f"\u00ab{EBAY}\u00bb",
        f"\u201e{EBAY}\u201c",
        f"`{EBAY}`",
        f"*{EBAY}*",
        f"_{EBAY}_",
        f"\u200e{EBAY}\u200e",
        f"\u200f{EBAY}\u200f",
        f"\u202b{EBAY}\u202c",
        f"\u2067{EBAY}\u2069",
        f"\ufeff{EBAY}",
        "https://www.ebay.com/itm/\u200b123456789012",
        f" \u200e\u201c{EBAY}\u201d\u200e. ",
    ],
)
def test_what_surrounds_a_pasted_link_is_trimmed(pasted: str) -> None:
    assert tidy_link(pasted) == EBAY
    assert parse_listing_url(pasted).key == "ebay:123456789012"


@pytest.mark.parametrize(
    ("pasted", "link"),
    [
        (WIKI, WIKI),
        (f"{WIKI}.", WIKI),
        (f"({WIKI})", WIKI),
        (f"({WIKI}).", WIKI),
        ("https://a.example/x_(y)_(z))", "https://a.example/x_(y)_(z)"),
        ("https://a.example/[1]", "https://a.example/[1]"),
        ("https://a.example/path_", "https://a.example/path_"),  # '_' only with one before it
    ],
)
def test_a_bracket_the_url_opened_itself_is_kept(pasted: str, link: str) -> None:
    assert tidy_link(pasted) == link


def test_slack_escapes_are_undone_after_the_wrapping_is_taken_off() -> None:
    assert tidy_link("<https://a.example/?x=1&amp;y=2|label &amp; more>") == (
        "https://a.example/?x=1&y=2"
    )
    assert tidy_link("https://a.example/?x=1&amp;y=2&gt;") == "https://a.example/?x=1&y=2"


def test_trimming_is_linear_for_a_long_run_of_closers() -> None:
    assert tidy_link(EBAY + ")" * 200_000 + "\u200e" * 100_000) == EBAY


def test_find_urls_trims_quotes_and_invisible_marks_of_each_link() -> None:
    text = (
        f"\u201c{EBAY}\u201d and \u00abhttps://www.etsy.com/listing/1234567890\u00bb "
        f"\u200ehttps://www.amazon.de/dp/B0ABCDEFGH\u200e\u00a0and (see {WIKI})."
    )
    assert find_urls(text) == [
        EBAY,
        "https://www.etsy.com/listing/1234567890",
        "https://www.amazon.de/dp/B0ABCDEFGH",
        WIKI,
    ]
