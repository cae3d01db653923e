"""`takedown-bot bundle TD-42 [--output FILE]`: a case's evidence bundle, written to a file."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bot.cli.errors import EXIT_OK, CliError
from bot.config.loading import load_settings
from bot.core.cases import parse_case_ref


def bundle(*, case: str, output: str | None) -> int:
    """Build the bundle of `case` and write it to `output` (default `TD-42-evidence.zip` here),
    through a temporary file renamed into place: a reader never sees half a bundle. Prints the
    file and its SHA-256."""
    from bot.evidence.bundle import build_bundle
    from bot.evidence.case_records import BundleError
    from bot.evidence.location import open_store
    from bot.evidence.store import EvidenceStoreError

    case_id = parse_case_ref(case)
    if case_id is None:
        raise CliError(f"{case[:40]!r} is not a case: give its reference, for example TD-42")
    settings = load_settings()

    async def build() -> None:
        db = settings.env.database()
        try:
            await db.require_schema()
            store = open_store(settings.env.evidence_url)
            built = await build_bundle(db, store, settings.config, case_id=case_id)
        finally:
            await db.dispose()
        path = Path(output) if output else Path(built.filename)
        _write(path, built.data)
        print(f"{path}  {built.sha256}", file=sys.stdout)

    try:
        asyncio.run(build())
    except (BundleError, EvidenceStoreError) as exc:
        raise CliError(str(exc)) from None
    return EXIT_OK


def _write(path: Path, data: bytes) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"--output {path}: the folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
