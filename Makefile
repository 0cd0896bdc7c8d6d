# wause — build, run and test. The README's two commands are `make run` and `make test`; both set
# up what is missing first (Debian packages, the Python test venvs), idempotently.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# The one version of wause (library, MCP host, bindings); scripts/gen-bindings.py writes it everywhere else.
VERSION    := $(shell cat VERSION)
PREFIX     ?= /usr/local
SWIFT      ?= swift
DEBUG      := .build/debug
RELEASE    := .build/release
OUT        := build
VENV       := .venv
VENV_MCP1  := .venv-mcp1
VENV_INTEROP := .venv-interop
ARGS       ?=
# The Swift toolchain's root, hidden from tests that prove libwause.so needs none of it.
TOOLCHAIN  := $(shell dirname "$$(dirname "$$(dirname "$$(readlink -f "$$(command -v $(SWIFT))")")")")

.PHONY: all setup build release run test check-layers test-swift test-c test-install test-library test-python node-addon \
        test-node test-package test-mcp test-sim test-interop examples echo-bot-c echo-bot-python echo-bot-node bench bench-store bench-media-rss bench-accounts \
        install uninstall clean generate check-generated

all: build

setup:
	scripts/setup-system.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product wause
	$(SWIFT) build -c release --product wause-mcp
	$(SWIFT) build -c release --product wause-sim

# Sets up, builds and runs the MCP server on http://127.0.0.1:8790/mcp (pass flags with ARGS="...").
run: release
	$(RELEASE)/wause-mcp $(ARGS)

# ---------------------------------------------------------------------------------------------
# Generated files: the bindings' per-method code and types, the error codes, the version and
# docs/tools.md, from the method catalogue of the built library and VERSION (scripts/gen-bindings.py).

generate: build
	python3 scripts/gen-bindings.py --library $(DEBUG)/libwause.so

# Regenerates in memory and compares with the committed files; names each stale file.
check-generated: build
	python3 scripts/gen-bindings.py --library $(DEBUG)/libwause.so --check

# ---------------------------------------------------------------------------------------------
# Tests

test: setup check-layers build check-generated release test-swift test-c test-install test-library test-python test-node test-package \
      test-mcp test-sim test-interop examples
	@echo "make test: all suites passed"

test-swift: build
	$(SWIFT) test

# ARCHITECTURE.md's layer table against Package.swift and every import line; the tests plant
# upward imports to show the check fails on them.
check-layers: $(VENV)/.installed-requirements
	scripts/check-layers.py
	$(VENV)/bin/python -m pytest -q tests/layers

# pkg-config files: one for the in-tree debug build (tests), one written by `make install`.
$(OUT)/pkgconfig/wause.pc: wause.pc.in
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(CURDIR)|' -e 's|@LIBDIR@|$(CURDIR)/$(DEBUG)|' -e 's|@INCLUDEDIR@|$(CURDIR)/include|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

# The C API from C, compiled and linked through pkg-config.
test-c: build $(OUT)/pkgconfig/wause.pc
	@mkdir -p $(OUT)/c
	flags="$$(PKG_CONFIG_PATH=$(OUT)/pkgconfig pkg-config --cflags --libs wause)"; \
	cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror tests/c/test_capi.c $$flags -lpthread \
	   -Wl,-rpath,$(CURDIR)/$(DEBUG) -o $(OUT)/c/test_capi; \
	cc -std=c11 -Wall -Wextra -Werror examples/c/status.c $$flags -Wl,-rpath,$(CURDIR)/$(DEBUG) -o $(OUT)/c/status; \
	cc -std=c11 -Wall -Wextra -Werror examples/c/echo_bot.c $$flags -Wl,-rpath,$(CURDIR)/$(DEBUG) -o $(OUT)/c/echo_bot
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; $(OUT)/c/test_capi "$$tmp"

# `make install` into a scratch prefix, then check what a C user and an administrator rely on:
# pkg-config points into the prefix; the README's C program builds against the install alone and
# runs; the library is stripped; wause-sim is there; the systemd unit passes `systemd-analyze
# verify` with ExecStart at the installed wause-mcp; ldconfig runs only for a live system-wide
# install by root (checked on `make -n`, so the test never touches the system).
test-install: release
	command -v systemd-analyze >/dev/null || scripts/setup-system.sh systemd
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; prefix=$$tmp/prefix; \
	$(MAKE) --no-print-directory install PREFIX="$$prefix" >/dev/null; \
	flags="$$(PKG_CONFIG_PATH=$$prefix/lib/pkgconfig pkg-config --cflags --libs wause)"; \
	case "$$flags" in *"$$prefix"*) ;; *) echo "pkg-config did not point into the prefix: $$flags"; exit 1;; esac; \
	cc -std=c11 -Wall -Werror examples/c/status.c $$flags -Wl,-rpath,$$prefix/lib -o $$tmp/status; \
	$$tmp/status "$$tmp/data" 0 | grep -q '"state":"stopped"'; \
	sed -n '/<!-- c-program:begin -->/,/<!-- c-program:end -->/p' README.md | sed '1,/^```c$$/d; /^```$$/,$$d' > $$tmp/app.c; \
	grep -q 'int main' $$tmp/app.c || { echo "README.md: no C program between the c-program markers"; exit 1; }; \
	cc -std=c11 -Wall -Wextra -Werror $$tmp/app.c $$(PKG_CONFIG_PATH=$$prefix/lib/pkgconfig pkg-config --cflags --libs wause) \
	   -Wl,-rpath,$$prefix/lib -o $$tmp/app; \
	WAUSE_DATA_DIR=$$tmp/app-data $$tmp/app 0 | grep -q '"state":"stopped"'; \
	test -d $$tmp/app-data || { echo "the README program did not use WAUSE_DATA_DIR"; exit 1; }; \
	if readelf -S -W $$prefix/lib/libwause.so | grep -q '[.]symtab'; then echo "libwause.so is not stripped"; exit 1; fi; \
	$$prefix/bin/wause-sim --help | grep -q wause-sim; \
	unit=$$prefix/lib/systemd/system/wause-mcp.service; \
	for line in "ExecStart=$$prefix/bin/wause-mcp" DynamicUser=yes StateDirectory=wause; do \
	    grep -qxF "$$line" $$unit || { echo "$$unit lacks $$line"; exit 1; }; done; \
	verdict=$$(systemd-analyze verify $$unit 2>&1) || { echo "$$verdict"; exit 1; }; \
	[ -z "$$verdict" ] || { echo "systemd-analyze verify: $$verdict"; exit 1; }; \
	if $(MAKE) -n --no-print-directory install PREFIX="$$prefix" | grep -qx ldconfig; then echo "ldconfig for a private prefix"; exit 1; fi; \
	if $(MAKE) -n --no-print-directory install PREFIX=/usr/local DESTDIR=$$tmp/stage | grep -qx ldconfig; then echo "ldconfig with DESTDIR"; exit 1; fi; \
	if [ "$$(id -u)" = 0 ] && ! $(MAKE) -n --no-print-directory install PREFIX=/usr/local | grep -qx ldconfig; then \
	    echo "no ldconfig for a system-wide install"; exit 1; fi; \
	echo "test-install: $$prefix works (pkg-config, README program, stripped library, wause-sim, systemd unit verified)"

# Both builds of libwause.so: only wause_* exported, no Swift runtime needed, and the C test passes
# in a mount namespace where the toolchain directory is an empty tmpfs.
test-library: build release $(OUT)/pkgconfig/wause.pc
	scripts/check-library.sh $(DEBUG)/libwause.so "$(TOOLCHAIN)"
	scripts/check-library.sh $(RELEASE)/libwause.so "$(TOOLCHAIN)"

$(VENV)/.installed-requirements: tests/requirements-mcp2.txt
	scripts/setup-venv.sh $(VENV) tests/requirements-mcp2.txt

$(VENV_MCP1)/.installed-requirements: tests/requirements-mcp1.txt
	scripts/setup-venv.sh $(VENV_MCP1) tests/requirements-mcp1.txt

# The Python suite includes a Python ↔ Node chat, so the Node addon is built first (and the test
# is required, not skipped: WAUSE_REQUIRE_NODE).
test-python: build check-generated node-addon $(VENV)/.installed-requirements
	WAUSE_LIBRARY=$(CURDIR)/$(DEBUG)/libwause.so PYTHONPATH=$(CURDIR)/bindings/python WAUSE_REQUIRE_NODE=1 \
	    $(VENV)/bin/python -m pytest -q bindings/python/tests

node-addon: build
	WAUSE_LIBRARY=$(CURDIR)/$(DEBUG)/libwause.so sh bindings/node/build.sh

# The packages on their own: `pip install ./bindings/python` and the wheel (library inside, from
# .build/release, or built outside the tree when there is none), `npm pack` of bindings/node;
# nothing written into the source tree. From a checkout with nothing built, the Python backend
# builds libwause.so itself in $WAUSE_SWIFT_SCRATCH, outside the tree; PACKAGE_SCRATCH is kept
# between runs (one per checkout) so that build is incremental: only the first run on a machine
# pays for a full release build.
PACKAGE_SCRATCH ?= $(HOME)/.cache/wause/package-build/$(shell printf %s "$(CURDIR)" | sha1sum | cut -c1-12)
test-package: release node-addon $(VENV)/.installed-requirements
	WAUSE_SWIFT_SCRATCH=$(PACKAGE_SCRATCH) $(VENV)/bin/python -m pytest -q tests/package

test-node: build check-generated node-addon
	node --test bindings/node/test/

# wause-mcp driven by the official MCP Python SDK (2.3.0 and 1.30.0) and by raw HTTP; every tool
# through the SDK needs a wause-sim to link to (test_sdk_every_tool.py).
test-mcp: build $(VENV)/.installed-requirements $(VENV_MCP1)/.installed-requirements
	WAUSE_MCP=$(CURDIR)/$(DEBUG)/wause-mcp WAUSE_SIM=$(CURDIR)/$(DEBUG)/wause-sim $(VENV)/bin/python -m pytest -q tests/mcp
	WAUSE_MCP=$(CURDIR)/$(DEBUG)/wause-mcp WAUSE_SIM=$(CURDIR)/$(DEBUG)/wause-sim $(VENV_MCP1)/bin/python -m pytest -q tests/mcp

# wause-sim and wause-mcp end to end: the simulator's command line and admin API, QR linking.
test-sim: build $(VENV)/.installed-requirements
	WAUSE_MCP=$(CURDIR)/$(DEBUG)/wause-mcp WAUSE_SIM=$(CURDIR)/$(DEBUG)/wause-sim \
	    $(VENV)/bin/python -m pytest -q tests/sim

# Independent implementations against ours (docs/interop-oracles.md): python-axolotl's
# curve25519 signatures, dissononce and noiseprotocol for Noise, baileys-python's binary XML codec,
# and a client built from them that talks to wause-sim.
$(VENV_INTEROP)/.installed-requirements: tests/requirements-interop.txt
	scripts/setup-venv.sh $(VENV_INTEROP) tests/requirements-interop.txt

# baileys-python declares Python 3.12 and dependencies its codec does not need (docs/interop-oracles.md).
$(VENV_INTEROP)/.baileys-installed: $(VENV_INTEROP)/.installed-requirements
	$(VENV_INTEROP)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
	    --ignore-requires-python baileys-python==0.1.0a1
	touch $@

test-interop: build $(VENV_INTEROP)/.baileys-installed
	WAUSE_SIGNAL=$(CURDIR)/$(DEBUG)/wause-signal WAUSE_WIRE=$(CURDIR)/$(DEBUG)/wause-wire \
	WAUSE_SIM=$(CURDIR)/$(DEBUG)/wause-sim WAUSE_MCP=$(CURDIR)/$(DEBUG)/wause-mcp \
	    $(VENV_INTEROP)/bin/python -m pytest -q tests/interop

# The examples are small complete programs; CI runs each one. The echo bots (C, Python, Node)
# link to a real wause-sim by pairing code, answer a virtual phone and stop on SIGINT.
examples: build test-c node-addon $(VENV)/.installed-requirements
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(OUT)/c/status "$$tmp/c" 1; \
	WAUSE_LIBRARY=$(CURDIR)/$(DEBUG)/libwause.so PYTHONPATH=$(CURDIR)/bindings/python \
	    $(VENV)/bin/python examples/python/status.py "$$tmp/python" --seconds 1; \
	node examples/node/status.js "$$tmp/node" 1
	WAUSE_LIBRARY=$(CURDIR)/$(DEBUG)/libwause.so WAUSE_SIM=$(CURDIR)/$(DEBUG)/wause-sim \
	WAUSE_ECHO_BOT_C=$(CURDIR)/$(OUT)/c/echo_bot $(VENV)/bin/python -m pytest -q tests/examples

# One command each: an echo bot linked to a local wause-sim; type lines to send them from a
# virtual phone and see the echoes (scripts/echo-bot-sim.py).
echo-bot-c: build test-c
	python3 scripts/echo-bot-sim.py c

echo-bot-python: build
	python3 scripts/echo-bot-sim.py python

echo-bot-node: build node-addon
	python3 scripts/echo-bot-sim.py node

# ---------------------------------------------------------------------------------------------
# Benchmarks (release build), each figure beside its peer measured in the same run: the binary
# XML codec against baileys-python's, Signal sessions against Debian's libsignal-protocol-c
# (bench/signal_c, a C harness with an OpenSSL crypto provider), Noise transport encryption
# against `openssl speed`, media encryption against the same passes on OpenSSL (bench/media_c).

# The libsignal-protocol-c harness; its Debian packages are installed only for the benchmark.
$(OUT)/bench/signal_bench: bench/signal_c/signal_bench.c
	scripts/setup-system.sh libsignal-protocol-c-dev libssl-dev
	@mkdir -p $(@D)
	gcc -std=c11 -O2 -Wall -Wextra -Werror $< $$(pkg-config --cflags --libs libsignal-protocol-c openssl) -o $@

# The media peer: the same four passes as MediaEncryptor/MediaDecryptor on OpenSSL's EVP.
$(OUT)/bench/media_bench: bench/media_c/media_bench.c
	scripts/setup-system.sh libssl-dev
	@mkdir -p $(@D)
	gcc -std=c11 -O2 -Wall -Wextra -Werror $< $$(pkg-config --cflags --libs openssl) -o $@

bench: setup $(VENV_INTEROP)/.baileys-installed $(OUT)/bench/signal_bench $(OUT)/bench/media_bench
	$(SWIFT) build -c release --product wause-bench
	$(SWIFT) build -c release --product wause-wire
	$(RELEASE)/wause-bench --python $(VENV_INTEROP)/bin/python --signal-c $(OUT)/bench/signal_bench --media-c $(OUT)/bench/media_bench
	$(RELEASE)/wause-wire noise-bench
	openssl speed -evp aes-256-gcm -seconds 2 2>/dev/null | tail -3
	@echo "for the media figures: OpenSSL's AES-256-CBC and SHA-256 alone (one pass each; the media work is one CBC pass and three SHA-256 passes)"
	openssl speed -evp aes-256-cbc -seconds 1 2>/dev/null | tail -3
	openssl speed -evp sha256 -seconds 1 2>/dev/null | tail -3
	$(MAKE) bench-media-rss
	$(MAKE) bench-accounts

# Only the store part of `make bench`: ingest batches of 1/100/10,000 and FTS5 search at 1M messages beside Python's sqlite3.
bench-store: setup
	$(SWIFT) build -c release --product wause-bench
	$(RELEASE)/wause-bench --only store --python python3

# Peak RSS of two release wause-mcp sending and receiving a 1 GB file through wause-sim
# (tests/sim/test_engine_media_memory_e2e.py with WAUSE_MEDIA_RSS_MB; goal: within 32 MB of idle).
bench-media-rss: $(VENV)/.installed-requirements
	$(SWIFT) build -c release --product wause-mcp
	$(SWIFT) build -c release --product wause-sim
	WAUSE_TEST_DEADLINE=600 WAUSE_MEDIA_RSS_MB=$${WAUSE_MEDIA_RSS_MB:-1024} WAUSE_MCP=$(CURDIR)/$(RELEASE)/wause-mcp WAUSE_SIM=$(CURDIR)/$(RELEASE)/wause-sim \
	    $(VENV)/bin/python -m pytest -q -s tests/sim/test_engine_media_memory_e2e.py

# Issue 16's scale figures on release builds: BENCH_ACCOUNTS (1,000) linked accounts in one wause-mcp
# against wause-sim — RSS per idle linked account (bound 1 MB), login of all (bound 120 s), CPU per
# idle account per minute, messages/s across 100 pairs — beside the same measures for one account in
# its own process (bench/accounts_bench.py; exits 1 over a bound). Quick check: BENCH_ACCOUNTS=50
# (BENCH_ACCOUNTS_ARGS="--idle 10" shortens the idle minute; see the script's --help).
BENCH_ACCOUNTS ?= 1000
BENCH_ACCOUNTS_ARGS ?=
bench-accounts: $(VENV)/.installed-requirements
	$(SWIFT) build -c release --product wause-mcp
	$(SWIFT) build -c release --product wause-sim
	WAUSE_MCP=$(CURDIR)/$(RELEASE)/wause-mcp WAUSE_SIM=$(CURDIR)/$(RELEASE)/wause-sim \
	    $(VENV)/bin/python bench/accounts_bench.py --accounts $(BENCH_ACCOUNTS) $(BENCH_ACCOUNTS_ARGS)

# ---------------------------------------------------------------------------------------------
# Install (release build): the library (stripped), its header and pkg-config file, wause-mcp,
# wause-sim and the systemd unit for wause-mcp. ldconfig refreshes the loader's cache so that
# programs find a new libwause.so without an rpath; it only makes sense for the live system
# (no DESTDIR), a prefix the loader searches (/usr, /usr/local) and root.
LDCONFIG ?= ldconfig
UNITDIR  ?= $(PREFIX)/lib/systemd/system
RUN_LDCONFIG := $(if $(and $(filter /usr /usr/local,$(PREFIX)),$(if $(DESTDIR),,yes),$(filter 0,$(shell id -u))),yes)

install: release
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR)
	install -s -m 0755 $(RELEASE)/libwause.so $(DESTDIR)$(PREFIX)/lib/libwause.so
	install -m 0644 include/wause.h $(DESTDIR)$(PREFIX)/include/wause.h
	install -s -m 0755 $(RELEASE)/wause-mcp $(DESTDIR)$(PREFIX)/bin/wause-mcp
	install -s -m 0755 $(RELEASE)/wause-sim $(DESTDIR)$(PREFIX)/bin/wause-sim
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$${prefix}/lib|' -e 's|@INCLUDEDIR@|$${prefix}/include|' \
	    -e 's|@VERSION@|$(VERSION)|' wause.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/wause.pc
	sed -e 's|@BINDIR@|$(PREFIX)/bin|' systemd/wause-mcp.service.in > $(DESTDIR)$(UNITDIR)/wause-mcp.service
	$(if $(RUN_LDCONFIG),$(LDCONFIG))

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libwause.so $(DESTDIR)$(PREFIX)/include/wause.h \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/wause.pc $(DESTDIR)$(PREFIX)/bin/wause-mcp \
	      $(DESTDIR)$(PREFIX)/bin/wause-sim $(DESTDIR)$(UNITDIR)/wause-mcp.service
	$(if $(RUN_LDCONFIG),$(LDCONFIG))

clean:
	rm -rf .build $(OUT) bindings/node/build
