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

CORE_SRC := common/log.c common/fileutil.c common/duration.c \
            keymgmt/kdf.c keymgmt/keyslots.c keymgmt/keyring.c keymgmt/config.c \
            keymgmt/vault.c keymgmt/vault_slots.c keymgmt/secret.c keymgmt/recovery.c \
            keymgmt/ctlproto.c keymgmt/audit_line.c keymgmt/audit.c keymgmt/audit_verify.c keymgmt/audit_keyring.c keymgmt/stage_store.c \
            fs/cipher.c fs/content.c fs/names.c fs/dirmeta.c fs/inode.c fs/fileio.c \
            fs/dirnames.c fs/refile.c fs/redir.c fs/stage.c
FUSE_SRC := fs/ops.c fs/ops_entry.c fs/ops_dir.c fs/ops_file.c fs/ops_xattr.c fs/gate.c \
            fs/lockdown.c fs/ops_stage.c fs/stage_inval.c
DAEMON_SRC := daemon/session.c daemon/control.c daemon/rotate.c
CLI_SRC  := cli/main.c cli/common.c cli/cmd_init.c cli/cmd_mount.c cli/cmd_info.c \
            cli/cmd_fsck.c cli/cmd_keyslot.c cli/cmd_keyslot_add.c cli/cmd_keyslot_remove.c \
            cli/cmd_passwd.c cli/cmd_key.c cli/newsecret.c cli/slotchange.c cli/slot_show.c \
            cli/cmd_control.c cli/ctl_client.c cli/cmd_rotate.c \
            cli/cmd_audit.c cli/cli_audit.c cli/cmd_stage.c cli/cmd_shred_expired.c \
            cli/cmd_rekey.c

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
FUSE_OBJ := $(FUSE_SRC:%.c=$(BUILD)/%.o) $(DAEMON_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Helper programs for the integration tests (never installed).
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
# The fault-injection shim (LD_PRELOAD; tests/fault, docs/TESTING.md). Built
# without _FILE_OFFSET_BITS and _FORTIFY_SOURCE so that it can define both
# the plain and the 64-bit names of the calls it interposes.
FAULT_SHIM := $(BUILD)/tests/fault/faultshim.so

.PHONY: deb all deps test unit integration asan fuzz demo install uninstall clean format \
        cppcheck bench test-faults

all: deps $(BUILD)/lethefs

deps:
	@sh scripts/install-deps.sh

$(BUILD)/lethefs: $(CORE_OBJ) $(FUSE_OBJ) $(CLI_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -MF $@.d -o $@ $(filter %.c %.o,$^) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/tools/%: tests/tools/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -MF $@.d -o $@ $(filter %.c %.o,$^) $(LDLIBS)

FAULT_SHIM_SRC := tests/fault/faultshim_core.c tests/fault/faultshim_calls.c \
                  tests/fault/faultshim_reals.c
$(FAULT_SHIM): $(FAULT_SHIM_SRC) tests/fault/faultshim.h
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -std=gnu11 -Wall -Wextra -Werror -Wshadow -fPIC -shared -U_FORTIFY_SOURCE \
	  -o $@ $(FAULT_SHIM_SRC) -ldl -lpthread

unit: all $(UNIT_BIN)
	@bash tests/run-all.sh $(BUILD) unit

integration: all $(TOOL_BIN) $(FAULT_SHIM)
	@bash tests/run-all.sh $(BUILD) integration

# The full suite: unit tests, then integration tests through real mounts,
# then one summary line.
test: all $(UNIT_BIN) $(TOOL_BIN) $(FAULT_SHIM)
	@bash tests/run-all.sh $(BUILD)

# The full crash and full-disk sweep (every operation, every backing-store
# call, crash before/after, ENOSPC, EIO, full tmpfs and ext4, with and without
# the writeback cache) and KILL_ROUNDS kill -9 per workload. Long (about an
# hour here): see docs/TESTING.md. FAULT_ARGS/KILL_ARGS pass options.
KILL_ROUNDS ?= 12
test-faults: all $(FAULT_SHIM)
	@FAULT_ARGS="$(FAULT_ARGS)" KILL_ARGS="$(KILL_ARGS)" \
	  bash tests/fault/run-all.sh $(BUILD) $(KILL_ROUNDS)

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
	clang-format -i $(CORE_SRC) $(FUSE_SRC) $(CLI_SRC) */*.h

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I common -I keymgmt -I fs \
	  common keymgmt fs cli

clean:
	rm -rf build build-asan

-include $(CORE_OBJ:.o=.d) $(FUSE_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_BIN:=.d) $(TOOL_BIN:=.d)
