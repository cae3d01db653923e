"""The notice text: the elements each law asks for, and user-written text kept plain and safe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.config.schema import Right, RightsHolder
from bot.delivery.adapters.base import NoticeListing
from bot.delivery.elements import (
    MissingElement,
    MissingElementError,
    applies_eu,
    missing_elements,
)
from bot.delivery.notices import BONA_FIDE_EU, build_notice, notice_fields

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)

HOLDER = RightsHolder(
    name="Acme Outdoor GmbH",
    email="brand-protection@acme.example",
    address="Hauptstr. 1, 10115 Berlin, DE",
    phone="+49 30 1234567",
    signatory="Jane Roe, Head of Brand Protection",
)
TRADEMARK = Right(
    id="acme-us-tm",
    kind="trademark",
    number="5123456",
    office="USPTO",
    classes=[18, 25],
    jurisdiction="US",
)
COPYRIGHT = Right(
    id="acme-photos",
    kind="copyright",
    work="Acme 2026 catalogue product photographs",
    url="https://acme.example/catalogue",
)
EBAY_COM = NoticeListing(1, "ebay", "ebay:123456789012", "https://www.ebay.com/itm/123456789012")
EBAY_COM_2 = NoticeListing(
    2, "ebay", "ebay:223456789012", "https://www.ebay.com/itm/223456789012", seller="cheap-gear"
)
AMAZON_DE = NoticeListing(
    3, "amazon", "amazon.de:B0ABCDEFGH", "https://www.amazon.de/dp/B0ABCDEFGH"
)
AMAZON_COM = NoticeListing(
    4, "amazon", "amazon.com:B0ABCDEFGJ", "https://www.amazon.com/dp/B0ABCDEFGJ"
)
EXPLANATION = "The listings copy our catalogue photographs and sell unbranded goods with them."


def notice(**overrides: Any):
    values: dict[str, Any] = {
        "notice_id": 17,
        "case_ref": "TD-42",
        "platform": "ebay",
        "channel": "ebay",
        "idempotency_key": "notice-17",
        "brand": "Acme",
        "right": TRADEMARK,
        "rights_holder": HOLDER,
        "infringement": "counterfeit",
        "description": EXPLANATION,
        "evidence": ["https://acme.example/test-buy/42.jpg"],
        "listings": [EBAY_COM, EBAY_COM_2],
        "now": NOW,
    }
    values.update(overrides)
    return build_notice(**values)


def missing_where(error: pytest.ExceptionInfo[MissingElementError]) -> list[str]:
    return [item.where for item in error.value.missing]


# --- copyright: DMCA §512(c)(3)(A) ------------------------------------------------------------


def test_copyright_notice_carries_every_dmca_element() -> None:
    text = notice(right=COPYRIGHT, infringement="copyright").text

    assert "/Jane Roe, Head of Brand Protection/ (electronic signature)" in text  # (i)
    assert "Copyrighted work: Acme 2026 catalogue product photographs" in text  # (ii)
    assert "Work URL: https://acme.example/catalogue" in text
    assert "1. https://www.ebay.com/itm/123456789012" in text  # (iii)
    assert "2. https://www.ebay.com/itm/223456789012" in text
    assert "Address: Hauptstr. 1, 10115 Berlin, DE" in text  # (iv)
    assert "Phone: +49 30 1234567" in text
    assert "Email: brand-protection@acme.example" in text
    assert "good-faith belief" in text and "not authorised by the copyright owner" in text  # (v)
    assert "accurate" in text and "under penalty of perjury" in text  # (vi)


def test_copyright_notice_without_signatory_names_rights_holder_signatory() -> None:
    holder = HOLDER.model_copy(update={"signatory": None})

    with pytest.raises(MissingElementError) as error:
        notice(right=COPYRIGHT, infringement="copyright", rights_holder=holder)

    assert error.value.missing == [
        MissingElement("signatory", "rights_holder.signatory", "DMCA §512(c)(3)(A)(i)")
    ]
    assert "rights_holder.signatory" in str(error.value)


def test_copyright_notice_without_work_or_contact_lists_every_gap_at_once() -> None:
    holder = HOLDER.model_copy(update={"address": None, "phone": " "})
    right = COPYRIGHT.model_copy(update={"work": None})

    with pytest.raises(MissingElementError) as error:
        notice(right=right, infringement="copyright", rights_holder=holder)

    assert missing_where(error) == [
        "rights.acme-photos.work",
        "rights_holder.address",
        "rights_holder.phone",
    ]


# --- trademarks and counterfeits ---------------------------------------------------------------


def test_trademark_notice_names_mark_registration_office_classes_and_owner() -> None:
    text = notice().text

    assert "Trademark: Acme" in text
    assert "Registration number: 5123456" in text
    assert "Office: USPTO" in text
    assert "Classes: 18, 25" in text
    assert "Owner: Acme Outdoor GmbH" in text
    assert "not genuine goods of the trademark owner" in text


def test_trademark_notice_prefers_the_registered_mark_and_owner_to_brand_and_holder() -> None:
    right = TRADEMARK.model_copy(update={"mark": "ACME OUTDOOR", "owner": "Acme Holding AG"})

    text = notice(right=right).text

    assert "Trademark: ACME OUTDOOR" in text
    assert "Owner: Acme Holding AG" in text
    assert "Acme Outdoor GmbH submits this notice on behalf of Acme Holding AG" in text


def test_trademark_notice_without_registration_number_names_the_right_key() -> None:
    right = TRADEMARK.model_copy(update={"number": None})

    with pytest.raises(MissingElementError) as error:
        notice(right=right)

    assert missing_where(error) == ["rights.acme-us-tm.number"]
    assert "registration number" in str(error.value)


def test_trademark_notice_without_office_or_classes_is_refused() -> None:
    right = TRADEMARK.model_copy(update={"office": None, "classes": []})

    with pytest.raises(MissingElementError) as error:
        notice(right=right, infringement="trademark")

    assert missing_where(error) == ["rights.acme-us-tm.office", "rights.acme-us-tm.classes"]


def test_agent_is_named_as_acting_on_the_owners_behalf() -> None:
    holder = HOLDER.model_copy(
        update={"agent": "Roe & Partners LLP (power of attorney 2025-01-10)"}
    )

    text = notice(rights_holder=holder).text

    assert (
        "This notice is submitted by Roe & Partners LLP (power of attorney 2025-01-10), acting on "
        "behalf of Acme Outdoor GmbH, the owner of the right described above" in text
    )
    assert "Agent: Roe & Partners LLP" in text


def test_counterfeit_notice_must_cite_a_trademark() -> None:
    with pytest.raises(MissingElementError) as error:
        notice(right=COPYRIGHT, infringement="counterfeit")

    assert missing_where(error) == ["report.right"]


def test_design_notice_needs_registration_number_and_office() -> None:
    design = Right(id="acme-design", kind="design")

    with pytest.raises(MissingElementError) as error:
        notice(right=design, infringement="design")

    assert missing_where(error) == ["rights.acme-design.number", "rights.acme-design.office"]


def test_patent_notice_cites_number_and_office() -> None:
    patent = Right(id="acme-pat", kind="patent", number="EP 3 123 456", office="EPO")

    text = notice(right=patent, infringement="patent").text

    assert "Registration number: EP 3 123 456" in text
    assert "Office: EPO" in text
    assert "infringe the registered right described above" in text


# --- the EU: DSA Art. 16(2) ----------------------------------------------------------------------


def test_amazon_de_listing_makes_the_notice_an_eu_notice() -> None:
    assert applies_eu([AMAZON_DE], TRADEMARK)


def test_amazon_com_listing_with_a_us_right_is_not_an_eu_notice() -> None:
    assert not applies_eu([AMAZON_COM, EBAY_COM], TRADEMARK)


@pytest.mark.parametrize(
    "url", ["https://www.ebay.de/itm/123456789012", "https://www.ebay.at/itm/123456789012"]
)
def test_ebay_listing_on_an_eu_site_is_recognised_from_its_host(url: str) -> None:
    assert applies_eu([NoticeListing(1, "ebay", "ebay:123456789012", url)], TRADEMARK)


def test_amazon_com_be_is_an_eu_marketplace() -> None:
    listing = NoticeListing(
        1, "amazon", "amazon.com.be:B0ABCDEFGH", "https://www.amazon.com.be/dp/B0ABCDEFGH"
    )

    assert applies_eu([listing], TRADEMARK)


@pytest.mark.parametrize("jurisdiction", ["EU", "de", "FR"])
def test_eu_or_member_state_right_makes_the_notice_an_eu_notice(jurisdiction: str) -> None:
    right = TRADEMARK.model_copy(update={"jurisdiction": jurisdiction})

    assert applies_eu([AMAZON_COM], right)


def test_eu_notice_carries_every_dsa_element() -> None:
    built = notice(platform="amazon", channel="amazon", listings=[AMAZON_DE])

    assert built.eu
    assert EXPLANATION in built.text  # (a)
    assert "1. https://www.amazon.de/dp/B0ABCDEFGH" in built.text  # (b)
    assert "Name: Acme Outdoor GmbH" in built.text  # (c)
    assert "Email: brand-protection@acme.example" in built.text
    assert BONA_FIDE_EU in built.text  # (d)


def test_non_eu_notice_has_no_dsa_statement() -> None:
    built = notice()

    assert not built.eu
    assert BONA_FIDE_EU not in built.text


def test_eu_notice_needs_a_substantiated_explanation() -> None:
    with pytest.raises(MissingElementError) as error:
        notice(listings=[AMAZON_DE], platform="amazon", description="  fake  ")

    assert missing_where(error) == ["report.description"]
    assert "DSA Art. 16(2)(a)" in str(error.value)


def test_non_eu_notice_may_leave_the_description_empty() -> None:
    built = notice(description="")

    assert "WHY THE LISTINGS INFRINGE" not in built.text


def test_missing_elements_reports_nothing_for_a_complete_eu_notice() -> None:
    problems = missing_elements(
        right=TRADEMARK,
        rights_holder=HOLDER,
        infringement="trademark",
        description=EXPLANATION,
        listings=[AMAZON_DE],
        eu=True,
    )

    assert problems == []


# --- subject, fields, user-written text ---------------------------------------------------------


def test_subject_names_case_type_brand_count_and_platform() -> None:
    listing_3 = NoticeListing(
        5, "ebay", "ebay:323456789012", "https://www.ebay.com/itm/323456789012"
    )

    built = notice(listings=[EBAY_COM, EBAY_COM_2, listing_3])

    assert (
        built.subject
        == "IP infringement notice TD-42: Counterfeit goods — Acme (3 listings on eBay)"
    )


def test_subject_of_a_single_listing_notice_says_listing() -> None:
    assert notice(listings=[EBAY_COM]).subject.endswith("(1 listing on eBay)")


def test_notice_is_dated_and_carries_case_reference() -> None:
    text = notice().text

    assert "Our reference: TD-42 (notice 17)" in text
    assert "Date: 2026-03-02" in text


def test_reporter_is_named_as_contact_person() -> None:
    assert "Contact person: Sam Lee" in notice(reporter="Sam Lee").text


def test_control_characters_are_stripped_and_line_breaks_kept() -> None:
    built = notice(description="Line one\x00\x07 is\x1b[31m fake.\r\nLine two\u202e reversed.\tEnd")

    assert built.description == "Line one is[31m fake.\nLine two reversed.\tEnd"
    assert "Line one is[31m fake.\nLine two reversed.\tEnd" in built.text
    assert "\x00" not in built.text and "\x1b" not in built.text and "\r" not in built.text


def test_line_breaks_cannot_leave_the_subject_or_a_field() -> None:
    built = notice(brand="Acme\r\nBcc: victim@example.com", listings=[EBAY_COM])

    assert "\n" not in built.subject and "\r" not in built.subject
    assert "Acme Bcc: victim@example.com" in built.subject


def test_hostile_looking_text_stays_verbatim_in_the_plain_text() -> None:
    hostile = "Seller wrote <!channel> & <script>alert(1)</script> *bold* — quoting it as evidence."

    built = notice(description=hostile)

    assert hostile in built.text


def test_notice_fields_follow_the_order_a_web_form_asks() -> None:
    fields = notice_fields(notice(listings=[AMAZON_DE], platform="amazon"))
    labels = [label for label, _ in fields]

    assert labels == [
        "Rights holder",
        "Contact email",
        "Address",
        "Phone",
        "Brand",
        "IP right",
        "Trademark",
        "Registration number",
        "Office",
        "Classes",
        "Jurisdiction",
        "Owner",
        "Infringement type",
        "Listing URLs",
        "Description",
        "Evidence",
        "Statements",
        "Signature",
        "Our reference",
    ]
    values = dict(fields)
    assert values["IP right"] == "Trademark: Acme USPTO 5123456"
    assert values["Listing URLs"] == "https://www.amazon.de/dp/B0ABCDEFGH"
    assert BONA_FIDE_EU in values["Statements"]


def test_a_full_portal_guide_keeps_every_field_within_slacks_limits() -> None:
    from bot.delivery.adapters.portal import PortalAdapter
    from bot.delivery.notices import notice_fields
    from bot.slack_ui.notice_blocks import portal_guide

    many = [
        NoticeListing(
            n, "ebay", f"ebay:{300000000000 + n}", f"https://www.ebay.com/itm/{300000000000 + n}"
        )
        for n in range(PortalAdapter.max_batch)
    ]
    built = notice(
        listings=many,
        description="x" * 3000,
        evidence=[f"https://acme.example/e/{n}" for n in range(20)],
    )
    fields = notice_fields(built)
    _, blocks = portal_guide(
        notice_id=built.notice_id,
        platform=built.platform,
        listings=len(built.listings),
        fields=fields,
        portal="Form",
        url="https://example.com/form",
    )
    text = "".join(str(block) for block in blocks)
    assert len(blocks) <= 50
    for label, _ in fields:
        assert f"*{label}*" in text, f"{label} is missing from the guide"
    assert "ebay:300000000049" in text or "300000000049" in text
