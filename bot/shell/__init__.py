"""`takedown-bot shell`: the real bot in a terminal with a local stand-in for Slack."""
