"""The `takedown-bot` command line. `main` declares every command and runs one; each command's
module (`setup`, `serve`, `figures`, `report`) is imported only when that command runs, so `--help`
loads no Slack, SQL or chart code."""
