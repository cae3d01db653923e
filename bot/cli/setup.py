"""`takedown-bot check-config` and `manifest`: setting a deployment up. Neither touches Slack;
`check-config` opens the database only when there is one to open (a SQLite file that exists, or a
PostgreSQL URL), to check that the OAuth tokens kept there can be read with TAKEDOWN_SECRET_KEY, and
loads the database layer only then."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import yaml

from bot.cli.errors import EXIT_OK, CliError
from bot.config.environment import Environment
from bot.config.loading import load_config
from bot.config.schema import AppConfig
from bot.manifest import build_manifest

if TYPE_CHECKING:
    from storage.tokens import KeptTokens

# How long check-config waits for a database before it says it did not check the tokens.
DATABASE_PATIENCE = 5.0


def check_config(path: str | None) -> int:
    """Validate app.yaml (default: $TAKEDOWN_CONFIG) and the secret key, check the OAuth tokens
    the database keeps can be read with it, and print what the configuration sets up."""
    env = Environment.from_environ()
    path = path or env.config_path
    config = load_config(path)
    tokens = kept_tokens_summary(env)  # raises CliError when some cannot be read
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
    for line in evidence_summary(env, config):
        print(f"  {line}")
    for line in tokens:
        print(f"  {line}")
    return EXIT_OK


def evidence_summary(env: Environment, config: AppConfig) -> list[str]:
    """What check-config says of evidence: where it is kept, whether listings are captured, and
    whether the Chromium that screenshots need is there."""
    from bot.evidence.screenshot import chromium_status

    evidence = config.evidence
    off = [name for name, entry in config.platforms.items() if not entry.capture]
    captures = "on" + (f" (off for {', '.join(off)})" if off else "") if evidence.capture else "off"
    kept = f"{evidence.keep_days} days" if evidence.keep_days else "as long as the case"
    lines = [f"evidence: {env.evidence_url}; captures {captures}; kept {kept}"]
    if evidence.screenshot:
        lines.append(chromium_status())
    lines.append(_links_line(env, config))
    return lines


def _links_line(env: Environment, config: AppConfig) -> str:
    from bot.evidence.links import evidence_links

    missing = evidence_links(env, days=config.evidence.link_days).missing
    attach = f"emails attach up to {config.evidence.attach_max_mb:g} MB of evidence"
    if missing:
        return (
            f"evidence links: none ({' and '.join(missing)} not set): notices name their evidence "
            f"files without a download link; {attach}"
        )
    return (
        f"evidence links: {env.public_url}/evidence/…, valid {config.evidence.link_days} days; "
        f"{attach}, the rest linked"
    )


def kept_tokens_summary(env: Environment) -> list[str]:
    """What check-config says of TAKEDOWN_SECRET_KEY and of the OAuth tokens the database keeps;
    CliError when some cannot be decrypted with the keys given."""
    keys = len(env.secret_keys)
    lines = [
        f"secret key: {keys} key{'s' if keys > 1 else ''} in TAKEDOWN_SECRET_KEY"
        + (" (the first encrypts)" if keys > 1 else "")
        if keys
        else "secret key: none (TAKEDOWN_SECRET_KEY is not set: OAuth tokens are kept unencrypted)"
    ]
    # No SQLite file, nothing to check: and no SQL library loaded.
    if env.database_url.startswith("sqlite"):
        file = env.database_url.partition(":///")[2].split("?")[0]
        if not file or file == ":memory:" or not Path(file).exists():
            return [*lines, "kept OAuth tokens: none (no database yet)"]
    found = _kept_tokens(env)
    if isinstance(found, str):
        return [*lines, f"kept OAuth tokens: not checked ({found})"]
    unreadable = [item for item in found if item.state == "unreadable"]
    if unreadable:
        raise CliError(
            "the OAuth tokens kept in the database cannot be decrypted:\n"
            + "".join(f"  {item.key}: {item.problem}\n" for item in unreadable)
            + "Set TAKEDOWN_SECRET_KEY to the key that encrypted them (while rotating keys: the "
            "new key first, then the old one), or create a new refresh token for that platform "
            "and put it in the environment variable its oauth.refresh_token names."
        )
    if not found:
        return [*lines, "kept OAuth tokens: none"]
    counts = {
        state: sum(item.state == state for item in found)
        for state in ("encrypted", "older key", "plain")
    }
    said = [f"{counts['encrypted']} encrypted"] if counts["encrypted"] else []
    if counts["older key"]:
        said.append(
            f"{counts['older key']} under an older key, encrypted with the first key when the "
            "bot next reads them (keep the older key until then)"
        )
    if counts["plain"]:
        said.append(
            f"{counts['plain']} unencrypted"
            + (", encrypted when the bot next reads them" if keys else " (set TAKEDOWN_SECRET_KEY)")
        )
    return [*lines, f"kept OAuth tokens: {len(found)} readable: {'; '.join(said)}"]


def _kept_tokens(env: Environment) -> list[KeptTokens] | str:
    """The kept tokens' states, or why the database could not be asked."""
    import asyncio

    from bot.config.secret_key import token_cipher
    from storage.db import Database
    from storage.tokens import check_kept_tokens

    async def check() -> list[KeptTokens] | str:
        db = Database(env.database_url, connect_timeout=DATABASE_PATIENCE, pool_size=1)
        try:
            status = await asyncio.wait_for(db.schema_status(), DATABASE_PATIENCE)
            if status.current is None:
                return "the database has no schema yet"
            return await check_kept_tokens(db, token_cipher(env))
        except Exception as exc:
            return f"the database could not be reached or read: {type(exc).__name__}"
        finally:
            await db.dispose()

    return asyncio.run(check())


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
