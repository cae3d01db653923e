"""The `takedown-bot` command line: `main` parses and dispatches; `report` and `figures` are its
larger commands."""
