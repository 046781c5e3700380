# lethefs build. `make` builds build/lethefs; `make test` runs every suite
# and ends with "N passed, N failed"; `make asan` runs the suite under
# AddressSanitizer and UBSan; `make demo` shows the product on a demo vault.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS    := fuse3 libsodium inih
DEPS_OK := $(shell pkg-config --exists $(PKGS) cmocka 2>/dev/null && echo yes)

OPT     ?= -O2 -g
CFLAGS  += $(OPT) -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=312 -fstack-protector-strong \
           -D_FORTIFY_SOURCE=2 -MMD -MP
ifeq ($(DEPS_OK),yes)
CFLAGS  += $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread
endif

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

.PHONY: deb all deps test unit integration asan fuzz demo install uninstall clean format \
        cppcheck bench lib layers stack

all: deps $(BUILD)/lethefs

deps:
	@sh scripts/install-deps.sh

$(BUILD)/lethefs: $(OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

lib: $(LIB)

$(LIB): $(filter-out $(MAIN_OBJ),$(OBJ))
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -MF $@.d -o $@ $(filter %.c %.a,$^) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -MF $@.d -o $@ $(filter %.c %.a,$^) $(LDLIBS)

# The tail crash sweep dies or fails at chosen backing-store calls: they are
# wrapped at link time (tests/unit/test_tail_crash.c).
$(BUILD)/tests/test_tail_crash: LDFLAGS += -Wl,--wrap=pwrite64,--wrap=ftruncate64,--wrap=fallocate64,--wrap=fdatasync

unit: all $(UNIT_BIN)
	@bash tests/run-all.sh $(BUILD) unit

integration: all $(TOOL_BIN)
	@bash tests/run-all.sh $(BUILD) integration

# The full suite: unit tests, then integration tests through real mounts,
# then one summary line.
test: all $(UNIT_BIN) $(TOOL_BIN)
	@bash tests/run-all.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan CC=clang \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" test

fuzz: deps
	@sh tests/fuzz/run.sh $(or $(FUZZ_SECONDS),30)

# A Debian package of this build: $(BUILD)/lethefs_VERSION_ARCH.deb
deb: all
	@sh scripts/make-deb.sh $(BUILD) $(BUILD)

demo: all
	@sh scripts/demo.sh $(BUILD)/lethefs

bench: all
	@bash scripts/bench.sh

# Units go where systemd looks for PREFIX's units, with the binary's path
# rewritten for PREFIX.
UNITDIR ?= $(PREFIX)/lib/systemd/system

MANDIR  ?= $(PREFIX)/share/man

install: $(BUILD)/lethefs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man5
	install -m 0644 man/lethefs.1 $(DESTDIR)$(MANDIR)/man1/lethefs.1
	install -m 0644 man/lethefs.conf.5 $(DESTDIR)$(MANDIR)/man5/lethefs.conf.5
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 dist/bash-completion/lethefs \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/lethefs
	install -m 0755 $(BUILD)/lethefs $(DESTDIR)$(PREFIX)/bin/lethefs
	install -d $(DESTDIR)$(PREFIX)/lib/lethefs
	install -m 0755 scripts/rotate-keys.sh $(DESTDIR)$(PREFIX)/lib/lethefs/rotate-keys.sh
	for u in dist/systemd/*; do \
	  sed 's|/usr/local/|$(PREFIX)/|g' $$u >$(DESTDIR)$(UNITDIR)/$${u##*/}; \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; \
	done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/lethefs
	for u in dist/systemd/*; do rm -f $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	rm -f $(DESTDIR)$(MANDIR)/man1/lethefs.1 $(DESTDIR)$(MANDIR)/man5/lethefs.conf.5
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/lethefs
	rm -f $(DESTDIR)$(PREFIX)/lib/lethefs/rotate-keys.sh

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
