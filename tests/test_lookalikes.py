"""Hosts made to look like a marketplace's are refused as the lookalikes they are, never taken for
the marketplace: letters of other scripts, punycode, accents and compatibility forms, digits."""

import pytest

from bot.core.listings import ListingURLError, parse_listing_url
from bot.core.lookalikes import LookalikeIndex, mixed_scripts, shown_host

ITEM = "/itm/123456789012"


def refusal(text: str) -> str:
    with pytest.raises(ListingURLError) as caught:
        parse_listing_url(text)
    return caught.value.reason


@pytest.mark.parametrize(
    ("host", "imitated", "giveaway"),
    [
        ("www.\u0435bay.com", "eBay (ebay.com)", "a Cyrillic '\u0435' (U+0435) for 'e'"),
        ("\u0435b\u0430y.com", "eBay (ebay.com)", "a Cyrillic '\u0430' (U+0430) for 'a'"),
        ("www.eb\u03b1y.de", "eBay (ebay.de)", "a Greek '\u03b1' (U+03B1) for 'a'"),
        ("www.\u00e9bay.co.uk", "eBay (ebay.co.uk)", "a Latin '\u00e9' (U+00E9) for 'e'"),
        ("www.\uff45bay.com", "eBay (ebay.com)", "a fullwidth '\uff45' (U+FF45) for 'e'"),
        ("www.ebay.c0m", "eBay (ebay.com)", "the digit '0' for 'o'"),
        ("www.xn--bay-qdd.com", "eBay (ebay.com)", "punycode for \u0435bay.com"),
    ],
)
def test_a_lookalike_host_is_named_with_the_marketplace_it_imitates(
    host: str, imitated: str, giveaway: str
) -> None:
    reason = refusal(f"https://{host}{ITEM}")
    assert f"looks like {imitated} but is not" in reason
    assert giveaway in reason
    assert "not a marketplace the bot knows" not in reason


def test_other_marketplaces_and_their_short_links_have_lookalikes_too() -> None:
    assert "looks like Amazon (amazon.de)" in refusal("https://www.amaz\u043en.de/dp/B0ABCDEFGH")
    assert "'rn' for 'm'" in refusal("https://articulo.rnercadolibre.com.ar/MLA-123456789")
    assert "'vv' for 'w'" in refusal("https://www.vvalmart.com/ip/123456789")
    assert "looks like Amazon (amzn.to)" in refusal("https://\u0430mzn.to/3xYzAbC")
    assert "'l' for '1'" in refusal("https://detail.l688.com/offer/612345678901.html")


def test_a_lookalike_pasted_without_a_scheme_is_still_named_as_one() -> None:
    assert "looks like eBay (ebay.com)" in refusal(f"www.\u0435bay.com{ITEM}")
    assert "looks like eBay (ebay.com)" in refusal(f"ebay.c0m{ITEM}")


def test_a_host_that_imitates_no_marketplace_is_unknown_and_its_mixed_scripts_are_said() -> None:
    reason = refusal("https://sh\u043ep.example/item/1")
    assert "not a marketplace the bot knows" in reason
    assert "mixes Latin and Cyrillic letters" in reason
    assert "xn--80ak6aa92e.com (\u0430\u0440\u0440\u04cf\u0435.com)" in refusal(
        "https://xn--80ak6aa92e.com/x"
    )


def test_a_marketplace_domain_inside_a_malformed_host_is_not_called_a_lookalike() -> None:
    # A browser goes to evil.example here; the host is refused as unknown, not as eBay's double.
    reason = refusal(f"https://evil.example\\www.ebay.com{ITEM}")
    assert "not a marketplace the bot knows" in reason and "looks like" not in reason


def test_skeleton_index_finds_only_imitations() -> None:
    index = LookalikeIndex(["ebay.com", "1688.com"])
    assert index.find("ebay.com") is None
    assert index.find("www.ebay.com") is None
    assert index.find("shop.example") is None
    assert index.find("ebay.com.evil.example") is None
    found = index.find("www.\u0435\u0432\u0430y.com")
    assert found is not None and found.domain == "ebay.com"
    assert found.how() == (
        "its name has a Cyrillic '\u0435' (U+0435) for 'e', a Cyrillic '\u0432' (U+0432) for "
        "'b' and a Cyrillic '\u0430' (U+0430) for 'a'"
    )
    assert index.find("l688.com") is not None  # the real domain is the one with a digit


def test_punycode_is_shown_as_a_browser_shows_it() -> None:
    assert shown_host("www.xn--amazn-mye.com") == "www.amaz\u043en.com"
    assert shown_host("xn--not-valid-punycode-\u00ff.com").startswith("xn--")
    assert shown_host("www.ebay.com") == "www.ebay.com"


def test_mixed_scripts_are_named_per_label() -> None:
    assert mixed_scripts("www.\u0435bay.com") == ["Cyrillic", "Latin"]
    assert mixed_scripts("\u0430\u0440\u0440\u04cf\u0435.com") == []  # one script per label
    assert mixed_scripts("www.ebay.com") == []
