"""Listing URL recognition: which pasted texts are listings, their keys, and why others are not."""

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.listings import (
    MAX_URL_LENGTH,
    ListingURLError,
    ParsedListing,
    find_urls,
    parse_listing_url,
)
from bot.core.platforms import PLATFORMS


def same_listing(key: str, canonical_url: str, *urls: str) -> list[tuple[str, str, str]]:
    """Table rows: every one of ``urls`` is the listing ``key`` at ``canonical_url``."""
    return [(url, key, canonical_url) for url in urls]


EBAY = "https://www.ebay.com/itm/123456789012"
TEMU = "https://www.temu.com/goods.html?goods_id=601099512345678"
SHEIN = "https://www.shein.com/item-p-12345678.html"
FACEBOOK = "https://www.facebook.com/marketplace/item/1234567890123456/"

VALID = [
    *same_listing(
        "taobao:634512345678",
        "https://item.taobao.com/item.htm?id=634512345678",
        "https://item.taobao.com/item.htm?spm=a1z10.1-c.w4004&id=634512345678&ns=1",
        "https://h5.m.taobao.com/awp/core/detail.htm?id=634512345678&spm=a2141",
        "https://world.taobao.com/item/634512345678.htm?spm=a21wu",
        "https://m.intl.taobao.com/detail/detail.html?id=634512345678",
        "https://a.m.taobao.com/i634512345678.htm",
        # Slack escapes & in message text
        "<https://item.taobao.com/item.htm?spm=a1z10&amp;id=634512345678>",
    ),
    *same_listing(
        "tmall:600123456789",
        "https://detail.tmall.com/item.htm?id=600123456789",
        "https://detail.tmall.com/item.htm?id=600123456789&skuId=4501234567890",
        "https://detail.m.tmall.com/item.htm?id=600123456789",
        "https://chaoshi.detail.tmall.com/item.htm?spm=a3204&id=600123456789",
        "https://detail.tmall.hk/hk/item.htm?id=600123456789",
    ),
    *same_listing(
        "1688:612345678901",
        "https://detail.1688.com/offer/612345678901.html",
        "https://detail.1688.com/offer/612345678901.html?spm=a26352",
        "https://m.1688.com/offer/612345678901.html",
    ),
    *same_listing(
        "aliexpress:1005001234567890",
        "https://www.aliexpress.com/item/1005001234567890.html",
        "https://www.aliexpress.com/item/1005001234567890.html?spm=a2g0o&algo_pvid=abc",
        "https://de.aliexpress.com/item/1005001234567890.html?gatewayAdapt=glo2deu",
        "https://m.aliexpress.com/i/1005001234567890.html",
        "https://www.aliexpress.us/item/1005001234567890.html",
        "https://aliexpress.ru/item/1005001234567890.html?sku_id=1",
    ),
    *same_listing(
        "aliexpress:32812345678",
        "https://www.aliexpress.com/item/32812345678.html",
        "https://www.aliexpress.com/item/Acme-Bag/32812345678.html",
    ),
    *same_listing(
        "alibaba:1600123456789",
        "https://www.alibaba.com/product-detail/_1600123456789.html",
        "https://www.alibaba.com/product-detail/Custom-Logo-Hoodie_1600123456789.html?spm=a2700",
        "https://m.alibaba.com/product/1600123456789/Custom-Logo-Hoodie.html",
    ),
    # Amazon: an ASIN is per marketplace, so the key carries it
    *same_listing(
        "amazon.com:B0ABCDEFGH",
        "https://www.amazon.com/dp/B0ABCDEFGH",
        "https://www.amazon.com/dp/B0ABCDEFGH",
        "https://www.amazon.com/gp/aw/d/B0ABCDEFGH/?psc=1",
    ),
    *same_listing(
        "amazon.co.uk:B0ABCDEFGH",
        "https://www.amazon.co.uk/dp/B0ABCDEFGH",
        "https://www.amazon.co.uk/Acme-Hiking-Backpack/dp/B0ABCDEFGH/ref=sr_1_3?keywords=acme",
    ),
    *same_listing(
        "amazon.de:B0ABCDEFGH",
        "https://www.amazon.de/dp/B0ABCDEFGH",
        "https://smile.amazon.de/gp/product/B0ABCDEFGH?psc=1",
    ),
    *same_listing(
        "amazon.fr:B0ABCDEFGH",
        "https://www.amazon.fr/dp/B0ABCDEFGH",
        "https://m.amazon.fr/gp/aw/d/B0ABCDEFGH/",
    ),
    *same_listing(
        "amazon.co.jp:4088801234",
        "https://www.amazon.co.jp/dp/4088801234",
        "https://www.amazon.co.jp/exec/obidos/ASIN/4088801234",
    ),
    *same_listing(
        "amazon.com.br:B0ABCDEFGH",
        "https://www.amazon.com.br/dp/B0ABCDEFGH",
        "https://www.amazon.com.br/dp/b0abcdefgh?th=1",
    ),
    *same_listing(
        "amazon.in:B0ABCDEFGH",
        "https://www.amazon.in/dp/B0ABCDEFGH",
        "https://amazon.in/Acme/dp/B0ABCDEFGH",
    ),
    *same_listing(
        "amazon.com.au:B0ABCDEFGH",
        "https://www.amazon.com.au/dp/B0ABCDEFGH",
        "https://www.amazon.com.au/dp/B0ABCDEFGH/ref=cm_sw_r_cp_api",
    ),
    *same_listing(
        "amazon.com.be:B0ABCDEFGH",
        "https://www.amazon.com.be/dp/B0ABCDEFGH",
        "https://www.amazon.com.be/dp/B0ABCDEFGH",
    ),
    *same_listing(
        "amazon.ae:B0ABCDEFGH",
        "https://www.amazon.ae/dp/B0ABCDEFGH",
        "https://www.amazon.ae/dp/B0ABCDEFGH",
    ),
    *same_listing(
        "amazon.com.tr:B0ABCDEFGH",
        "https://www.amazon.com.tr/dp/B0ABCDEFGH",
        "https://www.amazon.com.tr/dp/B0ABCDEFGH",
    ),
    *same_listing(
        "amazon.com.mx:B0ABCDEFGH",
        "https://www.amazon.com.mx/dp/B0ABCDEFGH",
        "https://www.amazon.com.mx/gp/product/B0ABCDEFGH/",
    ),
    # eBay: item ids are global; the canonical URL keeps the site
    *same_listing(
        "ebay:123456789012",
        EBAY,
        EBAY,
        "http://cgi.ebay.com/ws/eBayISAPI.dll?ViewItem&item=123456789012",
        "https://m.ebay.com/itm?itemId=123456789012",
        # how people paste: case, trailing dot, default ports, fragments, no scheme, Slack
        "HTTPS://WWW.EBAY.COM/itm/123456789012",
        "https://www.ebay.com./itm/123456789012",
        "https://www.ebay.com:443/itm/123456789012",
        "http://www.ebay.com:80/itm/123456789012#shipping",
        "www.ebay.com/itm/123456789012",
        "ebay.com/itm/123456789012",
        "  <https://www.ebay.com/itm/123456789012|Acme backpack>\n",
        "<https://www.ebay.com/itm/123456789012>",
    ),
    *same_listing(
        "ebay:123456789012",
        "https://www.ebay.co.uk/itm/123456789012",
        "https://www.ebay.co.uk/itm/Acme-Backpack-40L/123456789012?hash=item1cbe&_trkparms=amclk",
        "http://cgi.ebay.co.uk/Acme-Backpack_W0QQitemZ123456789012QQcmdZViewItem",
    ),
    *same_listing(
        "ebay:123456789012",
        "https://www.ebay.de/itm/123456789012",
        "https://m.ebay.de/itm/123456789012?_trksid=p2047675",
        "https://cgi.ebay.de/ws/eBayISAPI.dll?ViewItem&item=123456789012&ssPageName=STRK",
    ),
    *same_listing(
        "ebay:123456789012",
        "https://www.ebay.be/itm/123456789012",
        "https://befr.ebay.be/itm/123456789012",
    ),
    *same_listing(
        "ebay:123456789012",
        "https://www.ebay.com.au/itm/123456789012",
        "https://www.ebay.com.au/itm/123456789012#rwid",
    ),
    *same_listing(
        "etsy:1234567890",
        "https://www.etsy.com/listing/1234567890",
        "https://www.etsy.com/listing/1234567890/handmade-leather-wallet?ref=hp_rv",
        "https://www.etsy.com/de/listing/1234567890/ledergeldborse",
        "https://m.etsy.com/listing/1234567890",
    ),
    # Shopee: ids are per country, so the key carries it
    *same_listing(
        "shopee.sg:123456789.23456789012",
        "https://shopee.sg/product/123456789/23456789012",
        "https://shopee.sg/Acme-Backpack-40L-i.123456789.23456789012?sp_atk=abc&xptdk=def",
    ),
    *same_listing(
        "shopee.my:1234.5678",
        "https://shopee.com.my/product/1234/5678",
        "https://shopee.com.my/Acme-Bag-i.1234.5678",
    ),
    *same_listing(
        "shopee.th:1234.5678",
        "https://shopee.co.th/product/1234/5678",
        "https://shopee.co.th/product/1234/5678",
    ),
    *same_listing(
        "shopee.tw:1234.5678",
        "https://shopee.tw/product/1234/5678",
        "https://shopee.tw/universal-link/product/1234/5678?smtt=0.0.9",
    ),
    *same_listing(
        "shopee.vn:1234.5678",
        "https://shopee.vn/product/1234/5678",
        "https://shopee.vn/Balo-Acme-i.1234.5678",
    ),
    *same_listing(
        "shopee.ph:1234.5678",
        "https://shopee.ph/product/1234/5678",
        "https://shopee.ph/Acme-i.1234.5678",
    ),
    *same_listing(
        "shopee.id:1234.5678",
        "https://shopee.co.id/product/1234/5678",
        "https://shopee.co.id/Tas-Acme-i.1234.5678",
    ),
    *same_listing(
        "shopee.br:1234.5678",
        "https://shopee.com.br/product/1234/5678",
        "https://shopee.com.br/Mochila-Acme-i.1234.5678",
    ),
    *same_listing(
        "shopee.mx:1234.5678",
        "https://shopee.com.mx/product/1234/5678",
        "https://shopee.com.mx/product/1234/5678",
    ),
    *same_listing(
        "shopee.co:1234.5678",
        "https://shopee.com.co/product/1234/5678",
        "https://shopee.com.co/Morral-i.1234.5678",
    ),
    *same_listing(
        "shopee.cl:1234.5678",
        "https://shopee.cl/product/1234/5678",
        "https://shopee.cl/Mochila-i.1234.5678",
    ),
    *same_listing(
        "lazada.sg:1234567890",
        "https://www.lazada.sg/products/i1234567890.html",
        "https://www.lazada.sg/products/acme-backpack-i1234567890-s9876543210.html?spm=a2o42",
    ),
    *same_listing(
        "lazada.ph:1234567890",
        "https://www.lazada.com.ph/products/i1234567890.html",
        "https://www.lazada.com.ph/products/i1234567890.html",
    ),
    *same_listing(
        "lazada.id:1234567890",
        "https://www.lazada.co.id/products/i1234567890.html",
        "https://www.lazada.co.id/products/tas-acme-i1234567890-s9876543210.html",
    ),
    # Mercado Libre: the id's prefix names the site, and so the canonical host
    *same_listing(
        "mercadolibre:MLA1234567890",
        "https://articulo.mercadolibre.com.ar/MLA-1234567890",
        "https://articulo.mercadolibre.com.ar/MLA-1234567890-zapatillas-acme-_JM#position=1",
    ),
    *same_listing(
        "mercadolibre:MLB1234567890",
        "https://produto.mercadolivre.com.br/MLB-1234567890",
        "https://produto.mercadolivre.com.br/MLB-1234567890-mochila-acme-40l-_JM?tracking_id=a",
    ),
    *same_listing(
        "mercadolibre:MLM123456789",
        "https://articulo.mercadolibre.com.mx/MLM-123456789",
        "https://articulo.mercadolibre.com.mx/MLM-123456789-mochila-_JM",
    ),
    *same_listing(
        "mercadolibre:MCO123456789",
        "https://articulo.mercadolibre.com.co/MCO-123456789",
        "https://articulo.mercadolibre.com.co/MCO-123456789-morral-_JM",
    ),
    *same_listing(  # a product page pinned to one seller's listing
        "mercadolibre:MLM987654321",
        "https://articulo.mercadolibre.com.mx/MLM-987654321",
        "https://www.mercadolibre.com.mx/mochila/up/MLMU123456789?pdp_filters=item_id:MLM987654321",
    ),
    *same_listing(
        "walmart:123456789",
        "https://www.walmart.com/ip/123456789",
        "https://www.walmart.com/ip/Acme-Hiking-Backpack-40L/123456789?athbdg=L1600&from=/search",
        "https://www.walmart.com/ip/123456789",
    ),
    *same_listing(
        "walmart.ca:6000201234567",
        "https://www.walmart.ca/ip/6000201234567",
        "https://www.walmart.ca/en/ip/acme-backpack/6000201234567",
    ),
    *same_listing(
        "temu:601099512345678",
        TEMU,
        "https://www.temu.com/acme-backpack-g-601099512345678.html?_oak_mp_inf=abc&top_gallery=x",
        "https://www.temu.com/de/rucksack-g-601099512345678.html",
        "https://www.temu.com/goods.html?goods_id=601099512345678&_x_sessn_id=1",
    ),
    *same_listing(
        "shein:12345678",
        SHEIN,
        "https://us.shein.com/Acme-Floral-Dress-p-12345678-cat-1727.html?src_module=search",
        "https://m.shein.com/Acme-Dress-p-12345678.html",
        "https://de.shein.com/Kleid-p-12345678.html",
    ),
    *same_listing(
        "facebook:1234567890123456",
        FACEBOOK,
        "https://www.facebook.com/marketplace/item/1234567890123456/?ref=search&referral_code=null",
        "https://m.facebook.com/marketplace/item/1234567890123456",
        "https://web.facebook.com/marketplace/item/1234567890123456/",
    ),
]

LONG_URL = "https://www.ebay.com/itm/123456789012?x=" + "a" * MAX_URL_LENGTH

INVALID = [
    ("", "No URL given"),
    ("   \n", "No URL given"),
    ("<>", "No URL given"),
    ("hello", "Not a URL: 'hello'"),
    ("please take down https://www.ebay.com/itm/123456789012", "Not a URL"),
    ("example.com/itm/123456789012", "Not a URL"),
    ("ftp://www.ebay.com/itm/123456789012", "'ftp:' links cannot be listings"),
    ("javascript:alert(document.cookie)", "'javascript:' links cannot be listings"),
    ("mailto:vero@ebay.com", "'mailto:' links cannot be listings"),
    ("file:///etc/passwd", "'file:' links cannot be listings"),
    ("https:///itm/123456789012", "has no host"),
    ("https://ebay.com@evil.example/itm/123456789012", "hides its real host behind 'ebay.com@'"),
    ("https://user:secret@www.ebay.com/itm/123456789012", "hides its real host"),
    ("https://evil.example\\@www.ebay.com/itm/123456789012", "hides its real host"),
    ("https://203.0.113.7/itm/123456789012", "IP address (203.0.113.7)"),
    ("https://[2001:db8::1]/dp/B0ABCDEFGH", "IP address"),
    ("https://2130706433/dp/B0ABCDEFGH", "IP address"),
    ("https://0x7f.1/dp/B0ABCDEFGH", "IP address"),
    ("https://[2001:db8::1/dp/B0ABCDEFGH", "host part is malformed"),
    ("https://www.ebay.com\ufe6b@evil.example/itm/123456789012", "host part is malformed"),
    (
        "https://ebay.com.evil.example/itm/123456789012",
        "ebay.com.evil.example is not a marketplace",
    ),
    (
        "https://amazon.com-deals.example/dp/B0ABCDEFGH",
        "amazon.com-deals.example is not a marketplace",
    ),
    ("https://www.myebay.com/itm/123456789012", "not a marketplace the bot knows"),
    ("https://xn--bay-tpd.com/itm/123456789012", "not a marketplace the bot knows"),
    ("https://www.xn--amazn-mye.com/dp/B0ABCDEFGH", "looks like Amazon (amazon.com) but is not"),
    # a Cyrillic letter in place of the Latin "e"
    ("https://www.\u0435bay.com/itm/123456789012", "looks like eBay (ebay.com) but is not"),
    ("https://evil.example\\www.ebay.com/itm/123456789012", "not a marketplace the bot knows"),
    ("https://www.example.com/dp/B0ABCDEFGH", "supported: Taobao, Tmall, 1688.com, AliExpress"),
    ("https://www.amazon.com/s?k=acme+backpack", "is an Amazon page but not a listing"),
    ("https://www.amazon.com/stores/Acme/page/1234", "is an Amazon page but not a listing"),
    ("https://www.ebay.com/str/acmeoutdoor", "is an eBay page but not a listing; open the item"),
    ("https://www.ebay.com/itm/12345678", "is an eBay page but not a listing"),
    (
        "https://www.ebay.com/itm/\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
        "not a listing",
    ),
    ("https://www.etsy.com/shop/AcmeLeather", "is an Etsy page but not a listing"),
    ("https://shopee.sg/acme_official", "is a Shopee page but not a listing"),
    ("https://www.lazada.sg/shop/acme/", "is a Lazada page but not a listing"),
    ("https://item.taobao.com/item.htm?spm=a1z10", "is a Taobao page but not a listing"),
    ("https://s.taobao.com/search?q=acme", "is a Taobao page but not a listing"),
    ("https://www.aliexpress.com/store/1234567", "is an AliExpress page but not a listing"),
    ("https://www.walmart.com/search?q=acme", "is a Walmart page but not a listing"),
    ("https://www.temu.com/", "is a Temu page but not a listing"),
    ("https://www.mercadolibre.com.ar/zapatillas-acme/p/MLA12345678", "catalogue page (/p/)"),
    ("https://www.mercadolibre.com.mx/mochila-acme/up/MLMU123456789", "(/up/)"),
    (
        "https://listado.mercadolibre.com.ar/zapatillas-acme",
        "is a Mercado Libre page but not a listing",
    ),
    ("https://articulo.mercadolibre.com.ar/MZZ-1234567890-algo-_JM", "not a listing"),
    ("https://www.facebook.com/AcmeOutdoor", "not a Marketplace listing"),
    ("https://www.facebook.com/marketplace/category/bags", "not a Marketplace listing"),
    ("https://amzn.to/3xYzAbC", "is an Amazon short link"),
    ("https://ebay.us/AbCdEf", "is an eBay short link"),
    ("https://www.ebay.com:8080/itm/123456789012", "port 8080"),
    ("https://www.ebay.com:99999/itm/123456789012", "invalid port"),
    ("https://www.ebay.com:https/itm/123456789012", "invalid port"),
    (LONG_URL, f"over the limit of {MAX_URL_LENGTH}"),
]


def platform_of(key: str) -> str:
    """The platform id a key starts with: "amazon.co.uk:B0…" -> "amazon"."""
    return key.split(":", 1)[0].split(".", 1)[0]


@pytest.mark.parametrize(("text", "key", "canonical_url"), VALID)
def test_listing_url_is_recognised_with_key_and_canonical_url(
    text: str, key: str, canonical_url: str
) -> None:
    assert parse_listing_url(text) == ParsedListing(
        platform=platform_of(key), key=key, canonical_url=canonical_url
    )


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_text_that_is_no_listing_is_refused_with_a_specific_reason(text: str, reason: str) -> None:
    with pytest.raises(ListingURLError) as caught:
        parse_listing_url(text)
    assert reason in caught.value.reason


def test_the_tables_cover_every_platform() -> None:
    assert {platform_of(key) for _, key, _ in VALID} == set(PLATFORMS)


def test_platform_ids_and_display_names_are_the_documented_ones() -> None:
    assert list(PLATFORMS) == [
        "taobao", "tmall", "1688", "aliexpress", "alibaba", "amazon", "ebay", "etsy",
        "shopee", "lazada", "mercadolibre", "walmart", "temu", "shein", "facebook",
    ]  # fmt: skip
    assert PLATFORMS["1688"] == "1688.com"
    assert PLATFORMS["mercadolibre"] == "Mercado Libre"
    assert PLATFORMS["facebook"] == "Facebook Marketplace"


def test_unknown_host_refusal_lists_every_supported_platform_by_name() -> None:
    with pytest.raises(ListingURLError) as caught:
        parse_listing_url("https://shop.example/item/1")
    assert all(name in caught.value.reason for name in PLATFORMS.values())


def test_refusal_carries_the_offending_text_and_reads_as_its_reason() -> None:
    with pytest.raises(ListingURLError) as caught:
        parse_listing_url(" <https://www.amazon.com/s?k=bag|search> ")
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.url == "https://www.amazon.com/s?k=bag"
    assert str(error) == error.reason
    assert copy.copy(error).reason == error.reason  # rebuilt from its args, as pickle does


def test_refusal_reason_is_valid_utf8_even_for_text_with_lone_surrogates() -> None:
    with pytest.raises(ListingURLError) as caught:
        parse_listing_url("https://\ud800.ebay.com/itm/123456789012")
    caught.value.reason.encode("utf-8")


def test_amazon_key_keeps_one_asin_apart_across_marketplaces() -> None:
    us = parse_listing_url("https://www.amazon.com/dp/B0ABCDEFGH")
    de = parse_listing_url("https://www.amazon.de/dp/B0ABCDEFGH")
    assert us.key != de.key


def test_same_ebay_item_on_two_sites_has_one_key() -> None:
    uk = parse_listing_url("https://www.ebay.co.uk/itm/123456789012")
    de = parse_listing_url("https://www.ebay.de/itm/123456789012")
    assert uk.key == de.key == "ebay:123456789012"


def test_url_of_exactly_the_maximum_length_is_still_read() -> None:
    url = "https://www.ebay.com/itm/123456789012?x="
    url += "a" * (MAX_URL_LENGTH - len(url))
    assert parse_listing_url(url).key == "ebay:123456789012"


# find_urls


def test_find_urls_reads_slack_links_with_and_without_labels_in_order() -> None:
    text = (
        "please report <https://www.ebay.com/itm/123456789012|this one> and "
        "<https://www.amazon.de/dp/B0ABCDEFGH> and https://www.etsy.com/listing/1234567890"
    )
    assert find_urls(text) == [
        "https://www.ebay.com/itm/123456789012",
        "https://www.amazon.de/dp/B0ABCDEFGH",
        "https://www.etsy.com/listing/1234567890",
    ]


def test_find_urls_reports_each_url_once() -> None:
    url = "https://www.ebay.com/itm/123456789012"
    assert find_urls(f"{url} <{url}> <{url}|again> {url}.") == [url]


def test_find_urls_drops_sentence_punctuation_after_a_url() -> None:
    text = (
        "Seen at https://a.example/1. Also (https://a.example/2), https://a.example/3; "
        "https://a.example/4! 'https://a.example/5' https://a.example/6>"
    )
    assert find_urls(text) == [f"https://a.example/{n}" for n in range(1, 7)]


def test_find_urls_keeps_brackets_the_url_opened_itself() -> None:
    assert find_urls("(see https://en.wikipedia.org/wiki/Foo_(bar))") == [
        "https://en.wikipedia.org/wiki/Foo_(bar)"
    ]


def test_find_urls_strips_a_long_run_of_unbalanced_closing_brackets() -> None:
    assert find_urls("https://a.example/1" + ")" * 50_000) == ["https://a.example/1"]


def test_find_urls_undoes_slack_ampersand_escapes() -> None:
    text = "<https://item.taobao.com/item.htm?spm=a&amp;id=634512345678>"
    assert find_urls(text) == ["https://item.taobao.com/item.htm?spm=a&id=634512345678"]


def test_find_urls_ignores_mentions_channels_mail_links_and_bare_schemes() -> None:
    text = "<@U0123ABCD> in <#C0123ABCD|brand> mail <mailto:a@b.example|a@b.example> https:// x"
    assert find_urls(text) == []


def test_find_urls_of_text_without_urls_is_empty() -> None:
    assert find_urls("") == []
    assert find_urls("nothing to see here") == []


def test_every_url_find_urls_returns_from_a_bulk_paste_parses() -> None:
    text = "\n".join(f"• <{url}>" for url, _, _ in VALID if url.startswith("https://"))
    urls = find_urls(text)
    assert len(urls) > 60
    assert all(parse_listing_url(url) for url in urls)


# Properties

KNOWN_HOSTS = [
    "item.taobao.com", "h5.m.taobao.com", "detail.tmall.com", "detail.tmall.hk", "detail.1688.com",
    "www.aliexpress.com", "de.aliexpress.com", "aliexpress.ru", "www.alibaba.com",
    "m.alibaba.com", "www.amazon.com", "www.amazon.co.uk", "smile.amazon.de", "www.ebay.com",
    "cgi.ebay.de", "m.ebay.co.uk", "www.etsy.com", "shopee.sg", "shopee.com.br", "www.lazada.sg",
    "articulo.mercadolibre.com.ar", "produto.mercadolivre.com.br", "www.mercadolibre.com.mx",
    "www.walmart.com", "www.walmart.ca", "www.temu.com", "us.shein.com", "www.facebook.com",
    "amzn.to", "ebay.com.evil.example", "xn--bay-tpd.com", "127.0.0.1", "[::1]", "[::1",
    "ebay.com@evil.example", "www.ebay.com:443", "www.ebay.com:0", "www.ebay.com:-1", "",
]  # fmt: skip
SCHEMES = ["https://", "http://", "HTTPS://", "//", "", "ftp://", "https:", "https:///"]
URL_ALPHABET = st.sampled_from(
    [
        *"abcxyzABCXYZ0123456789-._~:/?#[]@!$&'()*+,;=% \\|<>\"",
        *["/itm/", "/dp/", "/item/", ".html", ".htm", "?id=", "&item=", "-i.", "-g-", "-p-", "/p/"],
        *["/up/", "MLA-", "/listing/", "/product/", "/offer/", "/ip/", "/marketplace/item/"],
        *["%2F", "%40", "\u0435", "\u0661", "\ufe6b", "\uff03", "\ud800", "\x00", "\u212a"],
        "xn--",
    ]
)
urlish_text = st.builds(
    lambda scheme, host, rest: f"{scheme}{host}{rest}",
    st.sampled_from(SCHEMES),
    st.sampled_from(KNOWN_HOSTS),
    st.lists(URL_ALPHABET, max_size=30).map("".join),
)
PROPERTY = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_refused_or_stable(text: str) -> None:
    try:
        parsed = parse_listing_url(text)
    except ListingURLError as error:
        assert error.reason
        error.reason.encode("utf-8")  # it goes to Slack as it is
        return
    assert parsed.platform in PLATFORMS
    assert parsed.canonical_url.startswith("https://")
    assert parse_listing_url(parsed.canonical_url) == parsed


@PROPERTY
@given(st.text())
def test_any_text_is_either_a_listing_or_refused_with_listing_url_error(text: str) -> None:
    _assert_refused_or_stable(text)


@PROPERTY
@given(urlish_text)
def test_url_like_text_on_known_hosts_is_either_a_listing_or_refused(text: str) -> None:
    _assert_refused_or_stable(text)


@PROPERTY
@given(urlish_text.map(lambda url: f"<{url}|label>"))
def test_slack_wrapped_url_like_text_is_either_a_listing_or_refused(text: str) -> None:
    _assert_refused_or_stable(text)


TRACKING = st.lists(
    st.sampled_from(["utm_source=slack", "spm=a2g0o.1", "ref=sr_1_1", "_trkparms=x%3D1", "hash=i"]),
    max_size=3,
).map(lambda params: "".join(f"&{param}" for param in params))
TEMPLATES = {
    "taobao:{n}": "https://{sub}taobao.com/item.htm?id={n}{q}",
    "tmall:{n}": "https://detail.{sub}tmall.com/item.htm?id={n}{q}",
    "1688:{n}": "https://{sub}1688.com/offer/{n}.html?x=1{q}",
    "aliexpress:{n}": "https://{sub}aliexpress.com/item/{n}.html?x=1{q}",
    "alibaba:{n}": "https://{sub}alibaba.com/product-detail/Some-Title_{n}.html?x=1{q}",
    "amazon.co.uk:B0{n:.8}": "https://{sub}amazon.co.uk/Title/dp/B0{n:.8}/ref=x?x=1{q}",
    "ebay:{n:.12}": "https://{sub}ebay.ie/itm/slug/{n:.12}?x=1{q}",
    "etsy:{n:.10}": "https://{sub}etsy.com/listing/{n:.10}/slug?x=1{q}",
    "shopee.vn:{n:.6}.{n}": "https://{sub}shopee.vn/Title-i.{n:.6}.{n}?x=1{q}",
    "lazada.vn:{n:.12}": "https://{sub}lazada.vn/products/title-i{n:.12}-s1.html?x=1{q}",
    "mercadolibre:MLU{n:.10}": "https://articulo.{sub}mercadolibre.com.uy/MLU-{n:.10}-title-_JM?x=1{q}",
    "walmart:{n:.9}": "https://{sub}walmart.com/ip/Title/{n:.9}?x=1{q}",
    "temu:{n}": "https://{sub}temu.com/title-g-{n}.html?x=1{q}",
    "shein:{n:.8}": "https://{sub}shein.com/Title-p-{n:.8}-cat-1.html?x=1{q}",
    "facebook:{n}": "https://{sub}facebook.com/marketplace/item/{n}/?x=1{q}",
}


@PROPERTY
@given(
    template=st.sampled_from(sorted(TEMPLATES.items())),
    number=st.from_regex(r"[1-9][0-9]{12,15}", fullmatch=True),
    sub=st.sampled_from(["", "www.", "m.", "WWW."]),
    tracking=TRACKING,
    fragment=st.sampled_from(["", "#reviews", "#"]),
)
def test_generated_listing_urls_give_the_same_key_whatever_the_host_and_tracking(
    template: tuple[str, str], number: str, sub: str, tracking: str, fragment: str
) -> None:
    key, url = template
    parsed = parse_listing_url(url.format(n=number, sub=sub, q=tracking) + fragment)
    assert parsed.key == key.format(n=number)
    assert not any(marker in parsed.canonical_url for marker in ("utm_", "spm", "ref=", "#"))
    assert parse_listing_url(parsed.canonical_url) == parsed


@PROPERTY
@given(st.text() | st.lists(urlish_text, max_size=5).map(" ".join))
def test_find_urls_returns_distinct_http_urls_for_any_text(text: str) -> None:
    urls = find_urls(text)
    assert len(urls) == len(set(urls))
    assert all(url.lower().startswith(("http://", "https://")) for url in urls)
