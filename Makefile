# The newcomer's commands. Each target is a thin wrapper around scripts/.
.PHONY: setup test lint run

run:
	scripts/run

setup:
	scripts/setup

test:
	scripts/test

lint:
	scripts/setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	PYTHONPATH=. .venv/bin/lint-imports --no-cache
