#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The command line: init, info, mount's contract, errors and exit codes.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

@test "init creates a vault that info describes without a passphrase" {
	run "$LETHEFS" info "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"format:   2"* ]]
	[[ "$output" == *"cipher:   xchacha20poly1305"* ]]
	[[ "$output" == *"slot 0: passphrase, argon2id ops=1 mem=8MiB"* ]]
	[[ "$output" != *"$PASS"* ]]
	[ "$(stat -c %a "$VAULT")" = 700 ]
	[ "$(stat -c %a "$VAULT/lethefs.keyslots")" = 600 ]
}

@test "init --format 1 keeps producing format 1; any other format is a usage error" {
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M --format 1 \
		"$T/v1" >"$T/out"
	grep -q "format 1" "$T/out"
	run "$LETHEFS" info "$T/v1"
	[ "$status" -eq 0 ]
	[[ "$output" == *"format:   1"* ]]
	grep -qx "format = 1" "$T/v1/lethefs.conf"
	for f in 0 3 x ""; do
		run "$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
			--format "$f" "$T/bad"
		[ "$status" -eq 2 ]
		[ ! -e "$T/bad/lethefs.conf" ]
	done
}

@test "init refuses a non-empty directory and an existing vault (exit 8)" {
	run "$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$VAULT"
	[ "$status" -eq 8 ]
	[[ "$output" == *"already holds a lethefs vault"* ]]
	mkdir "$T/full" && touch "$T/full/x"
	run "$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/full"
	[ "$status" -eq 8 ]
	[[ "$output" == *"not empty"* ]]
}

@test "init with aes256gcm when the CPU has AES-NI" {
	grep -qw aes /proc/cpuinfo || skip "no AES-NI"
	run "$LETHEFS" init --cipher aes256gcm --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/v2"
	[ "$status" -eq 0 ]
	run "$LETHEFS" info "$T/v2"
	[[ "$output" == *"cipher:   aes256gcm"* ]]
}

@test "every subcommand has --help, and unknown ones are usage errors" {
	for c in init mount info fsck keyslot passwd key; do
		run "$LETHEFS" "$c" --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"Usage: lethefs $c"* ]]
	done
	run "$LETHEFS" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Exit codes"* ]]
	run "$LETHEFS" frobnicate
	[ "$status" -eq 2 ]
	run "$LETHEFS" mount "$VAULT"
	[ "$status" -eq 2 ]
}

@test "wrong passphrase: exit 3, clear message, nothing mounted or changed but the audit log" {
	before=$(cd "$VAULT" && find . -type f ! -name 'lethefs.audit*' -exec sha256sum {} + | sort)
	echo wrong >"$T/bad"
	run "$LETHEFS" mount --passfile "$T/bad" "$VAULT" "$MNT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"wrong passphrase"* ]]
	assert_not_mounted "$MNT"
	after=$(cd "$VAULT" && find . -type f ! -name 'lethefs.audit*' -exec sha256sum {} + | sort)
	[ "$before" = "$after" ]
	"$LETHEFS" audit show "$VAULT" | grep -q 'unlock failure .*command="mount" error="wrong secret"'
}

@test "passphrase from --passfd and --extpass" {
	run "$LETHEFS" mount --passfd 3 "$VAULT" "$MNT" 3<"$T/pass"
	[ "$status" -eq 0 ]
	unmount_vault
	run "$LETHEFS" mount --extpass "cat $T/pass" "$VAULT" "$MNT"
	[ "$status" -eq 0 ]
	unmount_vault
	run "$LETHEFS" mount --extpass "false" "$VAULT" "$MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--extpass program"* ]]
}

@test "missing vault: exit 4; not a vault: exit 4" {
	run "$LETHEFS" info "$T/nope"
	[ "$status" -eq 4 ]
	mkdir "$T/empty"
	run "$LETHEFS" mount --passfile "$T/pass" "$T/empty" "$MNT"
	[ "$status" -eq 4 ]
	[[ "$output" == *"not a lethefs vault"* ]]
}

@test "corrupt config: exit 5 with the line and reason; vault untouched" {
	cp "$VAULT/lethefs.conf" "$T/conf.bak"
	echo "colour = blue" >>"$VAULT/lethefs.conf"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$status" -eq 5 ]
	[[ "$output" == *"unknown key 'colour'"* ]]
	[[ "$output" == *"line 8"* ]]
	cp "$T/conf.bak" "$VAULT/lethefs.conf"
	sed -i 's/^cipher = .*/cipher = rot13/' "$VAULT/lethefs.conf"
	run "$LETHEFS" info "$VAULT"
	[ "$status" -eq 5 ]
	[[ "$output" == *"unknown cipher 'rot13'"* ]]
}

@test "editing the cipher in the config makes unlock refuse (keyring binds it)" {
	grep -qw aes /proc/cpuinfo || skip "no AES-NI"
	sed -i 's/^cipher = .*/cipher = aes256gcm/' "$VAULT/lethefs.conf"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$status" -eq 5 ]
	assert_not_mounted "$MNT"
}

@test "a keyslot file from another vault is refused" {
	"$LETHEFS" init --passfile "$T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/other" >/dev/null
	cp "$T/other/lethefs.keyslots" "$VAULT/lethefs.keyslots"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$status" -eq 5 ]
}

@test "mount returns only when the mount is live; umount stops the daemon with 0" {
	mount_vault
	mountpoint -q "$MNT"
	echo data >"$MNT/f"
	pid=$(pgrep -f "lethefs mount .*$VAULT")
	[ -n "$pid" ]
	fusermount3 -u "$MNT"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null || false
}

@test "foreground mode exits 0 after unmount" {
	"$LETHEFS" mount -f --passfile "$T/pass" "$VAULT" "$MNT" 2>"$T/log" &
	pid=$!
	for _ in $(seq 50); do mountpoint -q "$MNT" && break; sleep 0.1; done
	mountpoint -q "$MNT"
	fusermount3 -u "$MNT"
	wait "$pid"
}

@test "mount refuses a mountpoint inside the vault and a missing one (exit 7)" {
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$VAULT/d"
	[ "$status" -eq 7 ]
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$T/nonexistent"
	[ "$status" -eq 7 ]
}

@test "-o ro gives a read-only mount" {
	mount_vault
	echo x >"$MNT/f"
	unmount_vault
	mount_vault -o ro
	[ "$(cat "$MNT/f")" = x ]
	run sh -c "echo y > '$MNT/g'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Read-only"* ]]
}

@test "the daemon is not dumpable" {
	mount_vault
	pid=$(pgrep -f "lethefs mount .*$VAULT")
	# A non-dumpable daemon also has a zero core-size limit;
	# the limit is what a test can observe from outside.
	grep -q "Max core file size *0 *0" "/proc/$pid/limits"
}

@test "a comma in the vault path cannot inject mount options" {
	mv "$VAULT" "$T/v,allow_other"
	VAULT="$T/v,allow_other"
	mount_vault
	opts=$(findmnt -n -o OPTIONS "$MNT")
	[[ "$opts" != *allow_other* ]]
	[ "$(findmnt -n -o SOURCE "$MNT")" = "$VAULT" ]
}

@test "init with --extpass records an extpass keyslot" {
	run "$LETHEFS" init --extpass "cat $T/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M "$T/v3"
	[ "$status" -eq 0 ]
	run "$LETHEFS" info "$T/v3"
	[[ "$output" == *"slot 0: extpass"* ]]
	run "$LETHEFS" mount --passfd -1 "$T/v3" "$MNT"
	[ "$status" -eq 2 ]
}

@test "make install honours PREFIX and DESTDIR" {
	make -s -C "$BATS_TEST_DIRNAME/../.." install DESTDIR="$T/root" PREFIX=/opt/lethefs >/dev/null
	[ -x "$T/root/opt/lethefs/bin/lethefs" ]
	run "$T/root/opt/lethefs/bin/lethefs" --version
	[[ "$output" == "lethefs "* ]]
	# The units name the installed binary.
	grep -q '^ExecStart=/opt/lethefs/bin/lethefs mount -f --locked' \
		"$T/root/opt/lethefs/lib/systemd/system/lethefs@.service"
	[ -f "$T/root/opt/lethefs/lib/systemd/system/lethefs-shred@.timer" ]
	[ -f "$T/root/opt/lethefs/share/man/man1/lethefs.1" ]
	[ -f "$T/root/opt/lethefs/share/man/man5/lethefs.conf.5" ]
	[ -f "$T/root/opt/lethefs/share/bash-completion/completions/lethefs" ]
	[ -f "$T/root/opt/lethefs/share/zsh/site-functions/_lethefs" ]
	[ -x "$T/root/opt/lethefs/lib/lethefs/boot-unlock.sh" ]
	grep -q '^ExecStart=/opt/lethefs/lib/lethefs/boot-unlock.sh %i' \
		"$T/root/opt/lethefs/lib/systemd/system/lethefs-unlock@.service"
	grep -q '^Environment=LETHEFS=/opt/lethefs/bin/lethefs' \
		"$T/root/opt/lethefs/lib/systemd/system/lethefs-unlock@.service"
	[ -f "$T/root/opt/lethefs/share/doc/lethefs/README.md" ]
	grep -q 'file:/opt/lethefs/share/doc/lethefs/README.md' \
		"$T/root/opt/lethefs/lib/systemd/system/lethefs@.service"
}
