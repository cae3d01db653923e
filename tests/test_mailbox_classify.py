"""Reading a platform's reply: the phrase tables, per listing, and the sample set's figures."""

from __future__ import annotations

import pytest
from mail_samples.figures import figures, read_outcome
from mail_samples.make_samples import SAMPLES, expected

from bot.mailbox.classify import (
    LANGUAGES,
    Named,
    Outcome,
    outcome_of,
    per_listing,
    platforms_of_sender,
    tables,
)
from bot.mailbox.message import read_message


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_sample_reply_reads_as_the_outcome_its_name_says(name: str) -> None:
    assert read_outcome(SAMPLES[name]) == expected(name)


def test_the_sample_files_are_the_ones_the_generator_writes() -> None:
    from mail_samples.make_samples import HERE

    for name, raw in SAMPLES.items():
        assert (HERE / name).read_bytes() == raw, f"run tests/mail_samples/make_samples.py ({name})"


def test_figures_count_every_sample_once_and_none_wrong() -> None:
    table = figures()
    assert sum(row["samples"] for row in table.values()) == len(SAMPLES)
    assert all(row["wrong"] == 0 for row in table.values())


def test_the_phrase_tables_speak_english_chinese_spanish_and_portuguese() -> None:
    assert set(LANGUAGES) <= set(tables()["generic"].phrases)
    for table in tables().values():
        assert "en" in table.phrases, table.name
        for by_outcome in table.phrases.values():
            assert set(by_outcome) <= {o for o in Outcome if o != Outcome.UNKNOWN}


def test_the_sender_domain_names_the_platforms_it_speaks_for() -> None:
    assert "aliexpress" in platforms_of_sender("ipp-notice@alibaba-inc.com")
    assert platforms_of_sender("vero@ebay.com") == ("ebay",)
    assert platforms_of_sender("someone@notebay.com") == ()


def test_a_reply_that_says_two_outcomes_equally_is_unknown() -> None:
    assert (
        outcome_of("The listing has been removed. We are unable to process your other notice.")
        == Outcome.UNKNOWN
    )


def test_an_acknowledgement_is_received_only_when_nothing_else_is_said() -> None:
    assert outcome_of("We have received your notice.") == Outcome.RECEIVED
    assert (
        outcome_of("We have received your notice and the listing has been removed.")
        == Outcome.REMOVED
    )


def test_each_listing_takes_the_outcome_of_the_heading_above_it() -> None:
    text = (
        "We reviewed your report.\n"
        "The following listings have been removed:\n"
        "https://www.ebay.com/itm/111111111111\n"
        "We were unable to remove the following listing:\n"
        "https://www.ebay.com/itm/222222222222\n"
    )
    listings = [
        Named(1, ("https://www.ebay.com/itm/111111111111", "111111111111")),
        Named(2, ("https://www.ebay.com/itm/222222222222", "222222222222")),
        Named(3, ("https://www.ebay.com/itm/333333333333", "333333333333")),
    ]
    outcomes = per_listing(text, listings, platform="ebay")
    assert outcomes[1] == Outcome.REMOVED
    assert outcomes[2] == Outcome.REJECTED
    assert outcomes[3] == Outcome.UNKNOWN  # not named; the reply as a whole says two things


def test_what_a_reply_quotes_from_our_notice_is_not_read() -> None:
    raw = (
        b"From: abuse@shop.example\r\nSubject: Re: notice\r\n\r\n"
        b"Thanks, we are looking into it.\r\n\r\nOn Mon, 3 Jun 2024 Acme wrote:\r\n"
        b"> Once these listings have been removed, please confirm.\r\n"
    )
    message = read_message(raw)
    assert "removed" not in message.text
    assert outcome_of(message.text) == Outcome.UNKNOWN


def test_gb2312_and_gbk_bodies_are_read_as_chinese() -> None:
    message = read_message(SAMPLES["alibaba-removed-gb2312.eml"])
    assert "投诉已成立" in message.text
    assert "请补充证明材料" in read_message(SAMPLES["alibaba-needs-info-gbk-html.eml"]).text
