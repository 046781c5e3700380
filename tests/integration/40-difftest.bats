#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Differential POSIX test: the same seeded random system calls, as root and
# three unprivileged users, against a plain ext4 directory and a lethefs
# mount (allow_other) whose vault also lives on ext4; every result, errno
# and the final trees must agree (tests/integration/difftest.py).
#
# Budget in `make test`: seeds 1-40, 1,000 operations each (40,000), 4 uids
# (root and three users in two groups), about 15 s here.
# Longer by hand (about 3,000 operations a second):
#   DIFFTEST_SEEDS=1-200 DIFFTEST_OPS=2000 bats tests/integration/40-difftest.bats
# A failing seed prints its step; DIFFTEST_TRACE=1 prints every operation.

load helpers

USERS=lfspx-a,lfspx-b,lfspx-c

setup_file() {
	# Users a and b share group lfspx-g1; c is in lfspx-g2 and, as a
	# supplementary group, lfspx-g1.
	groupadd -f lfspx-g1
	groupadd -f lfspx-g2
	id lfspx-a >/dev/null 2>&1 || useradd -M -N -g lfspx-g1 -s /usr/sbin/nologin lfspx-a
	id lfspx-b >/dev/null 2>&1 || useradd -M -N -g lfspx-g1 -s /usr/sbin/nologin lfspx-b
	id lfspx-c >/dev/null 2>&1 || useradd -M -N -g lfspx-g2 -G lfspx-g1 -s /usr/sbin/nologin lfspx-c
}

teardown_file() {
	for u in lfspx-a lfspx-b lfspx-c; do userdel "$u" 2>/dev/null || true; done
	for g in lfspx-g1 lfspx-g2; do groupdel "$g" 2>/dev/null || true; done
}

# /tmp may be tmpfs: the reference and the vault go on a loop-mounted ext4.
setup() {
	T=$(mktemp -d /tmp/lethefs-diff.XXXXXX)
	chmod 755 "$T"
	truncate -s 1G "$T/ext4.img"
	mkfs.ext4 -q -F "$T/ext4.img"
	mkdir "$T/e"
	mount -o loop "$T/ext4.img" "$T/e"
	EXT=$T/e/ref
	VAULT=$T/e/vault
	MNT=$T/mnt
	mkdir -m 755 "$EXT" "$MNT"
	printf '%s\n' "$PASS" >"$T/pass"
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$VAULT" >/dev/null
	mount_vault -o allow_other
	chmod 755 "$MNT"
}

teardown() {
	local rc=0
	if mountpoint -q "$MNT"; then sync -f "$MNT"; fi
	unmount_vault || rc=1
	# The image stays busy until the daemon has exited, which under load
	# can take long after a run of many small writes (up to a minute here).
	for _ in $(seq 300); do
		mountpoint -q "$T/e" || break
		umount "$T/e" 2>/dev/null || sleep 0.2
	done
	if mountpoint -q "$T/e"; then
		echo "cannot unmount $T/e" >&2
		rc=1
	fi
	rm -rf "$T"
	return $rc
}

difftest() {
	python3 "$BATS_TEST_DIRNAME/difftest.py" --users "$USERS" \
		${DIFFTEST_TRACE:+--trace} "$@" "$EXT" "$MNT"
}

@test "difftest: ext4 and lethefs agree on every call and tree, then again after a remount" {
	# With inode attributes (-o iattr, FORMAT.md 14.9); the remount reads
	# them with the default (header first, then the attribute it flags).
	unmount_vault
	mount_vault -o allow_other,iattr
	run difftest --seeds "${DIFFTEST_SEEDS:-1-40}" --ops "${DIFFTEST_OPS:-1000}"
	echo "$output"
	[ "$status" -eq 0 ]
	n=$(find "$VAULT/d" -type f -exec getfattr -n user.l {} + 2>/dev/null | grep -c '^user.l=' || true)
	echo "backing files with an attribute: $n"
	[ "$n" -gt 20 ]
	# Flush first: the writeback of many small writes (each tail update
	# synced) can outlast unmount_vault's wait under load.
	sync -f "$MNT"
	unmount_vault
	mount_vault -o allow_other
	run difftest --compare-only
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "difftest: with -o noiattr too (header records), then after remounts with and without it" {
	# The first test runs with inode attributes (-o iattr, FORMAT.md
	# 14.9); this one makes files with header records only, then the
	# modes must survive a mount that reads attributes first.
	unmount_vault
	mount_vault -o allow_other,noiattr
	run difftest --seeds "${DIFFTEST_IATTR_SEEDS:-41-60}" --ops "${DIFFTEST_OPS:-1000}"
	echo "$output"
	[ "$status" -eq 0 ]
	n=$(find "$VAULT/d" -type f -exec getfattr -n user.l {} + 2>/dev/null | grep -c '^user.l=' || true)
	echo "backing files with an attribute: $n"
	[ "$n" -eq 0 ]
	sync -f "$MNT"
	unmount_vault
	mount_vault -o allow_other,noiattr
	run difftest --compare-only
	echo "$output"
	[ "$status" -eq 0 ]
	unmount_vault
	mount_vault -o allow_other,iattr
	run difftest --compare-only
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "difftest: finds a planted divergence (the tester can fail)" {
	# A file that only the lethefs tree has, and one whose mode differs.
	python3 "$BATS_TEST_DIRNAME/difftest.py" --users "$USERS" --seeds 1 --ops 50 "$EXT" "$MNT"
	echo extra >"$MNT/seed-1/planted"
	run difftest --compare-only
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"TREE DIVERGENCE"*"planted"* ]]
	rm "$MNT/seed-1/planted"
	chmod 701 "$EXT/seed-1/w/s"
	run difftest --compare-only
	[ "$status" -eq 1 ]
	[[ "$output" == *"'seed-1/w/s'"* ]]
}
