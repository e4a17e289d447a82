# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SWIFT_DIR  ?= .swift-aio
SWIFT_PORT ?= 8080
LAB_PORT   ?= 8888
RTC        ?=

.PHONY: install browser labextension run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's chromium (never a downloaded browser); LocalStore's
# durability test watches its fsyncs with strace.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ] || ! command -v strace >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium strace >/dev/null; \
	  else echo "the tests need Debian's chromium and strace: sudo apt-get install chromium strace"; exit 1; fi; \
	fi

# Rebuild the committed JupyterLab extension after changing labextension/src.
labextension: install
	cd labextension && npm ci --no-audit --no-fund && PATH="$(CURDIR)/$(BIN):$$PATH" npm run build:prod

# A local Swift, then JupyterLab with every notebook in its container `notebooks`.
# RTC=1: with real-time collaboration (jupyter-collaboration) on.
run: install
	$(BIN)/bookstore swift-aio start --data-dir $(SWIFT_DIR) --port $(SWIFT_PORT)
	@trap '$(BIN)/bookstore swift-aio stop --data-dir $(SWIFT_DIR)' EXIT; \
	eval "$$($(BIN)/bookstore swift-aio env --data-dir $(SWIFT_DIR))"; \
	echo "Swift: $$ST_AUTH (try: eval \"\$$($(BIN)/bookstore swift-aio env --data-dir $(SWIFT_DIR))\"; $(BIN)/swift list notebooks)"; \
	$(BIN)/jupyter lab --no-browser --port $(LAB_PORT) $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
	  --YDocExtension.disable_rtc=$(if $(RTC),False,True) \
	  --ServerApp.contents_manager_class=bookstore.SwiftContentsManager \
	  --SwiftContentsManager.container=notebooks

test: install browser
	$(BIN)/python -m pytest

# One table of ratios against baselines measured in the same run (BENCH_ARGS=--quick: minutes).
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	-$(BIN)/bookstore swift-aio stop --data-dir $(SWIFT_DIR)
	rm -rf $(VENV) $(SWIFT_DIR) .pytest_cache
