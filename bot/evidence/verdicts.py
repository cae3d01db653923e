"""What a captured page is: the listing, or something a marketplace shows instead of it.

A marketplace that suspects a robot answers with a captcha or a "robot check", a login wall, a
redirect to its home page, or a "not found" page, often with status 200. Such a page must never be
kept as the listing, so every capture is judged (`judge`) and its verdict stored with it
(`EvidenceItem.verdict`). The signs are data: a few page markers and URL patterns per platform
(`SIGNS`), plus markers of the bot-check services any site may use (`GENERIC_CAPTCHA`). Markers
are matched in the page's lowercased text; they are specific phrases, element ids and URL parts,
so a listing that mentions "captcha" in passing is not taken for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from bot.core.platforms import platform_name


class Verdict(StrEnum):
    """The stored values of `EvidenceItem.verdict` for captures."""

    LISTING = "listing"
    CAPTCHA = "captcha"
    LOGIN = "login"
    HOME_REDIRECT = "home_redirect"
    NOT_FOUND = "not_found"
    ERROR = "error"


@dataclass(frozen=True)
class Signs:
    """How one platform shows what is not a listing."""

    captcha: tuple[str, ...] = ()  # page markers of its robot check
    login_hosts: tuple[str, ...] = ()  # a final URL on a host starting so is its login
    login_paths: tuple[str, ...] = ()  # …or whose path starts so
    not_found: tuple[str, ...] = ()  # page markers of "this item does not exist" (often HTTP 200)


_AMAZON = Signs(
    captcha=(
        "/errors/validatecaptcha",
        "enter the characters you see below",
        "type the characters you see in this image",
        "to discuss automated access to amazon data",
    ),
    login_paths=("/ap/signin", "/ap/register"),
    not_found=("not a functioning page on our site", "looking for something?"),
)
_EBAY = Signs(
    captcha=("pardon our interruption", "/splashui/captcha", "please verify yourself to continue"),
    login_hosts=("signin.ebay.",),
    login_paths=("/signin/", "/ws/ebayisapi.dll?signin"),
    not_found=("we looked everywhere", "the item you're looking for could not be found"),
)
# Taobao, Tmall, 1688, AliExpress and Alibaba.com share one anti-bot service: a slider ("nc_1"
# noCaptcha elements) served from a "punish" page, and a login wall on their login hosts.
_ALIBABA_GROUP = Signs(
    captcha=(
        "nc_1_n1z",
        "nc-container",
        "/_____tmd_____/punish",
        "x5secdata",
        "baxia-punish",
        "滑动验证",
        "请按住滑块",
        "slide to verify",
    ),
    login_hosts=(
        "login.taobao.",
        "login.tmall.",
        "login.1688.",
        "login.aliexpress.",
        "passport.alibaba.",
        "passport.aliexpress.",
    ),
    login_paths=("/member/login", "/newlogin/"),
    not_found=("宝贝不存在", "此宝贝已下架", "this item is no longer available", "商品已下架"),
)
SIGNS: dict[str, Signs] = {
    "amazon": _AMAZON,
    "ebay": _EBAY,
    "taobao": _ALIBABA_GROUP,
    "tmall": _ALIBABA_GROUP,
    "1688": _ALIBABA_GROUP,
    "aliexpress": _ALIBABA_GROUP,
    "alibaba": _ALIBABA_GROUP,
    "etsy": Signs(login_paths=("/signin",), not_found=("sorry, this item is unavailable",)),
    "walmart": Signs(captcha=("px-captcha",), login_paths=("/account/login",)),
    "temu": Signs(login_paths=("/login.html",)),
    "shopee": Signs(login_paths=("/buyer/login",)),
}
# Bot-check services any marketplace may put in front of its pages.
GENERIC_CAPTCHA = (
    "cf-challenge",
    "challenges.cloudflare.com/turnstile",
    "px-captcha",
    "captcha-delivery.com",
    "verify you are human",
    "are you a robot",
)
_HOME_PATHS = frozenset({"", "/", "/index.html", "/index.htm", "/home", "/gp/homepage.html"})
_LOCALE_HOME = re.compile(r"/[a-z]{2}(?:[-_][a-z]{2})?/?")  # /de, /en-us/


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    note: str | None = None  # why it is not the listing; None for a listing


def _marker(text: str, markers: tuple[str, ...]) -> str | None:
    return next((marker for marker in markers if marker in text), None)


def _is_login(final_url: str, signs: Signs) -> bool:
    parts = urlsplit(final_url)
    host, path = (parts.hostname or "").lower(), parts.path.lower()
    if parts.query:
        path = f"{path}?{parts.query.lower()}"
    return any(host.startswith(prefix) for prefix in signs.login_hosts) or any(
        path.startswith(prefix) for prefix in signs.login_paths
    )


def _is_home(requested_url: str, final_url: str) -> bool:
    requested, final = urlsplit(requested_url), urlsplit(final_url)
    if requested.path == final.path or final.query:
        return False
    path = final.path.lower()
    return path in _HOME_PATHS or bool(_LOCALE_HOME.fullmatch(path))


def judge(
    *, platform: str, requested_url: str, final_url: str, status: int, page: str
) -> Judgement:
    """The verdict on a fetched page: `status` and `final_url` of the last response, `page` its
    decoded text (any case)."""
    signs = SIGNS.get(platform, Signs())
    name = platform_name(platform)
    text = page.lower()
    if status in (404, 410):
        return Judgement(Verdict.NOT_FOUND, f"{name} answered HTTP {status}: the listing is gone")
    if _is_login(final_url, signs):
        return Judgement(Verdict.LOGIN, f"{name} sent a login page ({final_url}), not the listing")
    if marker := _marker(text, signs.captcha) or _marker(text, GENERIC_CAPTCHA):
        return Judgement(
            Verdict.CAPTCHA, f"{name} answered with a captcha or robot check (found {marker!r})"
        )
    if _is_home(requested_url, final_url):
        return Judgement(Verdict.HOME_REDIRECT, f"{name} redirected to its home page ({final_url})")
    if status >= 400:
        return Judgement(Verdict.ERROR, f"{name} answered HTTP {status}")
    if status >= 300:
        return Judgement(Verdict.ERROR, f"{name} kept redirecting (HTTP {status})")
    if marker := _marker(text, signs.not_found):
        return Judgement(Verdict.NOT_FOUND, f"{name} says the listing does not exist ({marker!r})")
    return Judgement(Verdict.LISTING)


# How the thread names each verdict that is not a listing ("1 was a captcha page (Taobao)").
SAID: dict[Verdict, tuple[str, str]] = {  # (one, several)
    Verdict.CAPTCHA: ("was a captcha page", "were captcha pages"),
    Verdict.LOGIN: ("was a login page", "were login pages"),
    Verdict.HOME_REDIRECT: ("redirected to the home page", "redirected to the home page"),
    Verdict.NOT_FOUND: ("was not found", "were not found"),
    Verdict.ERROR: ("could not be fetched", "could not be fetched"),
}
