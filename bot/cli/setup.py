"""`takedown-bot check-config` and `manifest`: setting a deployment up. Neither touches Slack or the
database, so neither loads their libraries."""

from __future__ import annotations

from urllib.parse import urlsplit

import yaml

from bot.cli.errors import EXIT_OK, CliError
from bot.config.environment import Environment
from bot.config.loading import load_config
from bot.manifest import build_manifest


def check_config(path: str | None) -> int:
    """Validate app.yaml (default: $TAKEDOWN_CONFIG) and print what it sets up."""
    path = path or Environment.from_environ().config_path
    config = load_config(path)
    rights = sum(len(brand.rights) for brand in config.brands)
    print(f"ok: {path}")
    print(f"  rights holder: {config.rights_holder.name} <{config.rights_holder.email}>")
    print(f"  brands: {', '.join(b.name for b in config.brands)} ({rights} rights)")
    for name, entry in config.platforms.items():
        serves = f" (serves {', '.join(entry.serves)})" if entry.serves else ""
        print(f"  platform {name}: {entry.adapter}{serves}, SLA {entry.sla_days} days")
    print("  other platforms: portal (guided web form)")
    print(
        f"  timezone: {config.team.timezone}; report channel: {config.team.report_channel or 'where the command is used'}"
    )
    reporters = ", ".join(config.access.reporters) or "everyone"
    approvers = ", ".join(config.access.approvers) or "everyone"
    print(f"  reporters: {reporters}; approvers: {approvers}")
    return EXIT_OK


def print_manifest(*, url: str | None, socket_mode: bool) -> int:
    """Print the Slack app manifest (YAML) for HTTP mode at `url`, or for Socket Mode."""
    if not socket_mode and not url:
        raise CliError(
            "give the bot's public URL (--url https://bot.example.com) or use --socket-mode"
        )
    if url and not url.startswith("https://"):
        raise CliError("--url must be an https:// URL (Slack only calls https endpoints)")
    if url and not urlsplit(url).hostname:
        raise CliError(f"--url {url!r} names no host (e.g. https://bot.example.com)")
    manifest = build_manifest(url=url, socket_mode=socket_mode)
    print(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK
