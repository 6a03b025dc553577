# AEFlow — see README.md. Every target installs what it needs first (Debian/Ubuntu).
SWIFT      ?= swift
APT_DEPS   := libopenblas-dev libzmq3-dev libsqlite3-dev zlib1g-dev libjemalloc-dev libsnappy-dev pkg-config
# The metrics stores the integration tests start (history source, remote-write receiver): Debian's packages.
APT_SERVERS := prometheus victoria-metrics
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENV       := .venv
PYTHON     := $(VENV)/bin/python
# A small virtualenv for the end-to-end tests' non-AEFlow clients (pyzmq); no PyTorch needed.
VENV_TEST  := .venv-test
# Python packages for cross-checks and side-by-side benchmarks (never needed at run time).
PY_BENCH   := torch safetensors numpy numalogic pytorch-lightning

.PHONY: all deps build release test test-deps test-servers bench demo fixtures venv clean

all: build

## deps: install the system libraries AEFlow links (skipped when already present)
deps:
	@missing=""; for p in $(APT_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

## build: debug build of everything
build: deps
	$(SWIFT) build

## release: optimised build (benchmarks, deployment)
release: deps
	$(SWIFT) build -c release

## test: build and run every test
test: deps test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## test-servers: Prometheus (with promtool) and VictoriaMetrics for the metrics-store tests (never started as services)
test-servers:
	@missing=""; for p in $(APT_SERVERS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## test-deps: the Python the tests use (Tests/Clients/requirements.txt in .venv-test) and the metrics stores
test-deps: $(VENV_TEST)/.installed test-servers
$(VENV_TEST)/.installed: Tests/Clients/requirements.txt
	[ -x $(VENV_TEST)/bin/python ] || python3 -m venv $(VENV_TEST)
	$(VENV_TEST)/bin/python -m pip install -q --upgrade pip
	$(VENV_TEST)/bin/python -m pip install -q -r Tests/Clients/requirements.txt
	touch $@

## venv: the ignored virtualenv with PyTorch for fixtures and benchmarks
venv: $(PYTHON)
$(PYTHON):
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q $(PY_BENCH)

## fixtures: regenerate the PyTorch parity fixtures under Tests/Fixtures
fixtures: venv
	$(PYTHON) Scripts/generate_fixtures.py

## bench: release build, then AEFlow and PyTorch side by side (bench/run.py)
bench: release venv
	$(PYTHON) bench/run.py

## demo: the daemon with the embedded default config, the retrain stage, a synthetic publisher and live
##       scores per key (Ctrl-C stops). Bounded: make demo DEMO_ARGS="--duration 20s --plot demo.png"
DEMO_ARGS ?=
## (Built without the Numaflow trait: the demo does not use gRPC, and a first build skips that stack.)
demo: deps
	$(SWIFT) build -c release --product aeflow --disable-default-traits
	.build/release/aeflow demo $(DEMO_ARGS)

clean:
	rm -rf .build
