"""`python -m bot` is `takedown-bot`."""

import sys

from bot.cli.main import main

sys.exit(main())
