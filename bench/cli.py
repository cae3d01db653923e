"""Benchmark 6: how long the command line takes to start, as a person at a terminal waits for it.

    .venv/bin/python -m bench.cli [--runs 30] [--config app.yaml]

Runs `python -m bot --help`, `check-config` and `manifest --socket-mode` as separate processes,
each `--runs` times after one warm-up run (bytecode compiled, files in the page cache), and prints
the median and p90 wall time of each, with a bare interpreter's start (`python -c pass`) as the
floor no command can go under. Target: `--help` ≤ 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench._common import machine, median, percentile

REPO = Path(__file__).resolve().parent.parent


def commands(config: str) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "python -c pass (the floor)": [python, "-c", "pass"],
        "takedown-bot --help": [python, "-m", "bot", "--help"],
        f"takedown-bot check-config {config}": [python, "-m", "bot", "check-config", config],
        "takedown-bot manifest --socket-mode": [python, "-m", "bot", "manifest", "--socket-mode"],
    }


def environment() -> dict[str, str]:
    """This tree's code, and none of the caller's Slack or bot settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SLACK_") and name not in ("TAKEDOWN_CONFIG", "DATABASE_URL")
    }
    env["PYTHONPATH"] = str(REPO)
    return env


def wall_times(argv: list[str], *, runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, check=True)
        if i:  # the first run compiles bytecode and fills the page cache
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--config", default="app.yaml", help="the app.yaml check-config reads")
    args = parser.parse_args()
    env = environment()
    print(f"{machine()}; {args.runs} runs each")
    print(f"{'command':<48} {'median':>8} {'p90':>8} {'min':>8}")
    for name, argv in commands(args.config).items():
        times = wall_times(argv, runs=args.runs, env=env)
        print(
            f"{name:<48} {median(times):>7.3f}s {percentile(times, 90):>7.3f}s {min(times):>7.3f}s"
        )


if __name__ == "__main__":
    main()
