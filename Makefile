# takedown-bot — `make run` starts the bot, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint format chaos clean

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

chaos: $(STAMP)
	$(PY) -m pytest tests/chaos -s $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
