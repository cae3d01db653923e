"""The sandbox adapter: a simulated platform deciding by elapsed time and listing key."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from bot.config.schema import Right, RightsHolder
from bot.delivery.adapters import adapter_class
from bot.delivery.adapters.base import NoticeListing, OutgoingNotice, PermanentError
from bot.delivery.adapters.sandbox import SandboxAdapter, SandboxOptions, listing_draw
from bot.delivery.notices import build_notice

T0 = 1_780_000_000.0
HOLDER = RightsHolder(name="Acme Outdoor GmbH", email="bp@acme.example", signatory="Jane Roe")
RIGHT = Right(id="acme-tm", kind="trademark", number="5123456", office="USPTO", classes=[25])
LISTINGS = [
    NoticeListing(
        i,
        "temu",
        f"temu:60100000{i:04d}",
        f"https://www.temu.com/goods.html?goods_id=60100000{i:04d}",
    )
    for i in range(1, 41)
]


def make_notice(
    key: str = "td-3-temu-1", listings: list[NoticeListing] = LISTINGS
) -> OutgoingNotice:
    return build_notice(
        notice_id=3,
        case_ref="TD-3",
        platform="temu",
        channel="temu",
        idempotency_key=key,
        brand="Acme",
        right=RIGHT,
        rights_holder=HOLDER,
        infringement="trademark",
        description="Sellers use the Acme mark on unbranded jackets.",
        evidence=[],
        listings=listings,
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sandbox(http: aiohttp.ClientSession, clock: Clock, **options: Any) -> SandboxAdapter:
    adapter = SandboxAdapter(SandboxOptions.model_validate(options), platform="temu", http=http)
    adapter.clock = clock
    return adapter


async def submitted(adapter: SandboxAdapter, notice: OutgoingNotice) -> OutgoingNotice:
    receipt = await adapter.submit(notice)
    return dataclasses.replace(notice, reference=receipt.reference)


async def test_submit_answers_a_reference_with_the_time_and_a_hash_of_the_key(
    http: aiohttp.ClientSession,
) -> None:
    receipt = await sandbox(http, Clock(T0)).submit(make_notice())

    assert receipt.reference is not None
    assert re.fullmatch(rf"SBX-{int(T0)}-[0-9a-f]{{12}}", receipt.reference)
    assert receipt.detail["simulated"] is True


async def test_submit_keeps_the_notice_a_platform_would_have_been_sent(
    http: aiohttp.ClientSession,
) -> None:
    notice = make_notice()
    receipt = await sandbox(http, Clock(T0)).submit(notice)

    assert receipt.copy is not None and receipt.copy.media_type == "text/plain"
    assert receipt.copy.body.decode() == f"Subject: {notice.subject}\n\n{notice.text}"


async def test_submit_puts_every_listing_in_review(http: aiohttp.ClientSession) -> None:
    receipt = await sandbox(http, Clock(T0)).submit(make_notice())

    assert [d.listing_id for d in receipt.decisions] == [listing.listing_id for listing in LISTINGS]
    assert {d.status for d in receipt.decisions} == {"in_review"}


async def test_resubmitting_the_same_key_gives_the_same_reference(
    http: aiohttp.ClientSession,
) -> None:
    clock = Clock(T0)
    adapter = sandbox(http, clock)

    first = await adapter.submit(make_notice())
    clock.now += 60
    second = await adapter.submit(make_notice())
    other = await adapter.submit(make_notice(key="td-3-temu-2"))

    assert first.reference == second.reference != other.reference


async def test_listings_stay_in_review_until_decide_after_has_passed(
    http: aiohttp.ClientSession,
) -> None:
    clock = Clock(T0)
    adapter = sandbox(http, clock, decide_after="20s")
    notice = await submitted(adapter, make_notice())

    clock.now = T0 + 19
    decisions = await adapter.check(notice)

    assert {d.status for d in decisions} == {"in_review"}


async def test_after_decide_after_each_listing_gets_a_final_decision(
    http: aiohttp.ClientSession,
) -> None:
    clock = Clock(T0)
    adapter = sandbox(http, clock, decide_after="20s")
    notice = await submitted(adapter, make_notice())

    clock.now = T0 + 20
    decisions = await adapter.check(notice)

    assert len(decisions) == len(LISTINGS)
    assert {d.status for d in decisions} <= {"removed", "rejected", "needs_info"}
    assert all(d.reason and "simulated" in d.reason for d in decisions)


async def test_decisions_are_the_same_on_every_check_and_follow_the_rates(
    http: aiohttp.ClientSession,
) -> None:
    clock = Clock(T0)
    adapter = sandbox(http, clock, decide_after="1s", removal_rate=0.5, needs_info_rate=0.25)
    notice = await submitted(adapter, make_notice())
    clock.now += 5

    first = await adapter.check(notice)
    second = await adapter.check(notice)

    assert first == second
    for decision, listing in zip(first, LISTINGS, strict=True):
        draw = listing_draw(listing.key)
        expected = "removed" if draw < 0.5 else "needs_info" if draw < 0.75 else "rejected"
        assert decision.status == expected


@pytest.mark.parametrize(
    ("removal", "needs_info", "status"),
    [(1.0, 0.0, "removed"), (0.0, 1.0, "needs_info"), (0.0, 0.0, "rejected")],
)
async def test_extreme_rates_decide_every_listing_alike(
    http: aiohttp.ClientSession, removal: float, needs_info: float, status: str
) -> None:
    clock = Clock(T0)
    adapter = sandbox(http, clock, removal_rate=removal, needs_info_rate=needs_info)
    notice = await submitted(adapter, make_notice())
    clock.now += 31

    assert {d.status for d in await adapter.check(notice)} == {status}


async def test_decisions_survive_a_restart_because_the_time_is_in_the_reference(
    http: aiohttp.ClientSession,
) -> None:
    notice = await submitted(sandbox(http, Clock(T0)), make_notice())

    restarted_early = sandbox(http, Clock(T0 + 10))
    restarted_late = sandbox(http, Clock(T0 + 30))

    assert {d.status for d in await restarted_early.check(notice)} == {"in_review"}
    assert "in_review" not in {d.status for d in await restarted_late.check(notice)}


async def test_a_reference_it_did_not_write_is_decided_at_once(http: aiohttp.ClientSession) -> None:
    notice = dataclasses.replace(make_notice(listings=LISTINGS[:3]), reference="SBX-legacy")

    decisions = await sandbox(http, Clock(T0)).check(notice)

    assert "in_review" not in {d.status for d in decisions}


async def test_check_without_a_reference_is_permanent(http: aiohttp.ClientSession) -> None:
    with pytest.raises(PermanentError):
        await sandbox(http, Clock(T0)).check(make_notice())


def test_listing_draw_is_in_the_unit_interval_and_stable() -> None:
    draws = [listing_draw(listing.key) for listing in LISTINGS]

    assert all(0 <= draw < 1 for draw in draws)
    assert draws == [listing_draw(listing.key) for listing in LISTINGS]
    assert len(set(draws)) == len(draws)


def test_options_parse_durations_and_default_to_thirty_seconds() -> None:
    assert SandboxOptions().decide_after == timedelta(seconds=30)
    assert SandboxOptions.model_validate({"decide_after": "2m"}).decide_after == timedelta(
        minutes=2
    )


@pytest.mark.parametrize(
    "values",
    [
        {"decide_after": "soon"},
        {"removal_rate": 1.5},
        {"needs_info_rate": -0.1},
        {"removal_rate": 0.9, "needs_info_rate": 0.2},
        {"delay": "5s"},
    ],
)
def test_invalid_options_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SandboxOptions.model_validate(values)


def test_registry_finds_the_sandbox_adapter() -> None:
    cls = adapter_class("sandbox")

    assert cls is SandboxAdapter
    assert (cls.max_batch, cls.idempotent, cls.can_check) == (100, True, True)
