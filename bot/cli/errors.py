"""How a command fails: its exit status, and `CliError` for a message the person can act on."""

import sys

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """Bad input or configuration: `takedown-bot` prints the message and exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def print_error(message: str) -> None:
    """One line (or a few) on stderr, as every failure of `takedown-bot` reads."""
    print(f"takedown-bot: {message}", file=sys.stderr)
