"""takedown-bot: a Slack desk for reporting infringing marketplace listings."""
