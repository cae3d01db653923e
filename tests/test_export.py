"""Exports (CSV, JSON, Lumen notices) of the seeded data set, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from app_yaml import build_config
from seed import WEEK, seed
from sqlalchemy import text

from bot.config.schema import AppConfig
from bot.figures import export as export_module
from bot.figures.export import export
from bot.figures.export.tabular import CSV_COLUMNS
from storage.db import Database


def _csv(data: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(data))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def _by_key(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        out.setdefault(row["key"], []).append(row)
    return out


async def test_csv_one_row_per_listing_with_its_timeline(db: Database, config: AppConfig) -> None:
    seeded = await seed(db)
    rows = _csv(await export(db, config, format="csv", since=None))
    assert len(rows) == 247
    keys = _by_key(rows)

    # ebay:e-removed-0 was removed, then reported again (e-relist): two rows, one key.
    original, again = keys["ebay:e-removed-0"]
    case_id = seeded.cases["e-removed"][0]
    notice_id = seeded.notices["e-removed"][0]
    assert {
        k: original[k] for k in ("case_ref", "platform", "status", "notice_status", "seller")
    } == {
        "case_ref": f"TD-{case_id}",
        "platform": "ebay",
        "status": "relisted",
        "notice_status": "sent",
        "seller": "Shady Deals",
    }
    assert original["thread_url"] == "https://slack.com/archives/C0REPORTS/p1780000000000100"
    assert (original["submitted_at"], original["decided_at"]) == (
        "2026-06-08T10:00:00Z",
        "2026-06-08T11:00:00Z",
    )
    assert original["timeline"] == (
        "2026-06-08T09:00:00Z opened by seed; "
        f"2026-06-08T10:00:00Z notice_sent notice {notice_id} by seed; "
        "2026-06-08T10:00:00Z status_changed queued→submitted by seed; "
        "2026-06-08T11:00:00Z status_changed submitted→removed by seed"
    )
    assert again["status"] == "queued"
    assert again["relisted_from"] == original["listing_id"]
    assert again["timeline"] == "2026-06-13T07:00:00Z opened by seed"

    asked = keys["amazon:a-removed-0"][0]["timeline"]
    assert "submitted→needs_info" in asked and "needs_info→removed" in asked
    rejected = keys["ebay:e-rejected-0"][0]
    assert rejected["status_reason"] == "not infringing, says the platform"

    recent = _csv(await export(db, config, format="csv", since=WEEK))
    assert len(recent) == 200  # the listings reported this week


async def test_csv_cells_cannot_become_formulas(db: Database, config: AppConfig) -> None:
    seeded = await seed(db)
    case_id = seeded.cases["o7"][0]
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE cases SET description = :d WHERE id = :id"),
            {"d": '=HYPERLINK("https://evil.example","click")', "id": case_id},
        )
        await session.execute(
            text("UPDATE listings SET seller = '@SUM(A1:A9)' WHERE case_id = :id"), {"id": case_id}
        )
    row = _by_key(_csv(await export(db, config, format="csv", since=None)))["ebay:o7-0"][0]
    assert row["description"] == '\'=HYPERLINK("https://evil.example","click")'
    assert row["seller"] == "'@SUM(A1:A9)"


async def test_json_nests_cases_listings_events(db: Database, config: AppConfig) -> None:
    seeded = await seed(db)
    document = json.loads(await export(db, config, format="json", since=None))
    assert (document["version"], document["since"]) == (1, None)
    cases = {case["id"]: case for case in document["cases"]}
    assert len(cases) == 30  # one case per group
    assert sum(len(case["listings"]) for case in cases.values()) == 247

    case = cases[seeded.cases["a-removed"][0]]
    assert case["ref"] == f"TD-{case['id']}"
    assert case["status"] == "closed"
    assert (case["brand"], case["right_id"], case["infringement"]) == (
        "Acme",
        "acme-eu-tm",
        "counterfeit",
    )
    assert [event["kind"] for event in case["events"]] == ["opened", "notice_sent"]
    assert case["events"][0]["detail"] == {"listings": 20}
    assert [notice["status"] for notice in case["notices"]] == ["sent"]
    first = case["listings"][0]
    assert first["key"] == "amazon:a-removed-0"
    assert first["created_at"] == "2026-06-08T09:00:00Z"
    assert [(e["detail"]["from"], e["detail"]["to"]) for e in first["events"]] == [
        ("queued", "submitted"),
        ("submitted", "needs_info"),
        ("needs_info", "removed"),
    ]
    assert [e["at"] for e in first["events"]] == [
        "2026-06-08T10:00:00Z",
        "2026-06-08T11:30:00Z",
        "2026-06-08T13:00:00Z",
    ]
    assert cases[seeded.cases["o1"][0]]["status"] == "open"

    recent = json.loads(await export(db, config, format="json", since=WEEK))
    assert recent["since"] == "2026-06-08T07:00:00Z"
    assert len(recent["cases"]) == 18


async def test_export_reads_in_chunks(
    db: Database, config: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(db)
    whole = await export(db, config, format="json", since=None)
    monkeypatch.setattr(export_module, "CASE_CHUNK", 7)
    pieces = [p async for p in export_module.export_chunks(db, config, format="json", since=None)]
    assert "".join(pieces) == whole
    assert len(pieces) == 1 + 30 + 1  # opening, one per case, closing


async def test_empty_exports(db: Database, config: AppConfig) -> None:
    assert await export(db, config, format="csv", since=None) == ",".join(CSV_COLUMNS) + "\r\n"
    assert json.loads(await export(db, config, format="json", since=None)) == {
        "version": 1,
        "since": None,
        "cases": [],
    }
    assert json.loads(await export(db, config, format="lumen", since=None)) == []


async def test_unknown_format(db: Database, config: AppConfig) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        await export(db, config, format="xml", since=None)  # type: ignore[arg-type]


# -- Lumen ----------------------------------------------------------------------------------------


def _notices(data: str) -> dict[str, dict[str, Any]]:
    """Lumen notice bodies by case ref."""
    return {item["notice"]["case_id_number"]: item["notice"] for item in json.loads(data)}


async def test_lumen_notice_shape(db: Database, config: AppConfig) -> None:
    seeded = await seed(db)
    notices = _notices(await export(db, config, format="lumen", since=None))
    assert len(notices) == 24  # the sent notices: 9 eBay, 5 Amazon, 4 Taobao, 4 Etsy, 2 AliExpress

    ref = f"TD-{seeded.cases['o6'][0]}"
    assert notices[ref] == {
        "title": "Counterfeit goods notice to eBay (" + ref + ")",
        "type": "Counterfeit",
        "subject": "Counterfeit goods: Acme (1 listing on eBay)",
        "body": "Seeded group o6: fake ACME goods with our logo.",
        "date_sent": "2026-05-25",
        "source": "Online Form",
        "case_id_number": ref,
        "action_taken": "Yes",
        "jurisdiction_list": "EU",
        "mark_registration_number": "018123456",
        "works_attributes": [
            {
                "description": "ACME (trademark EUIPO 018123456; classes 18, 25)",
                "infringing_urls_attributes": [{"url": "https://www.ebay.com/itm/100000246"}],
            }
        ],
        "entity_notice_roles_attributes": [
            {
                "name": "principal",
                "entity_attributes": {
                    "name": "Acme Outdoor GmbH",
                    "kind": "organization",
                    "address_line_1": "Hauptstr. 1, 10115 Berlin",
                    "country_code": "DE",
                    "email": "brand-protection@acme.example",
                    "phone": "+49 30 1234567",
                },
            },
            {
                "name": "sender",
                "entity_attributes": {
                    "name": "Jane Roe, Head of Brand Protection",
                    "kind": "individual",
                    "address_line_1": "Hauptstr. 1, 10115 Berlin",
                    "country_code": "DE",
                    "email": "brand-protection@acme.example",
                },
            },
            {"name": "recipient", "entity_attributes": {"name": "eBay", "kind": "organization"}},
        ],
    }

    def taken(group: str) -> str | None:
        return notices[f"TD-{seeded.cases[group][0]}"].get("action_taken")

    assert [taken(g) for g in ("e-removed", "e-rejected", "a-open", "e-info", "pe-removed")] == [
        "Yes",  # every listing removed (4 relisted since: removals all the same)
        "No",  # every listing rejected
        None,  # nothing decided yet
        None,  # asked for information
        "Yes",
    ]
    urls = notices[f"TD-{seeded.cases['x-rejected'][0]}"]["works_attributes"][0]
    assert len(urls["infringing_urls_attributes"]) == 10
    assert all(
        u["url"].startswith("https://www.aliexpress.com/item/")
        for u in urls["infringing_urls_attributes"]
    )
    # Notices never sent (pending, failed, withdrawn) are not Lumen notices.
    for group in ("t-queued", "x-failed", "s-withdrawn", "e-relist", "o3", "o4"):
        assert f"TD-{seeded.cases[group][0]}" not in notices


async def test_lumen_copyright_notice_and_agent(db: Database) -> None:
    agent_config = build_config(rights_holder={"agent": "Brandguard Agency Ltd"})
    seeded = await seed(db)
    case_id = seeded.cases["o6"][0]
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE cases SET right_id = 'acme-photos', infringement = 'copyright' WHERE id = :id"
            ),
            {"id": case_id},
        )
    notice = _notices(await export(db, agent_config, format="lumen", since=None))[f"TD-{case_id}"]
    assert notice["type"] == "DMCA"
    assert notice["title"] == f"Copyright infringement notice to eBay (TD-{case_id})"
    assert notice["works_attributes"] == [
        {
            "description": "Acme 2026 catalogue product photographs",
            "infringing_urls_attributes": [{"url": "https://www.ebay.com/itm/100000246"}],
            "copyrighted_urls_attributes": [{"url": "https://acme.example/catalogue"}],
        }
    ]
    assert "mark_registration_number" not in notice
    assert "jurisdiction_list" not in notice
    roles = {
        role["name"]: role["entity_attributes"] for role in notice["entity_notice_roles_attributes"]
    }
    assert roles["sender"] == {
        "name": "Brandguard Agency Ltd",
        "kind": "organization",
        "email": "brand-protection@acme.example",
    }
    assert roles["principal"]["name"] == "Acme Outdoor GmbH"
