# Two commands do all the set-up on a fresh machine:
#   make demo   — create .venv if missing, install everything, run the offline REST+ study
#   make test   — same set-up, then the whole test suite
# The venv is reused and only refreshed when pyproject.toml changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-install
export OMP_THREAD_LIMIT := 1
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test test-fast lint bench sysdeps clean

setup: $(STAMP) sysdeps

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch first, as its own command, pinned: pip then takes the CPU build already on disk.
# An unpinned torch would pull several GB of CUDA wheels. transformers uses the *ImageProcessorPil
# classes here, so no vision add-on package for torch is installed (it would break transformers).
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

sysdeps:
	@if command -v tesseract >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing tesseract-ocr (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng >/dev/null; \
	else \
	  echo "tesseract is missing. Install it with: sudo apt-get install -y tesseract-ocr tesseract-ocr-eng" >&2; exit 1; \
	fi

demo: setup
	$(VENV)/bin/restplus demo --out reports/demo

# pytest exits 5 when it collected no test; that must fail, never pass as green.
test: setup lint
	@$(PY) -m pytest -q --timeout=900; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# ruff (pinned in the dev extra; settings in pyproject.toml): lint errors fail the test target first.
lint: setup
	$(VENV)/bin/ruff check restplus tests bench

test-fast: setup
	$(PY) -m pytest -q -m "not slow" -x

bench: setup
	$(PY) bench/render.py && $(PY) bench/on_demand.py && $(PY) bench/http_runner.py && $(PY) bench/runner.py && $(PY) bench/analysis.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
