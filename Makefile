# takedown-bot — `make run` starts the bot, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint imports migration format chaos fuzz transcript clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	@if [ -z "$$SLACK_BOT_TOKEN" ] || [ -z "$$SLACK_SIGNING_SECRET" ]; then \
		echo "SLACK_BOT_TOKEN/SLACK_SIGNING_SECRET not set: starting the local shell with examples/demo.yaml (README: Connecting Slack)."; \
		exec $(PY) -m bot shell --config examples/demo.yaml; \
	fi; \
	$(PY) -m bot migrate && exec $(PY) -m bot serve

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The README's shell session, regenerated: a real `takedown-bot shell` on examples/demo.yaml, fed
# docs/transcript.in through a pipe, in a throwaway folder (its database is thrown away too).
transcript: $(STAMP)
	@dir=$$(mktemp -d) && ln -s $(CURDIR)/examples $$dir/examples && cd $$dir && \
		$(CURDIR)/$(PY) -m bot shell --config examples/demo.yaml --wait 20 < $(CURDIR)/docs/transcript.in; \
		status=$$?; rm -rf $$dir; exit $$status

fuzz: $(STAMP)
	TAKEDOWN_FUZZ_EXAMPLES=20000 $(PY) -m pytest tests/test_fuzz.py $(PYTEST_ARGS)

chaos: $(STAMP)
	$(PY) -m pytest tests/chaos -s $(PYTEST_ARGS)

lint: imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The import rules: import-linter's contracts (pyproject.toml) and the no-loop test.
imports: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests/test_layout.py

# `make migration m="add notice records"`: a new, empty Alembic revision in
# storage/migrations/versions, numbered after the last one (after 0005_oauth_tokens.py comes
# 0006_add_notice_records.py) and revising the current head. Write its upgrade() and downgrade();
# `takedown-bot migrate` applies it.
migration: $(STAMP)
	@test -n "$$m" || { echo 'usage: make migration m="what the migration changes"' >&2; exit 2; }
	@$(PY) -c "$$NEW_MIGRATION" "$$m"

define NEW_MIGRATION
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

migrations = Path("storage/migrations")
numbers = [int(p.name[:4]) for p in (migrations / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")]
config = Config()
config.set_main_option("script_location", str(migrations))
script = command.revision(config, message=sys.argv[1], rev_id=f"{max(numbers, default=0) + 1:04d}")
print(f"created {script.path}" if script else "no revision created")
endef
export NEW_MIGRATION

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
