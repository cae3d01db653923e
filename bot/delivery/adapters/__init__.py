"""The adapter registry: the names app.yaml uses (`adapter: ebay_vero`) mapped to classes.

Built-in adapters and any installed package's adapters are found through the entry-point group
`takedown_bot.adapters`, so an agency can ship a private adapter without forking.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from bot.config.environment import Settings
from bot.config.logs import settings_secrets
from bot.delivery.adapters.base import Adapter, AdapterOptions

ENTRY_POINT_GROUP = "takedown_bot.adapters"

_BUILTIN = {
    "portal": "bot.delivery.adapters.portal:PortalAdapter",
    "email": "bot.delivery.adapters.email:EmailAdapter",
    "webhook": "bot.delivery.adapters.webhook:WebhookAdapter",
    "ebay_vero": "bot.delivery.adapters.ebay_vero:EbayVeroAdapter",
    "mercadolibre": "bot.delivery.adapters.mercadolibre:MercadoLibreAdapter",
    "sandbox": "bot.delivery.adapters.sandbox:SandboxAdapter",
}


class UnknownAdapterError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown adapter {name!r} (known: {', '.join(sorted(adapter_names()))})")


@cache
def _targets() -> dict[str, str]:
    targets = dict(_BUILTIN)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(point.name, point.value)
    return targets


def adapter_names() -> list[str]:
    return list(_targets())


def adapter_class(name: str) -> type[Adapter]:
    """The class registered under `name`; raises UnknownAdapterError."""
    target = _targets().get(name)
    if target is None:
        raise UnknownAdapterError(name)
    module_name, _, attr = target.partition(":")
    module = __import__(module_name, fromlist=[attr])
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise UnknownAdapterError(name)
    return cls


def parse_adapter_options(name: str, options: dict[str, Any]) -> AdapterOptions:
    """Validate a platform entry's adapter-specific keys with the adapter's own Options model."""
    return adapter_class(name).Options.model_validate(options)


def validate_adapter_options(name: str, options: dict[str, Any], *, where: str = "") -> list[str]:
    """Problems with an entry's adapter-specific keys, each as `key: message` (`where.key: …`
    with `where`, the entry's own path), or as `message` (`where: message`) for the entry as a
    whole, such as a choice between two keys."""
    try:
        parse_adapter_options(name, options)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            parts = [where] if where else []
            loc = ".".join(parts + [str(part) for part in error["loc"]])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"unknown key for the {name} adapter"
            elif error["type"] == "missing":
                message = f"required by the {name} adapter"
            problems.append(f"{loc}: {message}" if loc else message)
        return problems
    return []


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret the settings hold, the adapters' option secrets included (for redaction)."""
    options: list[AdapterOptions] = []
    for entry in settings.config.platforms.values():
        try:
            options.append(parse_adapter_options(entry.adapter, entry.options))
        except Exception:  # noqa: S112 (validated at load; an odd entry has no secret to find)
            continue
    return settings_secrets(settings, adapter_options=options)
