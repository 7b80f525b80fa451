# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv and install what they need; torch goes first, pinned to the
# CPU wheel (any other spec pulls a multi-GB CUDA build). Every package is held to
# constraints.txt, so a fresh machine installs what produced the README's figures.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PIN    := -c constraints.txt
OUT    ?= runs/demo

.PHONY: demo test bench clean chromium lock

# $(call install,VENV,PIP OPTIONS): a venv with sacfolio and its extras. Ray goes on its own:
# resolved together with moto/s3fs, pip backtracks through boto versions for >15 min.
define install
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install -q --upgrade pip
	$(1)/bin/python -m pip install -q torch==2.13.0
	$(1)/bin/python -m pip install -q $(2) -e '.[dev]'
	$(1)/bin/python -m pip install -q $(2) -e '.[ray]'
endef

$(STAMP): pyproject.toml constraints.txt
	$(call install,$(VENV),$(PIN))
	touch $(STAMP)

# constraints.txt afresh: the newest versions pyproject.toml allows, installed into a scratch
# venv without the pins (torch without its +cpu tag: the install pins the wheel). Run it after
# changing a dependency, then make demo and paste its figures into the README.
lock:
	rm -rf .venv-lock
	$(call install,.venv-lock,)
	{ sed -n '1,2p' constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-lock

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
