# The two commands that matter: `make run` and `make test`. `make bench` for the on-sale benchmark.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test bench bench-smoke lint format venv clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) bin/run

test: venv
	bin/test

bench: venv
	$(PY) bench/onsale.py

bench-smoke: venv
	$(PY) bench/onsale.py --smoke --out var/bench-smoke --drop-db

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var staticfiles
