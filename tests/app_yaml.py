"""The app.yaml the tests run with, built from data: a base configuration and each test's changes.

    config_yaml()                                          # the base, as YAML text
    config_yaml(team={"colour": "blue"})                   # a key added to `team`
    config_yaml(platforms={"ebay": {"adapter": "portal"}}) # an entry beside `taobao`
    config_yaml(access={"approvers": ["U0LEGAL"]})         # a section added
    config_yaml(brands=OMIT)                               # a section left out
    build_config(platforms={...}, environ={"TOKEN": "t"})  # parsed: an AppConfig

A change is merged into the base: a mapping merges key by key (at any depth), anything else
(a list, a scalar) replaces the value, and `OMIT` removes the key. `${VAR}` values are written as
they are and replaced by `parse_config` from `environ`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml

from bot.config.loading import parse_config
from bot.config.schema import AppConfig

OMIT: Any = object()  # as a change's value: leave that key out

_BASE: dict[str, Any] = {
    "team": {"timezone": "Europe/Berlin", "report_channel": "C0REPORTS"},
    "rights_holder": {
        "name": "Acme Outdoor GmbH",
        "email": "brand-protection@acme.example",
        "address": "Hauptstr. 1, 10115 Berlin, DE",
        "phone": "+49 30 1234567",
        "signatory": "Jane Roe, Head of Brand Protection",
    },
    "brands": [
        {
            "name": "Acme",
            "rights": [
                {
                    "id": "acme-eu-tm",
                    "kind": "trademark",
                    "mark": "ACME",
                    "number": "018123456",
                    "office": "EUIPO",
                    "classes": [18, 25],
                    "jurisdiction": "EU",
                },
                {
                    "id": "acme-photos",
                    "kind": "copyright",
                    "work": "Acme 2026 catalogue product photographs",
                    "url": "https://acme.example/catalogue",
                },
            ],
        },
        {
            "name": "Bravo",
            "rights": [
                {
                    "id": "bravo-us-tm",
                    "kind": "trademark",
                    "mark": "BRAVO",
                    "number": "7654321",
                    "office": "USPTO",
                    "classes": [9],
                    "jurisdiction": "US",
                }
            ],
        },
    ],
    "platforms": {"taobao": {"adapter": "portal", "sla_days": 3}},
    # Tests that capture listings turn this on with a fake marketplace (tests/test_capture.py);
    # the others would otherwise send each listing's capture to the real marketplace.
    "evidence": {"capture": False},
}


def base_config() -> dict[str, Any]:
    """The base configuration as data (a fresh copy, free to change)."""
    return copy.deepcopy(_BASE)


def config_yaml(**changes: Any) -> str:
    """The base configuration with `changes` (top-level section → value) merged in, as YAML."""
    data = _merged(base_config(), changes)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def build_config(*, environ: Mapping[str, str] | None = None, **changes: Any) -> AppConfig:
    """`config_yaml(**changes)` parsed and validated, its `${VAR}`s taken from `environ`."""
    return parse_config(config_yaml(**changes), environ=dict(environ or {}))


def _merged(base: dict[Any, Any], changes: Mapping[Any, Any]) -> dict[Any, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if value is OMIT:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
