"""hypothesis against the three parsers that take text from outside: listing URLs, the command
text after `/report-listing`, and app.yaml. Each gets at least 10,000 generated inputs and may
fail only with the project's own error type (the command parser may not fail at all).

The strategies mix plain random text with inputs built to get deep: URLs on the supported
hosts and their lookalikes, Slack's `<url|label>` wrapping, commands that start with the real
subcommands, and valid configurations with one part replaced by junk.
"""

from __future__ import annotations

import os
import string
from typing import Any

import pytest
import yaml
from app_yaml import base_config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.config.loading import parse_config
from bot.config.schema import ConfigError
from bot.core.listings import ListingURLError, parse_listing_url
from bot.desk.slash import SUBCOMMANDS, parse_command

# 2,000 inputs each in `make test` (a quarter of a minute in all); `make fuzz` tries 20,000.
FUZZ = settings(
    max_examples=int(os.environ.get("TAKEDOWN_FUZZ_EXAMPLES") or 2_000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- listing URLs ---------------------------------------------------------------------------------

HOSTS = [
    "www.ebay.com", "ebay.co.uk", "m.ebay.de", "www.amazon.de", "amazon.co.jp", "smile.amazon.com",
    "item.taobao.com", "detail.tmall.com", "detail.1688.com", "www.aliexpress.com",
    "aliexpress.ru", "www.alibaba.com", "www.etsy.com", "shopee.sg", "shopee.com.my",
    "www.lazada.co.th", "articulo.mercadolibre.com.ar", "produto.mercadolivre.com.br",
    "www.walmart.com", "www.walmart.ca", "www.temu.com", "www.shein.com", "www.facebook.com",
    "amzn.to", "a.co", "ebay.us", "s.click.aliexpress.com", "m.tb.cn", "shope.ee",
    "ebay.com.evil.example", "evil.example", "xn--bay-mua.com", "127.0.0.1", "[::1]",
    "0x7f.1", "2130706433", "EBAY.COM", "ebay.com.", "ebay..com", "ebay.com:8080",
    "user:pw@www.ebay.com", "www.ebay.com@evil.example", "ｅｂａｙ.com", "ebay.com\\@evil",
]  # fmt: skip
PATHS = [
    "/itm/123456789012", "/itm/name/123456789012", "/dp/B0ABCDEFGH", "/gp/product/B0ABCDEFGH",
    "/item.htm", "/offer/612345678901.html", "/item/1005001234567890.html",
    "/product-detail/_1600123456789.html", "/listing/1234567890/slug", "/product/123/456",
    "-i.123.456", "/products/i123456.html", "/MLA-1234567890-slug-_JM", "/p/MLA123", "/up/MLAU1",
    "/ip/123456", "/ip/ABC12345", "/goods.html", "/x-g-601099512345678.html",
    "/x-p-12345.html", "/marketplace/item/1234567890/", "/", "", "/%2e%2e/", "/\u202e/",
]  # fmt: skip
QUERIES = [
    "", "?id=612345678901", "?goods_id=601099512345678", "?item=123456789012", "?itemId=1",
    "?wid=MLA123456789", "?pdp_filters=item_id:MLA1234567", "?offerId=123456", "?a=1&amp;b=2",
    "?id=%00", "?id=١٢٣٤٥٦٧",
]  # fmt: skip
SCHEMES = [
    "https://",
    "http://",
    "",
    "//",
    "HTTPS://",
    "ftp://",
    "javascript:",
    "https:/",
    " https://",
]


@st.composite
def urlish(draw: st.DrawFn) -> str:
    url = (
        draw(st.sampled_from(SCHEMES))
        + draw(st.sampled_from(HOSTS) | st.text(min_size=0, max_size=30))
        + draw(st.sampled_from(PATHS) | st.text(min_size=0, max_size=40))
        + draw(st.sampled_from(QUERIES) | st.text(max_size=20))
        + draw(st.sampled_from(["", "#frag", "/", " ", "\n", "|label>"]))
    )
    wrap = draw(st.sampled_from(["{}", "<{}>", "<{}|label>", " {} ", "{}&amp;x=1", "<{}"]))
    return wrap.format(url)


LISTING_TEMPLATES = [
    "https://www.ebay.{tld}/itm/{digits}", "https://www.amazon.{tld}/dp/{asin}",
    "https://www.amazon.{tld}/gp/product/{asin}/ref=x", "https://item.taobao.com/item.htm?id={digits}",
    "https://detail.tmall.com/item.htm?id={digits}", "https://detail.1688.com/offer/{digits}.html",
    "https://www.aliexpress.com/item/{digits}.html", "https://www.alibaba.com/product-detail/x_{digits}.html",
    "https://www.etsy.com/listing/{digits}/slug", "https://shopee.{tld}/product/{digits}/{digits}",
    "https://shopee.{tld}/Bag-i.{digits}.{digits}", "https://www.lazada.{tld}/products/x-i{digits}.html",
    "https://articulo.mercadolibre.com.ar/MLA-{digits}-x-_JM", "https://produto.mercadolivre.com.br/MLB-{digits}",
    "https://www.mercadolibre.com.mx/x/up/MLMU1?pdp_filters=item_id:MLM{digits}",
    "https://www.walmart.com/ip/slug/{digits}", "https://www.walmart.ca/en/ip/slug/{asin}",
    "https://www.temu.com/goods.html?goods_id={digits}", "https://www.temu.com/x-g-{digits}.html",
    "https://www.shein.com/x-p-{digits}-cat-1.html", "https://www.facebook.com/marketplace/item/{digits}/",
]  # fmt: skip
TLDS = ["com", "co.uk", "de", "com.br", "sg", "com.my", "co.th", "ca", "co.jp", "fr", "nl", "xx"]


@st.composite
def listing_url(draw: st.DrawFn) -> str:
    """A URL shaped like a listing of one platform, with ids of any length and decorations."""
    url = draw(st.sampled_from(LISTING_TEMPLATES)).format(
        tld=draw(st.sampled_from(TLDS)),
        digits=draw(st.text(alphabet=string.digits, min_size=1, max_size=22)),
        asin=draw(st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=12)),
    )
    if draw(st.booleans()):
        url = url.replace(
            "https://www.", draw(st.sampled_from(["http://", "HTTPS://WWW.", "www.", "https://m."]))
        )
    url += draw(st.sampled_from([*QUERIES[:5], "", "", "/", "#x", "?ref=a&amp;tag=b"]))
    return draw(st.sampled_from(["{}", "<{}>", "<{}|label>", " {} "])).format(url)


URL_SAMPLES = [scheme + host + path for scheme in SCHEMES[:3] for host in HOSTS for path in PATHS]
# Lone surrogates reach the bot too (JSON allows them); the reason must still be valid UTF-8.
WITH_SURROGATES = st.text(
    st.characters() | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
)


@FUZZ
@given(
    st.one_of(
        urlish(),
        listing_url(),
        st.sampled_from(URL_SAMPLES),
        st.text(),
        WITH_SURROGATES,
        st.text(alphabet=string.printable, max_size=300),
    )
)
def test_parse_listing_url_fails_only_with_listing_url_error(text: str) -> None:
    try:
        parsed = parse_listing_url(text)
    except ListingURLError as exc:
        assert isinstance(exc.reason, str) and exc.reason
        exc.reason.encode("utf-8")  # shown in Slack: must be valid UTF-8
        event("refused")
        return
    event(f"recognised: {parsed.platform}")
    # A recognised listing names its platform, and its canonical URL reads back the same.
    assert parsed.key.startswith(parsed.platform)
    again = parse_listing_url(parsed.canonical_url)
    assert (again.platform, again.key, again.canonical_url) == (
        parsed.platform,
        parsed.key,
        parsed.canonical_url,
    )


# -- the command text -----------------------------------------------------------------------------

WORDS = [
    "help",
    "HELP",
    "-h",
    "--help",
    "?",
    "status",
    "list",
    "digest",
    "scorecard",
    "TD-42",
    "open",
    "mine",
]


SEPARATORS = [" ", "\n", "\t", "  ", "\u3000", "", " <", "> ", "|"]
# A few draws each: building lists of parts made generation the slowest part of this test.
COMMAND_TEXT = st.builds(
    lambda head, separator, url, tail, order: separator.join(
        [head, url, tail] if order else [tail, head, url]
    ),
    st.sampled_from([*WORDS, ""]),
    st.sampled_from(SEPARATORS),
    st.sampled_from([*URL_SAMPLES, "", "<https://www.ebay.com/itm/123456789012|x>"]),
    st.text(max_size=20),
    st.booleans(),
)


# Long commands, cheaply: a short piece repeated past the parser's 4,000-character cut.
LONG_TEXT = st.builds(
    lambda piece, times: piece * times, st.text(min_size=1, max_size=12), st.integers(300, 4200)
)


@FUZZ
@given(st.one_of(COMMAND_TEXT, st.text(), LONG_TEXT))
def test_parse_command_never_raises_and_names_a_known_subcommand(text: str) -> None:
    kind, args = parse_command(text)
    event(kind)
    assert kind in SUBCOMMANDS
    assert isinstance(args, list) and all(isinstance(arg, str) for arg in args)
    if kind == "report":
        assert all(arg.lower().startswith(("http://", "https://")) for arg in args)
    if kind == "unknown":
        assert len(args) == 1 and args[0]
    if kind == "help":
        assert args == []


# -- app.yaml -------------------------------------------------------------------------------------

KEYS = [
    "team", "timezone", "report_channel", "escalation_channel", "digest", "schedule", "channels",
    "rights_holder", "name", "email", "address", "phone", "signatory", "agent", "brands",
    "rights", "id", "kind", "mark", "number", "office", "classes", "jurisdiction", "work", "url",
    "owner", "platforms", "ebay", "taobao", "1688", "vendor", "adapter", "serves", "sla_days",
    "poll_every", "max_concurrency", "rate_per_minute", "base_url", "token", "reason_codes",
    "secret", "headers", "to", "cc", "host", "port", "security", "username", "password",
    "timeout", "access", "reporters", "approvers", "delivery", "backoff", "lease",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(
        ["portal", "ebay_vero", "email", "webhook", "sandbox", "mercadolibre", "trademark",
         "copyright", "6h", "0s", "-1d", "Europe/Berlin", "C0123ABCD", "U0LEGAL", "S0TEAM",
         "${EBAY_TOKEN}", "${UNSET}", "$${X}", "https://api.example", "a@b", "0 9 * * MON"]
    ),
)  # fmt: skip
# Two levels of junk, enough to reach every validator (st.recursive is several times slower).
_KEY = st.sampled_from(KEYS) | st.text(max_size=8) | st.integers(-5, 2000)
_FLAT = SCALARS | st.lists(SCALARS, max_size=4) | st.dictionaries(_KEY, SCALARS, max_size=4)
NESTED = _FLAT | st.lists(_FLAT, max_size=3) | st.dictionaries(_KEY, _FLAT, max_size=4)
ENVIRON = {"EBAY_TOKEN": "t0ken-value", "SMTP_PASSWORD": "pw-value", "EMPTY": ""}
VALID = base_config()


def _replace_somewhere(data: Any, path: list[int], junk: Any) -> Any:
    """`data` with the node that `path` steers to replaced by `junk`."""
    if not path or not isinstance(data, dict | list) or not data:
        return junk
    if isinstance(data, dict):
        key = list(data)[path[0] % len(data)]
        return {**data, key: _replace_somewhere(data[key], path[1:], junk)}
    index = path[0] % len(data)
    return [*data[:index], _replace_somewhere(data[index], path[1:], junk), *data[index + 1 :]]


@st.composite
def config_documents(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 3))
    if choice == 0:  # a valid configuration with one part replaced
        path = draw(st.lists(st.integers(0, 20), max_size=6))
        data = _replace_somewhere(VALID, path, draw(NESTED))
    elif choice == 1:  # a valid configuration with a random extra section
        data = {**VALID, draw(st.sampled_from(KEYS)): draw(NESTED)}
    else:
        data = draw(st.dictionaries(st.sampled_from(KEYS), NESTED, max_size=6) | NESTED)
    return yaml.dump(
        data, Dumper=yaml.CSafeDumper, allow_unicode=draw(st.booleans()), sort_keys=False
    )


YAMLISH = st.text(
    alphabet=string.ascii_letters + string.digits + " \n\t:-[]{},&*!|>'\"%@`#?$" + "é\u202e",
    max_size=200,
)


@FUZZ
@given(st.one_of(config_documents(), YAMLISH, st.text(max_size=200)))
def test_parse_config_fails_only_with_config_error(text: str) -> None:
    try:
        config = parse_config(text, environ=ENVIRON, source="app.yaml")
    except ConfigError as exc:
        assert exc.errors and all(isinstance(line, str) and line for line in exc.errors)
        event(f"refused with {min(len(exc.errors), 3)}+ errors")
        return
    event("accepted")
    assert config.brands and config.rights_holder.name


@pytest.mark.parametrize("text", ["[" * 5000, "a: " + "{b: " * 2000 + "1" + "}" * 2000])
def test_deeply_nested_yaml_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(text, environ={})
