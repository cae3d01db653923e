"""The classification figures on the sample set: per outcome, how many samples were read right,
wrong, or as unknown (`python tests/mail_samples/figures.py` prints the table in docs/mailbox.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parents[2]), str(Path(__file__).parents[1])]

from mail_samples.make_samples import OUTCOMES, SAMPLES, expected  # noqa: E402

from bot.mailbox.classify import outcome_of, platforms_of_sender  # noqa: E402
from bot.mailbox.message import read_message  # noqa: E402


def read_outcome(raw: bytes) -> str:
    message = read_message(raw)
    platforms = platforms_of_sender(message.sender) or platforms_of_sender(
        _forwarded_from(message.text)
    )
    return str(outcome_of(message.text, platform=platforms[0] if platforms else None))


def _forwarded_from(text: str) -> str | None:
    for line in text.splitlines():
        if line.lower().startswith("from:") and "@" in line:
            return line.split("<")[-1].rstrip("> ").split()[-1]
    return None


def figures() -> dict[str, dict[str, int]]:
    table = {o: {"samples": 0, "right": 0, "wrong": 0, "unknown": 0} for o in OUTCOMES}
    for name, raw in SAMPLES.items():
        want, got = expected(name), read_outcome(raw)
        row = table[want]
        row["samples"] += 1
        if got == want:
            row["right"] += 1
        elif got == "unknown":
            row["unknown"] += 1
        else:
            row["wrong"] += 1
    return table


def main() -> None:
    print("| outcome | samples | right | wrong | unknown |")
    print("|---|---|---|---|---|")
    for outcome, row in figures().items():
        print(
            f"| {outcome} | {row['samples']} | {row['right']} | {row['wrong']} | {row['unknown']} |"
        )


if __name__ == "__main__":
    main()
