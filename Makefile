# Two entry points (see README): `make run` runs the main job, `make test` runs the tests and the strict docs build.
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= experiments/quickstart.toml

.PHONY: setup run test test-slow lint bench clean

setup:
	bash scripts/setup.sh

run: setup
	$(BIN)/rlopt run $(CONFIG)

test: setup
	bash scripts/setup-browser.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --doctest-modules rlopt reward_models envs experiments tests
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir "$$(mktemp -d)"

test-slow: setup
	$(BIN)/python -m pytest -q -m slow tests

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) runs .pytest_cache
