# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv and install what they need; torch goes first, pinned to the
# CPU wheel (any other spec pulls a multi-GB CUDA build).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
OUT    ?= runs/demo

.PHONY: demo test bench clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# Ray on its own: resolved together with moto/s3fs, pip backtracks through boto versions for >15 min
	$(PY) -m pip install -q -e '.[ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sacfolio demo --out $(OUT)

# The dashboard's browser test drives Debian's Chromium through Playwright.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) chromium
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_env.py
	$(PY) benchmarks/bench_sac.py

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info

# The fault suite: SIGKILL loops (100 kills), a full disk, a corrupt job store, concurrent
# clients against real servers. Bounded: each loop has a count and a time limit.
.PHONY: faults
faults: $(STAMP)
	SACFOLIO_FAULTS=1 SACFOLIO_FAULT_KILLS=100 SACFOLIO_PAPER_KILLS=200 SACFOLIO_PAPER_KILL_SECONDS=300 $(PY) -m pytest -q -s tests/faults tests/registry/test_registry_crash.py tests/paper/test_paper_crash.py
