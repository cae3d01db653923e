"""`python -m bot` is `takedown-bot`."""

import sys

from bot.cli import main

sys.exit(main())
