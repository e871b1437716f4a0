# The two commands of the README: `make demo` and `make test`. Both do all set-up.
VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed-stamp

.PHONY: setup demo test test-unit bench clean

$(STAMP): pyproject.toml
	@start=$$(date +%s); \
	  [ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/pip install -q --disable-pip-version-check -e '.[test]'; \
	  echo "[setup] python venv + package      done ($$(( $$(date +%s) - start ))s)"
	@touch $@

# venv with the package (editable), Docker engine, Compose v2, the node image, Chromium.
setup: $(STAMP)
	@bash scripts/setup-env.sh
	@bash scripts/install-chromium.sh

demo: setup
	$(BIN)/splitbrain run --topology sentinel --workload set --nemesis isolate-primary-with-clients \
	  --time-limit 40 --concurrency 8 --seed 1; rc=$$?; \
	  echo "results: results/latest (report: results/latest/report.html)"; \
	  [ $$rc -le 1 ] || exit $$rc

test: setup
	$(BIN)/lint-imports
	$(BIN)/pytest -q -ra --durations=15

test-unit: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/pytest -q -m "not docker and not browser"

bench: setup
	$(BIN)/python bench/check_corpus.py
	$(BIN)/python bench/throughput.py

clean:
	-$(BIN)/splitbrain down --all
	rm -rf $(VENV) results
