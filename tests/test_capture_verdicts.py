"""What a captured page is judged to be, on saved pages (tests/pages/): a listing, or the captcha,
login, home page or "not found" page a marketplace shows instead, which is never kept as the
listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evidence.capture import capture_line
from bot.evidence.verdicts import Verdict, judge

PAGES = Path(__file__).resolve().parent / "pages"
AMAZON = "https://www.amazon.de/dp/B0ABCDEFGH"
EBAY = "https://www.ebay.com/itm/123456789012"
TAOBAO = "https://item.taobao.com/item.htm?id=623456789012"


def _judge(platform: str, url: str, page: str, *, status: int = 200, final: str = "") -> Verdict:
    text = (PAGES / page).read_text(encoding="utf-8")
    return judge(
        platform=platform, requested_url=url, final_url=final or url, status=status, page=text
    ).verdict


@pytest.mark.parametrize(
    ("platform", "url", "page"),
    [
        ("amazon", AMAZON, "amazon_listing.html"),
        ("ebay", EBAY, "ebay_listing.html"),
        ("taobao", TAOBAO, "taobao_listing.html"),
    ],
)
def test_a_listing_page_is_a_listing(platform: str, url: str, page: str) -> None:
    assert _judge(platform, url, page) is Verdict.LISTING


@pytest.mark.parametrize(
    ("platform", "url", "page"),
    [
        ("amazon", AMAZON, "amazon_robot_check.html"),
        ("ebay", EBAY, "ebay_interruption.html"),
        ("taobao", TAOBAO, "taobao_slider.html"),
        ("tmall", "https://detail.tmall.com/item.htm?id=723456789012", "taobao_slider.html"),
    ],
)
def test_a_robot_check_is_a_captcha_even_with_status_200(
    platform: str, url: str, page: str
) -> None:
    assert _judge(platform, url, page) is Verdict.CAPTCHA


def test_the_captcha_note_names_the_platform_and_the_marker() -> None:
    text = (PAGES / "taobao_slider.html").read_text(encoding="utf-8")
    judgement = judge(
        platform="taobao", requested_url=TAOBAO, final_url=TAOBAO, status=200, page=text
    )
    assert judgement.note is not None
    assert "Taobao" in judgement.note and "captcha" in judgement.note


@pytest.mark.parametrize(
    ("platform", "url", "final"),
    [
        ("taobao", TAOBAO, "https://login.taobao.com/member/login.jhtml?redirectURL=x"),
        ("amazon", AMAZON, "https://www.amazon.de/ap/signin?openid.return_to=x"),
        ("ebay", EBAY, "https://signin.ebay.com/ws/eBayISAPI.dll?SignIn"),
    ],
)
def test_a_redirect_to_the_login_page_is_a_login(platform: str, url: str, final: str) -> None:
    assert _judge(platform, url, "home.html", final=final) is Verdict.LOGIN


def test_a_redirect_to_the_home_page_is_said_so() -> None:
    assert _judge("ebay", EBAY, "home.html", final="https://www.ebay.com/") is Verdict.HOME_REDIRECT
    assert _judge("amazon", AMAZON, "home.html", final="https://www.amazon.de/de/") is (
        Verdict.HOME_REDIRECT
    )
    # The listing's own page after a redirect (http → https, a slug added) is no home page.
    slug = "https://www.amazon.de/ACME-Trail-Backpack/dp/B0ABCDEFGH"
    assert _judge("amazon", AMAZON, "amazon_listing.html", final=slug) is Verdict.LISTING


def test_a_missing_listing_is_not_found_by_status_or_by_its_page() -> None:
    assert _judge("amazon", AMAZON, "amazon_not_found.html", status=404) is Verdict.NOT_FOUND
    assert _judge("ebay", EBAY, "home.html", status=410) is Verdict.NOT_FOUND
    assert _judge("taobao", TAOBAO, "taobao_gone.html") is Verdict.NOT_FOUND  # HTTP 200


def test_a_server_error_is_an_error_not_a_listing() -> None:
    assert _judge("ebay", EBAY, "ebay_listing.html", status=503) is Verdict.ERROR


def test_the_thread_line_counts_listings_and_names_what_else_came_back() -> None:
    line = capture_line(
        [
            ("amazon", "listing"),
            ("ebay", "listing"),
            ("amazon", "listing"),
            ("taobao", "captcha"),
        ]
    )
    assert line.startswith("Captured 3 of 4 listings as evidence; 1 was a captcha page (Taobao).")
    both = capture_line([("taobao", "captcha"), ("tmall", "captcha"), ("ebay", "not_found")])
    assert "Captured 0 of 3 listings" in both
    assert "2 were captcha pages (Taobao, Tmall)" in both and "1 was not found (eBay)" in both
    assert capture_line([("ebay", "listing")]) == "Captured 1 of 1 listing as evidence."
