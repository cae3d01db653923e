"""What the mailbox tests (issue 16) share: Etsy taking notices by email on the fake SMTP server,
a real Dovecot (skipped where none can run, failed instead in CI), and the Record platform reply
shortcut used on a Slack message.

    @pytest.fixture
    def dovecot() -> Iterator[Dovecot]:
        with running_dovecot() as server:
            yield server
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import SlackDriver
from delivery_kit import APPROVER, run_jobs, told
from fakes.dovecot import REQUIRE_DOVECOT, Dovecot, dovecot_reason
from fakes.smtp import FakeSmtp

ETSY = "https://www.etsy.com/listing/1234567890/acme-bag"


def etsy_by_email(smtp: FakeSmtp) -> dict[str, Any]:
    """The `platforms` section: Etsy's notices go by email to the fake SMTP server."""
    return {"etsy": {"adapter": "email", "to": "ip-notices@etsy.example",
                     "host": "127.0.0.1", "port": smtp.port, "security": "none"}}  # fmt: skip


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    if reason := dovecot_reason():
        if REQUIRE_DOVECOT:
            pytest.fail(reason + " (CI or TAKEDOWN_REQUIRE_DOVECOT is set)")
        pytest.skip(reason)
    with Dovecot() as server:
        yield server


def reading(dovecot: Dovecot, **changes: Any) -> dict[str, Any]:
    """`build_config` arguments for a team mailbox on `dovecot` (its password from the
    environment, as in production): `build_config(..., **reading(dovecot, folder="X"))`."""
    section = {"host": "127.0.0.1", "port": dovecot.port, "user": dovecot.user,
               "password": "${IMAP_PASSWORD}", "ca_file": str(dovecot.ca_file), **changes}  # fmt: skip
    return {"mailbox": section, "environ": {"IMAP_PASSWORD": dovecot.password}}


def shortcut(message: dict[str, Any], *, user: str = APPROVER) -> dict[str, Any]:
    """The Record platform reply shortcut's payload, used on `message` by `user`."""
    return {
        "type": "message_action",
        "callback_id": "record_platform_reply",
        "trigger_id": "t-1",
        "team": {"id": "T1"},
        "user": {"id": user},
        "channel": {"id": "C0CHAT"},
        "message": {"type": "message", "ts": "1.2", **message},
        "response_url": "http://127.0.0.1:9/unused",
    }


async def record_reply(bot: SlackDriver, message: dict[str, Any], *, user: str = APPROVER) -> str:
    """Use the shortcut on a Slack message; what the person is told."""
    before = len(bot.slack.calls_to("chat.postEphemeral"))
    await bot.interact(shortcut(message, user=user))
    await bot.slack.wait_for("chat.postEphemeral", count=before + 1)
    await run_jobs(bot)
    return told(bot)[-1]
