# gowsgi: `make run` and `make test` do all the set-up on a fresh Debian 12
# machine, as root. The Makefile owns every build flag: nothing has to be set
# in the environment by hand.

SHELL := /bin/bash
.DEFAULT_GOAL := build

GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
APXS ?= apxs
# Debian's CPython, the one gowsgi embeds (not whatever python3 is first on PATH).
PYTHON := /usr/bin/python3
BUILD := $(CURDIR)/build
# The server's Python, whose engine build is libgowsgi.so; every other
# CPython's is libgowsgi-X.Y.so (X.Yt free-threaded) beside it (README,
# "A Python per group").
SERVER_PYTHON_TAG := $(shell $(PYTHON) -c 'import sys, sysconfig as s; print("%d.%d%s" % (sys.version_info[:2] + ("t" if s.get_config_var("Py_GIL_DISABLED") else "",)))' 2>/dev/null)
PORT ?= 8080
APP ?= $(CURDIR)/conf/examples/hello.wsgi
MPM ?= event

# Debian packages: building, the example, and the tests (which compare against
# Debian's own mod_wsgi, serve Flask and Django apps, and build a French
# locale with localedef to check the daemon log's English dates; ss, from
# iproute2, lists a daemon's sockets; prometheus and its promtool scrape and
# check SetHandler gowsgi-metrics, tests/metrics*_test.go; chromium, headless,
# loads SetHandler gowsgi-status's page, tests/status_page_test.go).
DEB_PACKAGES := apache2 apache2-dev python3-dev pkg-config gcc make curl \
	libapache2-mod-wsgi-py3 python3-flask python3-django python3-venv wrk locales iproute2 \
	prometheus prometheus-apache-exporter chromium

# cpy3 v0.2.0 targets CPython 3.7: cpy3_compat.h declares what 3.9+ removed
# (wsgi/cpy3_compat.c defines it), and python3-embed adds the -lpython3.X that
# cpy3's own `pkg-config: python3` leaves out.
export CGO_ENABLED := 1
export CGO_CFLAGS := -include $(CURDIR)/wsgi/cpy3_compat.h -O2 -g -Wno-deprecated-declarations
export CGO_LDFLAGS = $(shell pkg-config --libs python3-embed 2>/dev/null)
export GOFLAGS := -mod=mod
# The interpreter whose prefix the embedded Python takes when no
# WSGIPythonHome is set (wsgi/runtime.go): Debian's, not whatever is on PATH.
GO_LDFLAGS := -X github.com/gowsgi/gowsgi/wsgi.pythonExecutable=$(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null || echo /usr/bin/python3)

GO_SOURCES := $(shell find module wsgi -name '*.go' -not -name '*_test.go') $(wildcard wsgi/*.c wsgi/*.h module/*.map) go.mod
# The daemon protocol and channel are compiled into both sides.
WIRE_SOURCES := wsgi/daemon_wire.c wsgi/daemon_wire_io.c wsgi/daemon_wire.h wsgi/daemon_channel.c wsgi/daemon_channel.h \
	wsgi/daemon_ticket.h
# The crash report is the shim's and the launcher's (its handler must exist before Go does).
CRASH_SOURCES := wsgi/crash_report.c wsgi/crash_report.h
# A daemon's error-log lines, the launcher's settings and the start-up wording: also both sides.
LOG_SOURCES := wsgi/errorlog_line.c wsgi/errorlog_line.h wsgi/daemon_launch.h wsgi/daemon_start.h
SHIM_SOURCES := $(wildcard cshim/*.c cshim/*.h) wsgi/gowsgi.h $(WIRE_SOURCES) $(CRASH_SOURCES) $(LOG_SOURCES)
# The launcher a daemon process execs (wsgi/launcher/): plain C, no Apache,
# no Python at link time (it dlopens both).
LAUNCHER_SOURCES := $(wildcard wsgi/launcher/*.c wsgi/launcher/*.h) wsgi/gowsgi.h wsgi/daemon_ticket.h $(LOG_SOURCES) $(CRASH_SOURCES)

.PHONY: build deps run test unit unit-pythons integration integration-pythons vet clean install uninstall deb pythons engine-for python-freethreaded

# The launcher with the server's Python and engine linked in, which a group
# whose Python is the server's execs (wsgi/launcher/engine_builtin.c).
BUILTIN_LAUNCHER := $(BUILD)/gowsgi-daemon-$(SERVER_PYTHON_TAG)
# Made even when that launcher cannot be linked (see its rule below).
BUILTIN_STAMP := $(BUILD)/builtin-launcher.stamp
BUILTIN_UNAVAILABLE := $(BUILD)/builtin-launcher.unavailable

build: $(BUILD)/libgowsgi.so $(BUILD)/mod_gowsgi.so $(BUILD)/gowsgi-daemon $(BUILTIN_STAMP)

# Installs only what is missing; keeps Debian's postinst from starting an
# Apache on port 80 while it does.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; \
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/libgowsgi.so: $(GO_SOURCES)
	@mkdir -p $(BUILD)
	$(GO) build -buildmode=c-shared -ldflags "$(GO_LDFLAGS) -extldflags=-Wl,--version-script=$(CURDIR)/module/exports.map" -o $@.tmp ./module
	@rm -f $(BUILD)/libgowsgi.tmp.h $(BUILD)/libgowsgi.so.h
	@mv -f $@.tmp $@   # a rename: a running Apache keeps its mapped copy

# The shim learns libpython's soname at build time: it dlopens it in each
# child before libgowsgi.so (RTLD_GLOBAL, for lib-dynload's extensions); and
# the server's Python version and multiarch triple, to tell which engine
# build and libpython a daemon group's own Python needs (group_python.c).
# ... and which libpython the launcher with the server's Python built in
# came from, as it was then (its size and time): a Debian update of
# libpython since sends the groups to gowsgi-daemon, which loads the
# updated one (cshim/daemon_launch.c), until gowsgi is built again.
SERVER_LIBPYTHON = $(shell $(PYTHON) -c 'import os, sysconfig as s; print(os.path.realpath(os.path.join(s.get_config_var("LIBDIR"), s.get_config_var("INSTSONAME"))))' 2>/dev/null)
$(BUILD)/shim_build.h: Makefile $(wildcard /usr/lib/*/libpython3*.so.1.0)
	@mkdir -p $(BUILD)
	@soname=$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("INSTSONAME"))'); \
	multiarch=$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("MULTIARCH") or "")'); \
	printf '#define GOWSGI_LIBPYTHON "%s"\n#define GOWSGI_VERSION "0.1.0"\n#define GOWSGI_PYTHON_TAG "%s"\n#define GOWSGI_MULTIARCH "%s"\n' \
		"$$soname" "$(SERVER_PYTHON_TAG)" "$$multiarch" > $@; \
	printf '#define GOWSGI_LIBPYTHON_PATH "%s"\n#define GOWSGI_LIBPYTHON_STAMP "%s"\n' \
		"$(SERVER_LIBPYTHON)" "$$(stat -L -c '%s %Y' $(SERVER_LIBPYTHON))" >> $@

# The status page (cshim/status_page.html) as a C string, built in: the
# server serves it with no file of its own to install or find.
$(BUILD)/status_page.h: cshim/status_page.html
	@mkdir -p $(BUILD)
	$(PYTHON) -c 'import sys; d = open(sys.argv[1], "rb").read(); assert b"\0" not in d; \
		print("/* Generated from cshim/status_page.html by the Makefile. */"); \
		print("static const char gowsgi_status_page[] = {"); \
		[print(",".join(str(b) for b in d[i:i + 24]) + ",") for i in range(0, len(d), 24)]; \
		print("0};")' $< > $@.tmp && mv -f $@.tmp $@

$(BUILD)/mod_gowsgi.so: $(SHIM_SOURCES) $(BUILD)/shim_build.h $(BUILD)/status_page.h
	@rm -rf $(BUILD)/shim && mkdir -p $(BUILD)/shim
	@cp cshim/*.c cshim/*.h $(filter %.c,$(WIRE_SOURCES) $(CRASH_SOURCES) $(LOG_SOURCES)) $(BUILD)/shim/
	cd $(BUILD)/shim && $(APXS) -c -o mod_gowsgi.la \
		-Wc,-Wall -Wc,-Wextra -Wc,-Werror -Wc,-Wno-unused-parameter -Wc,-Wno-missing-field-initializers \
		-I$(CURDIR)/wsgi -I$(BUILD) -ldl *.c >/dev/null
	cp $(BUILD)/shim/.libs/mod_gowsgi.so $@.tmp && mv -f $@.tmp $@

LAUNCHER_C := wsgi/launcher/main.c wsgi/launcher/settings.c wsgi/errorlog_line.c wsgi/crash_report.c
LAUNCHER_CFLAGS := -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I$(CURDIR)/wsgi

# Any Python's: it dlopens the group's libpython and engine build.
$(BUILD)/gowsgi-daemon: $(LAUNCHER_SOURCES)
	@mkdir -p $(BUILD)
	gcc $(LAUNCHER_CFLAGS) -o $@.tmp $(LAUNCHER_C) wsgi/launcher/engine_dlopen.c -ldl
	@mv -f $@.tmp $@

# The server's Python's: the engine as a Go c-archive and libpython's static
# archive (what Debian links /usr/bin/python3.X from), whole, exported for
# lib-dynload's extensions, in an executable that is not position-
# independent: nothing of Go's type data or libpython's data is relocated
# at start, so those pages stay shared by every daemon process (README,
# "Memory"; docs/benchmarks.md, "Memory per tenant").
# (Asked of $(PYTHON) when the recipe runs: `make test` installs it first.)
PYTHON_STATIC_LIB = $(shell $(PYTHON) -c 'import os, sysconfig as s; print(os.path.join(s.get_config_var("LIBPL"), s.get_config_var("LIBRARY")))' 2>/dev/null)
# (3.13's MODLIBS also names archives of its own build tree, such as
# Modules/_hacl/libHacl_Hash_SHA2.a, that are not installed: only flags and
# files that exist are kept.)
PYTHON_STATIC_LIBS = $(shell $(PYTHON) -c 'import os, sysconfig as s; print(" ".join(w for k in ("MODLIBS", "LIBS", "SYSLIBS") for w in (s.get_config_var(k) or "").split() if w.startswith("-") or os.path.exists(w)))' 2>/dev/null)

$(BUILD)/libgowsgi-daemon.a: $(GO_SOURCES)
	@mkdir -p $(BUILD)
	$(GO) build -buildmode=c-archive -ldflags "$(GO_LDFLAGS)" -o $@.tmp ./module
	@rm -f $(BUILD)/libgowsgi-daemon.a.tmp.h $(BUILD)/libgowsgi-daemon.a.h
	@mv -f $@.tmp $@

# Not every static libpython can be linked into a program: Debian 13's
# libpython3.13.a lacks the HACL* SHA-2 objects its _sha2 module needs.
# Then the launcher is not built (BUILTIN_UNAVAILABLE says why, make warns)
# and groups of the server's Python run gowsgi-daemon, as on an install
# without it, in about 0.4 MiB more a process. The stamp keeps make from
# trying again until an input changes.
$(BUILTIN_STAMP): $(LAUNCHER_SOURCES) $(BUILD)/libgowsgi-daemon.a $(wildcard /usr/lib/python3*/config-*/libpython3*.a)
	@test -f "$(PYTHON_STATIC_LIB)" || { echo "no $(PYTHON_STATIC_LIB): install libpython3-dev (make deps)"; exit 1; }
	@rm -f $(BUILTIN_LAUNCHER) $(BUILTIN_UNAVAILABLE)
	gcc $(LAUNCHER_CFLAGS) -no-pie -o $(BUILTIN_LAUNCHER).tmp $(LAUNCHER_C) wsgi/launcher/engine_builtin.c $(BUILD)/libgowsgi-daemon.a \
		-Wl,--whole-archive $(PYTHON_STATIC_LIB) -Wl,--no-whole-archive -Wl,--export-dynamic \
		$(PYTHON_STATIC_LIBS) -lpthread -ldl -lutil -lm > $(BUILD)/builtin-launcher.log 2>&1 \
	&& mv -f $(BUILTIN_LAUNCHER).tmp $(BUILTIN_LAUNCHER) \
	|| { rm -f $(BUILTIN_LAUNCHER).tmp; \
	     { echo "$(PYTHON_STATIC_LIB) cannot be linked into a program:"; \
	       grep -E 'undefined reference|multiple definition|cannot find' $(BUILD)/builtin-launcher.log | sed 's/^[^:]*: //' | sort -u | head -n 5; } > $(BUILTIN_UNAVAILABLE); \
	     echo "warning: $(notdir $(BUILTIN_LAUNCHER)) not built; daemon groups of the server's Python run gowsgi-daemon instead:"; \
	     cat $(BUILTIN_UNAVAILABLE); }
	@touch $@

# `make pythons` builds the engine for every shared CPython 3.9+ that
# conf/pythons.sh finds, or for those PYTHONS="3.12 /opt/py/bin/python3.13"
# names. Each build gets pkg-config files named as the default ones
# (python3.pc, python3-embed.pc: what cpy3 and wsgi/cgo.go ask for), copied
# from its own Python's, so it compiles and links against that Python alone.
PYTHONS ?=
pythons: build
	@set -e; conf/pythons.sh $(PYTHONS) > $(BUILD)/pythons.list; \
	while read -r tag exe libpc; do \
		if [ "$$tag" = "$(SERVER_PYTHON_TAG)" ]; then echo "== Python $$tag ($$exe): the server's, built as libgowsgi.so"; continue; fi; \
		echo "== Python $$tag ($$exe): $(BUILD)/libgowsgi-$$tag.so"; \
		$(MAKE) --no-print-directory engine-for PY_TAG="$$tag" PY_EXE="$$exe" PY_LIBPC="$$libpc"; \
	done < $(BUILD)/pythons.list

# A free-threaded CPython 3.13 (--disable-gil --enable-shared), built from
# Debian's python3.13 source package (trixie's; checksum from its .dsc)
# into build/python-3.13t, for WSGIFreeThreading's tests and benchmark: no
# free-threaded CPython is packaged for Debian 12. About 10 minutes on two
# cores. Then: make pythons PYTHONS=$(BUILD)/python-3.13t/bin/python3.13t
python-freethreaded:
	conf/python-freethreaded.sh $(BUILD)/python-3.13t $(BUILD)/python-3.13t-src

# One engine build for one Python (PY_TAG, PY_EXE, PY_LIBPC from pythons),
# rebuilt when the engine's sources change.
engine-for: $(BUILD)/libgowsgi-$(PY_TAG).so

$(BUILD)/libgowsgi-%.so: $(GO_SOURCES)
	@test -n "$(PY_TAG)" -a -n "$(PY_EXE)" -a -d "$(PY_LIBPC)" || { echo "make pythons builds $@"; exit 1; }
	@rm -rf $(BUILD)/pythons/$* && mkdir -p $(BUILD)/pythons/$*/pkgconfig
	@cp $(PY_LIBPC)/python-$*.pc $(BUILD)/pythons/$*/pkgconfig/python3.pc
	@cp $(PY_LIBPC)/python-$*-embed.pc $(BUILD)/pythons/$*/pkgconfig/python3-embed.pc
	PKG_CONFIG_PATH=$(BUILD)/pythons/$*/pkgconfig \
	CGO_LDFLAGS="$$(PKG_CONFIG_PATH=$(BUILD)/pythons/$*/pkgconfig pkg-config --libs python3-embed)" \
	$(GO) build -buildmode=c-shared -ldflags "-X github.com/gowsgi/gowsgi/wsgi.pythonExecutable=$(PY_EXE) -extldflags=-Wl,--version-script=$(CURDIR)/module/exports.map" \
		-o $@.tmp ./module
	@rm -f $@.tmp.h $(BUILD)/libgowsgi-$*.tmp.h
	@mv -f $@.tmp $@

# Serves APP (default: the example app) through a real Apache in the
# foreground on 127.0.0.1:$(PORT). Ctrl-C stops it.
run: deps build
	@conf/run-example.sh "$(BUILD)" "$(APP)" "$(PORT)" "$(MPM)"

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l module wsgi tests)" || { gofmt -l module wsgi tests; echo "gofmt needed"; exit 1; }

unit: build
	$(GO) test -count=1 -ldflags "$(GO_LDFLAGS)" ./wsgi/ ./wsgi/wiretest/ ./module/

# The engine's unit tests once more against each other Python `make
# pythons` built for (build/pythons.list), linked to its libpython.
unit-pythons: pythons
	@set -e; while read -r tag exe libpc; do \
		[ "$$tag" = "$(SERVER_PYTHON_TAG)" ] && continue; \
		echo "== engine unit tests on Python $$tag ($$exe)"; \
		pc=$(BUILD)/pythons/$$tag/pkgconfig; \
		libdir=$$(PKG_CONFIG_PATH=$$pc pkg-config --variable=libdir python3-embed); \
		PKG_CONFIG_PATH=$$pc CGO_LDFLAGS="$$(PKG_CONFIG_PATH=$$pc pkg-config --libs python3-embed) -Wl,-rpath,$$libdir" \
			$(GO) test -count=1 -ldflags "-X github.com/gowsgi/gowsgi/wsgi.pythonExecutable=$$exe" ./wsgi/; \
	done < $(BUILD)/pythons.list

integration: build
	$(GO) test -count=1 -timeout 30m ./tests/

# The daemon-mode integration tests once more per other Python, with every
# daemon group that names no python-home= or python-executable= of its own
# on it (GOWSGI_TEST_GROUP_PYTHON, tests/README.md): sub-interpreters, hook
# scripts, the mod_wsgi API and metrics, import scripts, preloading,
# reloading, the daemon's logs and faults. A Python this machine lacks (no
# engine build in build/pythons.list) is skipped with a message.
# INTEGRATION_PYTHONS="3.9 3.10 3.12 3.13" for more; INTEGRATION_PYTHONS_MPMS
# for more MPMs (the daemon processes are the same under each).
INTEGRATION_PYTHONS ?= 3.12 3.13
INTEGRATION_PYTHONS_MPMS ?= event
INTEGRATION_PYTHONS_RUN := ^(TestDaemon|TestModWSGICompat_PythonLocale|TestPythons|TestMW6|TestInterpOptions|TestGroupNames|TestHooks|TestAPM|TestServerMetrics_Daemon|TestFairShare|TestExamples|TestGowsgiOnly_(DaemonKeepsConnections|KeptConnectionsSurviveDaemonReplacement)|TestServerDirectives_ApacheRequestNotInDaemonMode)
integration-pythons: pythons
	@failed=; for tag in $(INTEGRATION_PYTHONS); do \
		if ! grep -q "^$$tag " $(BUILD)/pythons.list; then \
			echo "== SKIP: no CPython $$tag on this machine (make pythons found: $$(cut -d' ' -f1 $(BUILD)/pythons.list | xargs))"; continue; fi; \
		echo "== daemon-mode integration tests, daemon groups on Python $$tag, MPMs $(INTEGRATION_PYTHONS_MPMS)"; \
		start=$$(date +%s); result=ok; \
		GOWSGI_TEST_GROUP_PYTHON=$$tag GOWSGI_TEST_MPMS="$(INTEGRATION_PYTHONS_MPMS)" \
			$(GO) test -count=1 -timeout 30m -run '$(INTEGRATION_PYTHONS_RUN)' ./tests/ || { result=FAILED; failed="$$failed $$tag"; }; \
		echo "== Python $$tag: $$result in $$(( $$(date +%s) - start ))s"; \
	done; \
	if [ -n "$$failed" ]; then echo "== daemon-mode integration tests failed on Python$$failed"; exit 1; fi

test: deps build pythons vet unit unit-pythons integration integration-pythons

clean:
	rm -rf $(BUILD)

# ---- install and packaging (conf/install.sh, conf/deb.sh) -----------------
# `make install` copies mod_gowsgi.so and libgowsgi.so into Apache's module
# directory and gowsgi.load/gowsgi.conf into mods-available (then:
# a2enmod gowsgi). DESTDIR stages elsewhere; LIBEXECDIR and SYSCONFDIR
# default to what apxs reports. `make uninstall` removes exactly those files.
# `make deb` writes $(BUILD)/libapache2-mod-gowsgi_<VERSION>_<arch>.deb
# (VERSION defaults to GOWSGI_VERSION in $(BUILD)/shim_build.h).
DESTDIR ?=
LIBEXECDIR ?= $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)
SYSCONFDIR ?= $(shell $(APXS) -q SYSCONFDIR 2>/dev/null)
VERSION ?=
INSTALL_ENV = DESTDIR="$(DESTDIR)" LIBEXECDIR="$(LIBEXECDIR)" SYSCONFDIR="$(SYSCONFDIR)" APXS="$(APXS)"

# An engine build for another Python (`make pythons`) older than one of
# the engine's sources was built from other sources than libgowsgi.so and
# mod_gowsgi.so: installed, a group on that Python would run an engine that
# may not match the shim (a stale build of a version bump fails at start,
# one of a changed protocol misbehaves). `make install` and `make deb`
# refuse it, naming it.
define check_python_builds
	@stale=; for f in $(wildcard $(BUILD)/libgowsgi-*.so); do \
		[ -n "$$(find $(GO_SOURCES) -newer "$$f" -print -quit)" ] && stale="$$stale $$f"; \
	done; \
	[ -z "$$stale" ] || { echo "make: engine builds older than the engine's sources:$$stale; run make pythons first (or remove them)" >&2; exit 1; }
endef

install: build
	$(check_python_builds)
	@$(INSTALL_ENV) conf/install.sh install "$(BUILD)"

uninstall:
	@$(INSTALL_ENV) conf/install.sh uninstall

deb: build
	$(check_python_builds)
	@APXS="$(APXS)" conf/deb.sh "$(BUILD)" "$(VERSION)"

# ---- other Debian releases (conf/chroot.sh) --------------------------------
# `make chroot-test DIST=trixie` (as root) builds, packages, installs and
# tests this tree inside a debootstrapped Debian DIST in $(BUILD)/chroot-DIST
# (made once, then reused): make deps, make deb, the package installed and
# `apache2ctl configtest` with it enabled, then make test. GOWSGI_TEST_MPMS
# and the other GOWSGI_TEST_* variables are passed to the tests.
DIST ?= trixie
.PHONY: chroot-test
chroot-test:
	BUILD_DIR=$(BUILD) conf/chroot.sh $(DIST)

# ---- fuzzing (wsgi/fuzz) ---------------------------------------------------
# `make fuzz` runs each libFuzzer target (the daemon-mode wire codec as a
# daemon and as an Apache child read it, and the daemon launcher's settings
# decoder) for FUZZ_SECONDS, starting from the seeds in wsgi/testdata/fuzz
# (the wire's written by wsgi/wiretest's TestFuzzSeeds, the launcher's by
# hand),
# copied so that the committed ones stay as they are. A crash, leak or failed
# check fails the make and leaves its input in $(FUZZ_DIR)/artifacts.
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= $(BUILD)/fuzz
FUZZ_TARGETS := daemon_side child_side launcher_settings
FUZZ_CFLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1 \
	-Wall -Wextra -Werror -I$(CURDIR)/wsgi
.PHONY: fuzz
fuzz:
	@command -v clang >/dev/null || { echo "Installing clang"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang; }
	@mkdir -p $(FUZZ_DIR)
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' > $(FUZZ_DIR)/probe.c
	@clang -fsanitize=fuzzer,address,undefined $(FUZZ_DIR)/probe.c -o $(FUZZ_DIR)/probe 2>/dev/null || { \
		rt=libclang-rt-$$(clang -dumpversion | cut -d. -f1)-dev; echo "Installing libFuzzer's runtime: $$rt"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$rt; }
	@set -e; for t in $(FUZZ_TARGETS); do \
		case $$t in \
		launcher_settings) srcs="$(CURDIR)/wsgi/launcher/settings.c"; inc="-I$(CURDIR)/wsgi/launcher";; \
		*) srcs="$(CURDIR)/wsgi/daemon_wire.c $(CURDIR)/wsgi/daemon_wire_io.c"; inc=;; \
		esac; \
		clang $(FUZZ_CFLAGS) $$inc $(CURDIR)/wsgi/fuzz/fuzz_$$t.c $$srcs -o $(FUZZ_DIR)/fuzz_$$t; \
	done
	@set -e; for t in $(FUZZ_TARGETS); do \
		rm -rf $(FUZZ_DIR)/corpus_$$t; mkdir -p $(FUZZ_DIR)/corpus_$$t $(FUZZ_DIR)/artifacts; \
		cp $(CURDIR)/wsgi/testdata/fuzz/$$t/* $(FUZZ_DIR)/corpus_$$t/; \
		echo "== fuzz_$$t for $(FUZZ_SECONDS)s (log: $(FUZZ_DIR)/$$t.log)"; \
		$(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- $(FUZZ_DIR)/corpus_$$t >$(FUZZ_DIR)/$$t.log 2>&1 || { \
			tail -n 40 $(FUZZ_DIR)/$$t.log; echo "fuzz_$$t failed: its input is in $(FUZZ_DIR)/artifacts"; exit 1; }; \
		grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_DIR)/$$t.log; \
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' $(FUZZ_DIR)/$$t.log; \
	done

# ---- benchmarks (tests/bench) ----------------------------------------------
# `make bench` times gowsgi against mod_wsgi and Apache's static-file floor
# under the $(MPM) MPM and writes docs/benchmarks.md. BENCH_MODE=quick
# (about 13 minutes) or long.
BENCH_MODE ?= quick
.PHONY: bench bench-instructions bench-tenants
bench: deps build
	$(GO) run ./tests/bench -mode $(BENCH_MODE) -mpm $(MPM) -build $(BUILD) -out $(CURDIR)/docs/benchmarks.md
	@echo "== the WSGI runner alone (no Apache, no sockets): wsgi/engine_test.go BenchmarkHello"
	$(GO) test -run '^$$' -bench Hello -benchtime 3s -count 3 ./wsgi/

# Memory per tenant: one Apache with $(TENANTS) daemon groups (one process,
# hello app) under mod_wsgi, gowsgi eager and gowsgi start=on-demand; PSS
# idle and after one request to each, cold starts (docs/benchmarks.md,
# "Memory per tenant"). Prints its table and writes build/bench/tenants-N.md.
TENANTS ?= 100
bench-tenants: deps build
	$(GO) run ./tests/bench -tenants $(TENANTS) -mpm $(MPM) -build $(BUILD)

# An always-busy start=on-demand group against an eager one (issue 16): the
# hello app under a closed wrk loop, variants alternating over 3 rounds;
# req/s and server CPU per request (build/bench/ondemand-busy.md).
BUSY_SECONDS ?= 20
.PHONY: bench-ondemand-busy
bench-ondemand-busy: deps build
	$(GO) run ./tests/bench -ondemand-busy $(BUSY_SECONDS)s -warmup 3s -mpm $(MPM) -build $(BUILD)

# Instructions per request under callgrind: a load-independent comparison of
# gowsgi and mod_wsgi embedded and Apache's static-file floor, on the hello
# app, the hello app with 30 request headers and a small POST read from
# wsgi.input, with a profile of gowsgi's hello request (docs/instructions.md).
# INSTR_SECONDS, INSTR_ONLY, INSTR_KEEP: see tests/bench/instructions.sh.
bench-instructions: deps build
	@command -v valgrind >/dev/null || apt-get install -y -qq valgrind
	tests/bench/instructions.sh $(BUILD) $(CURDIR)/docs/instructions.md
