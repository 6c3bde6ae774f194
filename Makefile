# make demo   set up .venv and run custdata on the bundled examples
# make test   set up .venv with the test tools and run the test suite
# make bench  run the benchmarks (SCALE=100k by default, or SCALE=1m)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SCALE  ?= 100k

.PHONY: demo test bench clean-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $@

demo: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

# The browser test of `report html` needs Debian's chromium (and a CJK font), the team-store
# tests Debian's postgresql (each test run starts its own throwaway server): installed as root.
test: $(VENV)/.installed
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei) \
	  >/dev/null || echo "make test: chromium could not be installed; the browser test skips"
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
	  >/dev/null || echo "make test: postgresql could not be installed; the team-store tests skip (fail under CI=true)"
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider

bench: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHON=$(CURDIR)/$(BIN)/python SCALE=$(SCALE) bash benchmarks/run_all.sh
