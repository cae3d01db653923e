"""Recognise marketplace listing URLs and reduce each to a stable listing key.

The key names one listing on one platform; dedupe, notices and adapters compare keys, never raw
URLs. The key starts with the platform id; where ids are only unique per site it also carries
the site (Amazon's domain, Shopee's and Lazada's country code, walmart.ca). Ids are digits except
Amazon's ASIN and walmart.ca's id (both upper-cased) and Mercado Libre's site-prefixed id.

    taobao:<id>                  https://item.taobao.com/item.htm?id=<id>
    tmall:<id>                   https://detail.tmall.com/item.htm?id=<id>
    1688:<id>                    https://detail.1688.com/offer/<id>.html
    aliexpress:<id>              https://www.aliexpress.com/item/<id>.html
    alibaba:<id>                 https://www.alibaba.com/product-detail/_<id>.html
    amazon.<tld>:<ASIN>          https://www.amazon.<tld>/dp/<ASIN>
    ebay:<item id>               https://www.ebay.<tld>/itm/<item id>   (eBay item ids are global)
    etsy:<id>                    https://www.etsy.com/listing/<id>
    shopee.<cc>:<shop>.<item>    https://shopee.<tld>/product/<shop>/<item>
    lazada.<cc>:<id>             https://www.lazada.<tld>/products/i<id>.html
    mercadolibre:MLA123456789    https://articulo.mercadolibre.com.ar/MLA-123456789
    walmart:<id>                 https://www.walmart.com/ip/<id>
    walmart.ca:<ID>              https://www.walmart.ca/ip/<ID>
    temu:<id>                    https://www.temu.com/goods.html?goods_id=<id>
    shein:<id>                   https://www.shein.com/item-p-<id>.html
    facebook:<id>                https://www.facebook.com/marketplace/item/<id>/

``<tld>`` is the marketplace suffix (``com``, ``co.uk``, ``com.br``); ``<cc>`` is the last label of
it (``shopee.com.my`` -> ``my``). Mercado Libre ids carry their site (MLA Argentina, MLB Brazil…),
so the canonical host follows the id's prefix (``produto.mercadolivre.com.br`` for MLB). Its
catalogue pages (``/p/``) group many sellers and are refused; a product page (``/up/``) counts
only when its query pins one listing (``pdp_filters=item_id:…`` or ``wid=…``).

Input rules: what surrounds a pasted link is taken away first (`bot.core.pasted`: whitespace,
quotes, punctuation, invisible direction marks, Slack's ``<url|label>`` wrapping and escapes).
Text without a scheme is accepted only when it starts with a supported marketplace host
(``www.ebay.com/itm/…`` becomes ``https://…``). Hosts are matched by exact registrable domain, any
subdomain of it belonging to the platform; never by substring. A host made to look like a
marketplace's (a Cyrillic U+0435 for the 'e' of ebay.com, ``xn--…``, ``ebay.c0m``) is refused as
the lookalike it is (`bot.core.lookalikes`). Short links (amzn.to, ebay.us…) are refused:
resolving them needs the network.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, urlsplit

from bot.core.lookalikes import LookalikeIndex, mixed_scripts, shown_host
from bot.core.pasted import strip_invisible, tidy_link, unescape_slack
from bot.core.platforms import PLATFORMS, platform_name

MAX_URL_LENGTH = 2048


class ListingURLError(ValueError):
    """Carries the user-facing reason in .reason (str) and the offending text in .url."""

    def __init__(self, reason: str, url: str) -> None:
        super().__init__(reason, url)  # both args, so the error pickles and copies
        self.reason = reason
        self.url = url

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class ParsedListing:
    """One recognised listing: what dedupe compares (key) and what notices cite (canonical_url)."""

    platform: str
    key: str
    canonical_url: str


_AMAZON_TLDS = "com co.uk de fr it es nl se pl com.be ca com.mx com.br co.jp in com.au sg ae sa"
_AMAZON_TLDS += " com.tr eg cn co.za"
_EBAY_TLDS = "com co.uk de fr it es com.au ca at ch be nl ie pl com.hk com.sg com.my ph in"
_SHOPEE_TLDS = "sg com.my co.th tw vn ph co.id com.br com.mx com.co cl"
_LAZADA_TLDS = "sg com.my co.th vn com.ph co.id"
# Mercado Libre item ids start with their site's prefix; the prefix decides the canonical host.
_ML_SITES: dict[str, str] = {
    "MLA": "mercadolibre.com.ar", "MLB": "mercadolivre.com.br", "MLM": "mercadolibre.com.mx",
    "MLC": "mercadolibre.cl", "MCO": "mercadolibre.com.co", "MLU": "mercadolibre.com.uy",
    "MPE": "mercadolibre.com.pe", "MLV": "mercadolibre.com.ve", "MEC": "mercadolibre.com.ec",
    "MBO": "mercadolibre.com.bo", "MPY": "mercadolibre.com.py", "MCR": "mercadolibre.co.cr",
    "MRD": "mercadolibre.com.do", "MPA": "mercadolibre.com.pa", "MGT": "mercadolibre.com.gt",
    "MHN": "mercadolibre.com.hn", "MNI": "mercadolibre.com.ni", "MSV": "mercadolibre.com.sv",
}  # fmt: skip

# Registrable domain -> platform id.
_DOMAINS: dict[str, str] = {
    "taobao.com": "taobao", "tmall.com": "tmall", "tmall.hk": "tmall", "1688.com": "1688",
    "aliexpress.com": "aliexpress", "aliexpress.us": "aliexpress", "aliexpress.ru": "aliexpress",
    "alibaba.com": "alibaba", "etsy.com": "etsy", "walmart.com": "walmart", "walmart.ca": "walmart",
    "temu.com": "temu", "shein.com": "shein", "shein.co.uk": "shein", "facebook.com": "facebook",
    "mercadolibre.com": "mercadolibre",
    **{f"amazon.{tld}": "amazon" for tld in _AMAZON_TLDS.split()},
    **{f"ebay.{tld}": "ebay" for tld in _EBAY_TLDS.split()},
    **{f"shopee.{tld}": "shopee" for tld in _SHOPEE_TLDS.split()},
    **{f"lazada.{tld}": "lazada" for tld in _LAZADA_TLDS.split()},
    **{site: "mercadolibre" for site in _ML_SITES.values()},
}  # fmt: skip

# Share links that only redirect; we cannot follow them without the network.
_SHORT_LINKS: dict[str, str] = {
    "amzn.to": "amazon", "amzn.eu": "amazon", "amzn.asia": "amazon", "a.co": "amazon",
    "ebay.us": "ebay", "etsy.me": "etsy", "e.tb.cn": "taobao", "m.tb.cn": "taobao",
    "a.aliexpress.com": "aliexpress", "s.click.aliexpress.com": "aliexpress",
    "shope.ee": "shopee", "meli.la": "mercadolibre", "temu.to": "temu",
}  # fmt: skip


# What a host that is not a marketplace's may be made to look like.
_LOOKALIKES = LookalikeIndex([*_DOMAINS, *_SHORT_LINKS])


def _rx(pattern: str) -> re.Pattern[str]:
    # ASCII: \d and case folding must not accept other scripts' digits or the Kelvin sign.
    return re.compile(pattern, re.IGNORECASE | re.ASCII)


_SCHEME = _rx(r"([a-z][a-z0-9+.\-]*):(?![0-9])")
_SCHEMELESS_HOST = _rx(r"(?://)?([a-z0-9.\-]+)(?=[:/?#]|$)")
_SCHEMELESS_ANY_HOST = re.compile(r"(?://)?([^\s:/?#@\\]+)(?=[:/?#]|$)")  # lookalikes' too
_HOST = re.compile(r"[a-z0-9\-]+(?:\.[a-z0-9\-]+)+", re.ASCII)
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*", re.ASCII)  # browsers read these hosts as IPv4

_TAOBAO_ITEM_PATH = _rx(r"^/(?:item/|i)([0-9]{6,20})\.html?$")
_TAOBAO_ITEM_PAGE = _rx(r"/(?:item|detail)\.html?$")
_EBAY_ITEM = _rx(r"^/itm/(?:[^/]+/)?([0-9]{9,19})(?:/|$)|QQitemZ([0-9]{9,19})(?:QQ|$)")
_SHOPEE_ITEM = _rx(
    r"(?:^/|-)i\.([0-9]{1,15})\.([0-9]{1,20})/?$"
    r"|^/(?:universal-link/)?product/([0-9]{1,15})/([0-9]{1,20})/?$"
)
_ML_CATALOGUE = _rx(r"/p/M[a-z]{2}[0-9]+")
_ML_USER_PRODUCT = _rx(r"/up/M[a-z]{2}U[0-9]+")
_ML_ITEM_PATH = _rx(r"^/(?:[^/]*-)?(M[a-z]{2})-?([0-9]{6,15})(?:[-_/]|$)")
_ML_ITEM_ID = _rx(r"(?:^|item_id:)(M[a-z]{2})-?([0-9]{6,15})(?![0-9])")
_WALMART_ITEM = _rx(r"^/ip/(?:[^/]+/)?([0-9]{5,15})/?$")
_WALMART_CA_ITEM = _rx(r"^(?:/(?:en|fr))?/ip/(?:[^/]+/)?([a-z0-9]{5,20})/?$")
_FACEBOOK_ITEM = _rx(r"^/marketplace/item/([0-9]{5,20})(?:/|$)")


@dataclass(frozen=True, slots=True)
class _Link:
    url: str  # as the user gave it, for messages
    domain: str  # the matched registrable domain, e.g. "amazon.co.uk"
    path: str
    query: str

    def param(self, name: str) -> str:
        """First value of a query parameter, name matched case-insensitively; "" when absent."""
        for key, value in parse_qsl(self.query, keep_blank_values=True):
            if key.lower() == name.lower():
                return value
        return ""

    def refuse(self, reason: str) -> ListingURLError:
        return ListingURLError(f"{excerpt(self.url)} {reason}", self.url)


# A parser returns (key, canonical URL), or None when the page is not a listing.
_Parser = Callable[[_Link], tuple[str, str] | None]


def _digits(value: str, low: int, high: int) -> bool:
    return value.isascii() and value.isdigit() and low <= len(value) <= high


def _listing_id(pattern: str, *, key: str, canonical: str, param: str = "") -> _Parser:
    """A parser for platforms whose listing id is a group of the path or else a query parameter.

    ``key`` and ``canonical`` are format strings over {id}, {domain} and {cc} (country code).
    """
    regex = _rx(pattern)

    def parse(link: _Link) -> tuple[str, str] | None:
        if match := regex.search(link.path):
            item = next(group for group in match.groups() if group).upper()
        elif param and _digits(value := link.param(param), 5, 20):
            item = value
        else:
            return None
        fields = {"id": item, "domain": link.domain, "cc": link.domain.rsplit(".", 1)[-1]}
        return key.format_map(fields), canonical.format_map(fields)

    return parse


def _taobao_family(platform: str, canonical_host: str) -> _Parser:
    def parse(link: _Link) -> tuple[str, str] | None:
        if match := _TAOBAO_ITEM_PATH.search(link.path):
            item = match[1]
        elif _TAOBAO_ITEM_PAGE.search(link.path) and _digits(link.param("id"), 6, 20):
            item = link.param("id")
        else:
            return None
        return f"{platform}:{item}", f"https://{canonical_host}/item.htm?id={item}"

    return parse


def _ebay(link: _Link) -> tuple[str, str] | None:
    if match := _EBAY_ITEM.search(link.path):
        item = match[1] or match[2]
    elif link.path.lower().endswith("/ebayisapi.dll"):  # cgi.ebay.*/ws/eBayISAPI.dll?ViewItem&item=
        item = link.param("item")
    else:
        item = link.param("itemId") if link.path.lower().startswith("/itm") else ""
    if not _digits(item, 9, 19):
        return None
    return f"ebay:{item}", f"https://www.{link.domain}/itm/{item}"


def _shopee(link: _Link) -> tuple[str, str] | None:
    if not (match := _SHOPEE_ITEM.search(link.path)):
        return None
    shop, item = (match[1], match[2]) if match[1] else (match[3], match[4])
    country = link.domain.rsplit(".", 1)[1]
    return f"shopee.{country}:{shop}.{item}", f"https://{link.domain}/product/{shop}/{item}"


def _mercadolibre(link: _Link) -> tuple[str, str] | None:
    if _ML_CATALOGUE.search(link.path):
        raise link.refuse(
            "is a Mercado Libre catalogue page (/p/), which groups many sellers' listings; "
            "open the seller's listing (articulo.…) and report that URL."
        )
    if _ML_USER_PRODUCT.search(link.path):
        # A user-product page (/up/) shows one of several listings; only a pinned one is usable.
        values = (link.param("wid"), link.param("item_id"), link.param("pdp_filters"))
        match = next(filter(None, map(_ML_ITEM_ID.search, values)), None)
        if match is None:
            raise link.refuse(
                "is a Mercado Libre product page (/up/) that can show several listings; "
                "open the seller's listing (articulo.…) and report that URL."
            )
    elif not (match := _ML_ITEM_PATH.search(link.path)):
        return None
    prefix, number = match[1].upper(), match[2]
    if not (site := _ML_SITES.get(prefix)):
        return None
    host = f"produto.{site}" if site.endswith(".br") else f"articulo.{site}"
    return f"mercadolibre:{prefix}{number}", f"https://{host}/{prefix}-{number}"


def _walmart(link: _Link) -> tuple[str, str] | None:
    # walmart.ca ids are its own (alphanumeric), so its keys carry the domain.
    canadian = link.domain == "walmart.ca"
    if not (match := (_WALMART_CA_ITEM if canadian else _WALMART_ITEM).search(link.path)):
        return None
    item = match[1].upper()
    return (
        f"{'walmart.ca' if canadian else 'walmart'}:{item}",
        f"https://www.{link.domain}/ip/{item}",
    )


def _facebook(link: _Link) -> tuple[str, str] | None:
    if not (match := _FACEBOOK_ITEM.search(link.path)):
        raise link.refuse(
            "is a Facebook page but not a Marketplace listing; "
            "open the Marketplace item and copy its URL."
        )
    return f"facebook:{match[1]}", f"https://www.facebook.com/marketplace/item/{match[1]}/"


_PARSERS: dict[str, _Parser] = {
    "taobao": _taobao_family("taobao", "item.taobao.com"),
    "tmall": _taobao_family("tmall", "detail.tmall.com"),
    "1688": _listing_id(
        r"^/offer/([0-9]{6,20})\.html?$", param="offerId",
        key="1688:{id}", canonical="https://detail.1688.com/offer/{id}.html",
    ),
    "aliexpress": _listing_id(
        r"(?:^|/)(?:item|i)/(?:[^/]+/)?([0-9]{6,20})\.html$",
        key="aliexpress:{id}", canonical="https://www.aliexpress.com/item/{id}.html",
    ),
    "alibaba": _listing_id(
        r"^/product-detail/(?:[^/]*_)?([0-9]{6,20})\.html$|^/product/([0-9]{6,20})\b",
        key="alibaba:{id}", canonical="https://www.alibaba.com/product-detail/_{id}.html",
    ),
    "amazon": _listing_id(  # the ASIN is per marketplace, so the key carries the domain
        r"(?:^|/)(?:dp|gp/product|gp/aw/d|gp/offer-listing|exec/obidos/asin"
        r"|exec/obidos/tg/detail/-)/([a-z0-9]{10})(?:/|$)",
        key="{domain}:{id}", canonical="https://www.{domain}/dp/{id}",
    ),
    "ebay": _ebay,
    "etsy": _listing_id(
        r"^(?:/[a-z]{2}(?:-[a-z]{2,4})?)?/listing/([0-9]{5,15})(?:/|$)",
        key="etsy:{id}", canonical="https://www.etsy.com/listing/{id}",
    ),
    "shopee": _shopee,
    "lazada": _listing_id(
        r"^/products/(?:[^/]*-)?i([0-9]{3,15})(?:-s[0-9]+)?\.html$",
        key="lazada.{cc}:{id}", canonical="https://www.{domain}/products/i{id}.html",
    ),
    "mercadolibre": _mercadolibre,
    "walmart": _walmart,
    "temu": _listing_id(
        r"-g-([0-9]{6,20})\.html$", param="goods_id",
        key="temu:{id}", canonical="https://www.temu.com/goods.html?goods_id={id}",
    ),
    "shein": _listing_id(  # SHEIN finds a product by the number after -p-; the slug is decoration
        r"-p-([0-9]{4,15})(?:-cat-[0-9]+)?\.html$",
        key="shein:{id}", canonical="https://www.shein.com/item-p-{id}.html",
    ),
    "facebook": _facebook,
}  # fmt: skip


def excerpt(text: str, limit: int = 80) -> str:
    """Text someone gave, as an error reason quotes it: at most `limit` characters, and valid
    UTF-8 even if the text had lone surrogates (reasons end up in Slack messages)."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _a(name: str) -> str:
    return f"an {name}" if name[0] in "AEIOUaeiou" else f"a {name}"


def _domain_of(host: str) -> str | None:
    """The supported registrable domain a host belongs to: exact labels, never a substring."""
    labels = host.split(".")
    for start in range(len(labels) - 1):
        if (domain := ".".join(labels[start:])) in _DOMAINS:
            return domain
    return None


def _is_supported_host(host: str) -> bool:
    host = host.removesuffix(".")
    return host.removeprefix("www.") in _SHORT_LINKS or _domain_of(host) is not None


def _split(given: str) -> SplitResult:
    """The parts of an http(s) URL, or the reason the text is not one."""
    if not given:
        raise ListingURLError(
            "No URL given; paste the listing's link, starting with https://.", given
        )
    if len(given) > MAX_URL_LENGTH:
        raise ListingURLError(
            f"The URL is {len(given)} characters long, over the limit of {MAX_URL_LENGTH}; "
            "copy the listing's link again without extra text.",
            given,
        )
    not_a_url = ListingURLError(
        f"Not a URL: '{excerpt(given)}'; paste the listing's link, starting with https://.", given
    )
    if any(char.isspace() for char in given):
        raise not_a_url
    url = given
    if (bare := _SCHEMELESS_HOST.match(given)) and _is_supported_host(bare[1].lower()):
        url = "https://" + given.removeprefix("//")
    elif (
        not _SCHEME.match(given)
        and (bare := _SCHEMELESS_ANY_HOST.match(given))
        and _LOOKALIKES.find(bare[1].lower())
    ):
        url = "https://" + given.removeprefix("//")  # to be refused as the lookalike it is
    if not (scheme := _SCHEME.match(url)):
        raise not_a_url
    if scheme[1].lower() not in ("http", "https"):
        raise ListingURLError(
            f"'{excerpt(scheme[1], 20)}:' links cannot be listings; "
            "paste the listing's web link, starting with https://.",
            given,
        )
    try:
        return urlsplit(url)
    except ValueError:  # unbalanced IPv6 brackets, characters that NFKC turns into "@" or "/"
        raise ListingURLError(
            "The URL's host part is malformed; copy the link again from the marketplace.", given
        ) from None


def _supported_domain(parts: SplitResult, given: str) -> str:
    """The supported registrable domain the URL's host belongs to, or the reason it has none."""
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        raise ListingURLError(
            f"The URL hides its real host behind '{excerpt(userinfo, 40)}@'; "
            "copy the link from the marketplace's own page.",
            given,
        )
    host = (parts.hostname or "").removesuffix(".")
    if not host:
        raise ListingURLError(f"The URL has no host: '{excerpt(given)}'.", given)
    if ":" in host or _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        raise ListingURLError(
            f"The URL points at an IP address ({excerpt(host, 40)}), not a marketplace; "
            "copy the listing's link from the marketplace.",
            given,
        )
    if shortener := _SHORT_LINKS.get(host.removeprefix("www.")):
        raise ListingURLError(
            f"{excerpt(given)} is {_a(platform_name(shortener))} short link; "
            "open it in a browser and copy the full listing URL.",
            given,
        )
    # The character check keeps "evil.example\www.ebay.com" (a browser's host: evil.example)
    # from matching on its last labels.
    if not _HOST.fullmatch(host) or (domain := _domain_of(host)) is None:
        raise _unknown_host(host, given)
    try:
        port = parts.port
    except ValueError:
        raise ListingURLError(f"The URL has an invalid port: '{excerpt(given)}'.", given) from None
    if port not in (None, 80, 443):
        raise ListingURLError(
            f"The URL uses port {port}, which marketplaces do not serve listings on; "
            "copy the link from the marketplace again.",
            given,
        )
    return domain


def _unknown_host(host: str, given: str) -> ListingURLError:
    """Why a host that is no marketplace's is refused: the marketplace it imitates, if any."""
    if (fake := _LOOKALIKES.find(host)) is not None:
        platform = _DOMAINS.get(fake.domain) or _SHORT_LINKS[fake.domain]
        name = platform_name(platform)
        return ListingURLError(
            f"{excerpt(host, 60)} looks like {name} ({fake.domain}) but is not: {fake.how()}. "
            f"Only links on {fake.domain} itself are {name} links; copy the listing's link "
            f"from {name}'s own page.",
            given,
        )
    shown = excerpt(host, 60)
    if (decoded := shown_host(host)) != host:
        shown += f" ({excerpt(decoded, 60)})"
    if scripts := mixed_scripts(host):
        shown += f", whose name mixes {' and '.join(scripts)} letters,"
    return ListingURLError(
        f"{shown} is not a marketplace the bot knows; supported: {', '.join(PLATFORMS.values())}.",
        given,
    )


def parse_listing_url(text: str) -> ParsedListing:
    """Recognise a listing URL: its platform, listing key and canonical URL.

    Raises ListingURLError, and nothing else, for any text that is not a supported listing;
    its ``reason`` is one sentence the reporter can act on.
    """
    given = tidy_link(text)
    parts = _split(given)
    domain = _supported_domain(parts, given)
    platform = _DOMAINS[domain]
    link = _Link(url=given, domain=domain, path=parts.path, query=parts.query)
    if (found := _PARSERS[platform](link)) is None:
        raise link.refuse(
            f"is {_a(platform_name(platform))} page but not a listing; open the item and copy its URL."
        )
    key, canonical_url = found
    return ParsedListing(platform=platform, key=key, canonical_url=canonical_url)


# A bare URL ends at any space (no-break and ideographic ones too).
_FIND = _rx(
    r"<(https?://[^\s<>|]+)(?:\|[^<>]*)?>"
    r"|(https?://[^\s<>\"\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+)"
)


def find_urls(text: str) -> list[str]:
    """Every http(s) URL in free text, in order of appearance, each once.

    Understands Slack's ``<url|label>`` and ``<url>`` forms and ``&amp;`` escapes, and drops
    punctuation and quotes that end a sentence rather than the URL, and invisible marks.
    """
    found: dict[str, None] = {}
    for match in _FIND.finditer(text):
        wrapped, bare = match.groups()
        url = strip_invisible(unescape_slack(wrapped)) if wrapped else tidy_link(bare)
        if url.split("://", 1)[1]:
            found.setdefault(url)
    return list(found)


# Public names for the short-link resolver (bot.intake.shortlinks): which hosts shorten, and whether a
# host belongs to a supported platform.
SHORT_LINK_HOSTS = _SHORT_LINKS


def known_domain(host: str) -> str | None:
    """The supported platform domain `host` belongs to (exact domain or a subdomain of it), if any."""
    return _domain_of(host)
