# The few commands people type. Each installs what it needs first (scripts/bootstrap).
.PHONY: up test lint format bench clean

up:  ## run the whole system in one process (SQLite + embedded bus) on 127.0.0.1:8000
	@scripts/bootstrap
	.venv/bin/earlywarning up

test:  ## the test suite, on a real Kafka broker and a real PostgreSQL started by the harness
	@scripts/bootstrap --test
	.venv/bin/pytest

lint:  ## ruff (lint + format) and mypy --strict
	@scripts/bootstrap --test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench:  ## every benchmark: start-up, bus, ingest, signals, notifier, analytics, register (prints its figures)
	@scripts/bootstrap --test
	.venv/bin/python bench/startup.py
	.venv/bin/python bench/bus.py
	.venv/bin/python bench/ingest.py
	.venv/bin/python bench/signals.py
	.venv/bin/python bench/notifier.py
	.venv/bin/python bench/dmu.py
	.venv/bin/python bench/analytics.py
	.venv/bin/python bench/register.py

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache earlywarning.db*
