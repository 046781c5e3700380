# SPDX-License-Identifier: Apache-2.0
# lethefs build. `make` builds build/lethefs; `make test` runs every suite
# and ends with "N passed, N failed"; `make asan` runs the suite under
# AddressSanitizer and UBSan; `make demo` shows the product on a demo vault.
# On a machine without make, ./setup.sh demo|test does the same.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

# Each target installs the Debian packages it needs (scripts/install-deps.sh)
# before anything is compiled: `make` only the build dependencies, `make
# test` the test tools too, and so on (DEPS_FOR below). DEPS=no skips it
# (Debian package builds, where the build dependencies are checked by dpkg).
DEPS     ?= yes
DEPS_FOR ?= build

# The one version source is debian/changelog's first entry; the binary, the
# man pages and the .deb all take it from there.
VERSION      := $(shell head -n1 debian/changelog | cut -d' ' -f2 | tr -d '()')
VERSION_DATE := $(shell date -u -d "$$(sed -n 's/^ -- .*>  //p' debian/changelog | head -n1)" +%Y-%m-%d)

PKGS    := fuse3 libsodium inih libsystemd
# Computed on first use, so after the deps step has installed the -dev
# packages, not when this file is read (a fresh machine has no pkg-config).
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)

# The project's flags come first, then CPPFLAGS/CFLAGS/LDFLAGS from the
# environment or the command line (dpkg-buildflags passes its hardening and
# reproducibility flags that way), so that theirs win where they differ.
OPT     ?= -O2 -g
LFS_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=312 -fstack-protector-strong \
           -MMD -MP
# _FORTIFY_SOURCE only when the caller's CPPFLAGS do not choose a level
# (a second definition is a warning, hence an error under -Werror).
LFS_CPPFLAGS = $(if $(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),,-D_FORTIFY_SOURCE=2)
ALL_CFLAGS = $(OPT) $(LFS_CFLAGS) $(PKG_CFLAGS) $(LFS_DEFS) $(LFS_CPPFLAGS) $(CPPFLAGS) $(CFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread -lm

# The rooms, top layer first: a file may include headers of its own room
# and of the rooms after it only (docs/DESIGN.md; `make layers` checks it).
# Every *.c of a room is built, so moving a file needs no edit here.
ROOMS    := cli daemon rotation staging fs audit keymgmt journal cluster common
SRC      := $(foreach r,$(ROOMS),$(wildcard $(r)/*.c))
HDR      := $(foreach r,$(ROOMS),$(wildcard $(r)/*.h))
OBJ      := $(SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/cli/main.o
# Everything but main(), for the unit tests and tools: the linker takes
# from it only the objects a program needs.
LIB      := $(BUILD)/liblethefs.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Helper programs for the integration tests (never installed).
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
# The fault-injection shim (LD_PRELOAD; tests/fault, docs/TESTING.md). Built
# without _FILE_OFFSET_BITS and _FORTIFY_SOURCE so that it can define both
# the plain and the 64-bit names of the calls it interposes.
FAULT_SHIM := $(BUILD)/tests/fault/faultshim.so

.PHONY: deb deb-check fresh-check all deps test unit integration asan fuzz demo install \
        uninstall clean format cppcheck bench bench-gluster bench-scale lib layers stack man test-clients \
        soak test-faults test-build powercut powercut-ops

all: $(BUILD)/lethefs man

# What each entry point needs besides the build dependencies. A target's
# value reaches its prerequisites, so `make test` runs the deps step once,
# with every test tool, before the first compile.
test unit integration asan fuzz cppcheck test-clients test-faults powercut powercut-ops: DEPS_FOR = test
demo: DEPS_FOR = demo
bench bench-gluster bench-scale: DEPS_FOR = test
deb: DEPS_FOR = deb
deb-check: DEPS_FOR = deb fresh
fresh-check: DEPS_FOR = fresh

deps:
ifeq ($(DEPS),yes)
	@sh scripts/install-deps.sh $(DEPS_FOR)
endif

# The version reaches the code as a define on main(), which is rebuilt when
# the changelog changes.
$(MAIN_OBJ): debian/changelog
$(MAIN_OBJ): LFS_DEFS = -DLETHEFS_VERSION='"$(VERSION)"'

# Man pages with the version and its date filled in.
MAN_PAGES := $(BUILD)/man/lethefs.1 $(BUILD)/man/lethefs.conf.5
man: $(MAN_PAGES)
$(BUILD)/man/%: man/% debian/changelog
	@mkdir -p $(dir $@)
	sed 's/@VERSION@/$(VERSION)/g; s/@DATE@/$(VERSION_DATE)/g' $< >$@

# Every command's getopt_long call goes through cli/options.c first (one-line
# option errors, and shell completion from the tables the commands parse).
$(BUILD)/lethefs: $(OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Wl,--wrap=getopt_long -o $@ $^ $(LDLIBS)

lib: $(LIB)

$(LIB): $(filter-out $(MAIN_OBJ),$(OBJ))
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -MF $@.d -o $@ $(filter %.c %.a,$^) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB) | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -MF $@.d -o $@ $(filter %.c %.a,$^) $(LDLIBS)

# The crash sweeps die or fail at chosen backing-store calls: they are
# wrapped at link time (tests/unit/crashrig.h).
CRASH_WRAP := -Wl,--wrap=pwrite64,--wrap=pwritev64,--wrap=ftruncate64,--wrap=fallocate64,--wrap=fdatasync,--wrap=fsync,--wrap=syncfs,--wrap=renameat2,--wrap=unlinkat
$(BUILD)/tests/test_tail_crash: override LDFLAGS += $(CRASH_WRAP)
$(BUILD)/tests/test_tail_crash_other_host: override LDFLAGS += $(CRASH_WRAP)
$(BUILD)/tests/test_tail_crash_full_disk: override LDFLAGS += $(CRASH_WRAP)
$(BUILD)/tests/test_rename_crash: override LDFLAGS += $(CRASH_WRAP)
$(BUILD)/tests/test_rotbatch_crash: override LDFLAGS += $(CRASH_WRAP)
$(BUILD)/tests/test_planted_nodes: override LDFLAGS += $(CRASH_WRAP)
$(BUILD)/tests/test_rotbatch_slots: override LDFLAGS += $(CRASH_WRAP)
$(BUILD)/tests/test_recover_lock: override LDFLAGS += $(CRASH_WRAP)
$(BUILD)/tests/test_parallel_write: override LDFLAGS += $(CRASH_WRAP)

FAULT_SHIM_SRC := tests/fault/faultshim_core.c tests/fault/faultshim_calls.c \
                  tests/fault/faultshim_reals.c tests/fault/faultshim_power.c
# Without sanitizers even in `make asan`: the shim is also preloaded into
# programs that are not built with them (62-power-cut's own checks run
# python under it), where an instrumented shim cannot load.
$(FAULT_SHIM): $(FAULT_SHIM_SRC) tests/fault/faultshim.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fsanitize=%,$(OPT)) -std=gnu11 -Wall -Wextra -Werror -Wshadow -fPIC -shared -U_FORTIFY_SOURCE \
	  -o $@ $(FAULT_SHIM_SRC) -ldl -lpthread

unit: all $(UNIT_BIN)
	@bash tests/run-all.sh $(BUILD) unit

integration: all $(TOOL_BIN) $(FAULT_SHIM)
	@bash tests/run-all.sh $(BUILD) integration

# The full suite: unit tests, then integration tests through real mounts
# (in LETHEFS_TEST_JOBS lanes, default 2; tests/integration/lanes.conf),
# then one summary line. About 15 minutes on two cores is the budget.
# The build runs on every core (TEST_BUILD_JOBS; `make test` alone would
# compile one file at a time: 25 s instead of 12 here for the daemon),
# after the deps step, which the sub-make is told not to repeat.
TEST_BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
test: deps
	@$(MAKE) --no-print-directory -j$(TEST_BUILD_JOBS) DEPS=no test-build
	@bash tests/run-all.sh $(BUILD)
test-build: all $(UNIT_BIN) $(TOOL_BIN) $(FAULT_SHIM)

# The full crash and full-disk sweep (every operation, every backing-store
# call, crash before/after, ENOSPC, EIO, full tmpfs and ext4, with and without
# the writeback cache), KILL_ROUNDS kill -9 per workload, and the integration
# tests whose sweeps `make test` samples, at every call (LETHEFS_FULL_SWEEP=1).
# Long (about an hour here): see docs/TESTING.md. FAULT_ARGS/KILL_ARGS pass
# options.
KILL_ROUNDS ?= 12
test-faults: all $(TOOL_BIN) $(FAULT_SHIM)
	@FAULT_ARGS="$(FAULT_ARGS)" KILL_ARGS="$(KILL_ARGS)" \
	  bash tests/fault/run-all.sh $(BUILD) $(KILL_ROUNDS)

# Power cuts (docs/TESTING.md, "A power cut"): every call of each
# scenario's unsynced part, POWERCUT_SEEDS seeds each (about two minutes);
# POWERCUT_ARGS pass options (--scenarios, --n, --json, -v). Another build's
# daemon: LETHEFS=/path/to/lethefs make powercut.
POWERCUT_SEEDS ?= 1-8
powercut: all $(FAULT_SHIM)
	@python3 tests/fault/powercut.py --build $(BUILD) --seeds $(POWERCUT_SEEDS) $(POWERCUT_ARGS)

# The operation sweep under power cuts (sweep.py --power-cut; docs/TESTING.md,
# "Power cuts in the operation sweep"): every operation of operations.py
# (POWERCUT_OPS: a comma-separated list, e.g. rotate), seeds POWERCUT_OPS_SEEDS,
# at the --quick cut points by default (before each sync, after each rename,
# link and unlink, at the end: about 15 minutes for all); POWERCUT_OPS_ARGS=
# (empty) cuts at every call, --json FILE keeps every result. Not in `make test`.
POWERCUT_OPS ?= all
POWERCUT_OPS_SEEDS ?= 1-4
POWERCUT_OPS_ARGS ?= --quick
powercut-ops: all $(FAULT_SHIM)
	@nice -n 10 python3 tests/fault/sweep.py --build $(BUILD) --power-cut --ops $(POWERCUT_OPS) \
	  --seeds $(POWERCUT_OPS_SEEDS) $(POWERCUT_OPS_ARGS)

# The full real-client suite (PostgreSQL, SQLite, rsync, tar, fio, git on
# real mounts, with kill -9 rounds); its short version is part of `make test`.
test-clients: all
	@bash tests/clients/run.sh $(BUILD)

# The load-and-fault soak (docs/TESTING.md): writers, verifying readers,
# rotation, lock/unlock, staging expiry and kill -9 against one mount for
# SOAK_SECONDS (default an hour); report in $(BUILD)/soak-report.md.
SOAK_SECONDS ?= 3600
soak: all
	@python3 tests/soak/soak.py --seconds $(SOAK_SECONDS) --lethefs $(BUILD)/lethefs \
	  --report $(BUILD)/soak-report.md --json $(BUILD)/soak-report.json

asan:
	$(MAKE) BUILD=build-asan CC=clang \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" test

fuzz: deps
	@sh tests/fuzz/run.sh $(or $(FUZZ_SECONDS),30)

# The Debian packages (lethefs, lethefs-dbgsym), built by dpkg-buildpackage
# from debian/ in a copy of the tracked files: $(BUILD)/deb/.
deb: deps
	@sh scripts/build-deb.sh $(BUILD)/deb

# The package built twice (byte-identical?), lintian (no error, no warning),
# then installed and purged with apt in a minimal Debian 12 chroot.
deb-check: deps
	@sh scripts/deb-check.sh

# The README's first command (./setup.sh demo), and `make demo` with only
# make installed, each in a minimal Debian 12 chroot (apt only) on a clean
# clone of HEAD. FRESH_CHECK="demo test make-demo" also runs the second.
fresh-check: deps
	@sh scripts/fresh-check.sh $(FRESH_CHECK)

demo: all
	@sh scripts/demo.sh $(BUILD)/lethefs

bench: all
	@bash scripts/bench.sh

# lethefs on GlusterFS beside plain GlusterFS (scripts/bench-gluster.sh).
bench-gluster: all
	@bash scripts/bench-gluster.sh

# Tree work at 10k and 100k files (issue 22); 1M by hand:
# `sudo bash scripts/bench-scale.sh 1000000`. Never part of `make test`.
bench-scale: all
	@bash scripts/bench-scale.sh $(BENCH_SCALE_SIZES)

# Units go where systemd looks for PREFIX's units, with the binary's path
# rewritten for PREFIX.
UNITDIR ?= $(PREFIX)/lib/systemd/system

MANDIR  ?= $(PREFIX)/share/man
# The units' Documentation= lines name README.md here.
DOCDIR  ?= $(PREFIX)/share/doc/lethefs
# In zsh's default fpath for /usr/local; packages use vendor-completions.
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions

install: $(BUILD)/lethefs $(MAN_PAGES)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man5
	install -m 0644 $(BUILD)/man/lethefs.1 $(DESTDIR)$(MANDIR)/man1/lethefs.1
	install -m 0644 $(BUILD)/man/lethefs.conf.5 $(DESTDIR)$(MANDIR)/man5/lethefs.conf.5
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 dist/bash-completion/lethefs \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/lethefs
	install -d $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0644 dist/zsh-completion/_lethefs $(DESTDIR)$(ZSHCOMPDIR)/_lethefs
	install -m 0755 $(BUILD)/lethefs $(DESTDIR)$(PREFIX)/bin/lethefs
	install -d $(DESTDIR)$(PREFIX)/lib/lethefs
	install -m 0755 scripts/rotate-keys.sh $(DESTDIR)$(PREFIX)/lib/lethefs/rotate-keys.sh
	install -m 0755 scripts/boot-unlock.sh $(DESTDIR)$(PREFIX)/lib/lethefs/boot-unlock.sh
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 README.md NEWS.md SECURITY.md docs/*.md $(DESTDIR)$(DOCDIR)
	install -m 0644 docs/examples/* $(DESTDIR)$(DOCDIR)/examples
	for u in dist/systemd/*; do \
	  sed 's|/usr/local/|$(PREFIX)/|g' $$u >$(DESTDIR)$(UNITDIR)/$${u##*/}; \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; \
	done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/lethefs
	for u in dist/systemd/*; do rm -f $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	rm -f $(DESTDIR)$(MANDIR)/man1/lethefs.1 $(DESTDIR)$(MANDIR)/man5/lethefs.conf.5
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/lethefs
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_lethefs
	rm -f $(DESTDIR)$(PREFIX)/lib/lethefs/rotate-keys.sh $(DESTDIR)$(PREFIX)/lib/lethefs/boot-unlock.sh
	rm -rf $(DESTDIR)$(DOCDIR)

format:
	clang-format -i $(SRC) $(HDR)

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem $(wildcard $(ROOMS))

# Includes only point down the room order, and no two modules include
# each other (scripts/check-layers.sh).
layers:
	@sh scripts/check-layers.sh

# No function's stack frame over 16 KiB (scripts/check-stack.sh).
stack:
	@sh scripts/check-stack.sh

clean:
	rm -rf build build-asan build-stack

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d) $(TOOL_BIN:=.d)
