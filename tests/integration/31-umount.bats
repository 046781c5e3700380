#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# lethefs umount returns only once the daemon is done with the vault: its
# last audit entry written, the daemon gone, the vault synced. Plain umount
# returns earlier (the vault kept changing for up to a second after it).

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

# One line per vault file: path, size, mtime (ns) and content hash.
vault_state() {
	(cd "$VAULT" && find . -type f -printf '%p %s %T@\n' | sort | while read -r p s m; do
		echo "$p $s $m $(sha256sum <"$p" | cut -c1-64)"
	done)
}

# True while pid runs (an exited daemon may stay a zombie until init reaps
# it; kill -0 still succeeds on those).
running() {
	[ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Enough work that the daemon has pages to write back and entries to log.
busy_mount() {
	mount_vault
	mkdir -p "$MNT/results/$1"
	for n in 1 2 3 4 5 6 7 8; do
		head -c $((n * 37000)) /dev/urandom >"$MNT/results/$1/batch-$n.csv"
	done
	setfattr -n user.batch -v "$1" "$MNT/results/$1/batch-1.csv"
	dd if=/dev/urandom of="$MNT/big-$1" bs=1M count=8 status=none
	"$LETHEFS" lock --force "$MNT" >/dev/null
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT" >/dev/null
	echo again >>"$MNT/results/$1/batch-2.csv"
}

@test "the vault no longer changes once lethefs umount returns (5 times in a row)" {
	for i in 1 2 3 4 5; do
		busy_mount "$i"
		pid=$("$LETHEFS" status --json "$MNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
		"$LETHEFS" umount "$MNT"
		before=$(vault_state)
		! mountpoint -q "$MNT" || return 1
		! running "$pid" || { echo "try $i: daemon $pid still running"; return 1; }
		last=$("$LETHEFS" audit show --json "$VAULT" | tail -n1)
		[[ "$last" == *'"event":"unmount"'* ]] || { echo "try $i: last entry $last"; return 1; }
		sleep 1.5
		after=$(vault_state)
		if [ "$before" != "$after" ]; then
			echo "try $i: the vault changed after lethefs umount returned:"
			diff <(echo "$before") <(echo "$after") || true
			return 1
		fi
		"$LETHEFS" audit verify --passfile "$T/pass" "$VAULT" >/dev/null
	done
}

@test "umount of something that is not a lethefs mount: exit 11, nothing unmounted" {
	run "$LETHEFS" umount "$T"
	[ "$status" -eq 11 ]
	[[ "$output" == *"not a mounted lethefs volume"* ]]
	run "$LETHEFS" umount "$T/no-such-dir"
	[ "$status" -eq 11 ]
	mkdir "$T/tmpfs"
	mount -t tmpfs lfspk-tmpfs "$T/tmpfs"
	run "$LETHEFS" umount "$T/tmpfs"
	mountpoint -q "$T/tmpfs"
	umount "$T/tmpfs"
	[ "$status" -eq 11 ]
}

@test "umount of a busy mount: exit 13, still mounted and served" {
	mount_vault
	echo data >"$MNT/f"
	(cd "$MNT" && exec sleep 30) &
	holder=$!
	sleep 0.3
	run "$LETHEFS" umount "$MNT"
	kill "$holder"
	wait "$holder" || true
	echo "$output"
	[ "$status" -eq 13 ]
	[[ "$output" == *busy* ]]
	# The message names who holds it.
	[[ "$output" == *"is held by: $holder (sleep: working directory)"* ]]
	mountpoint -q "$MNT"
	[ "$(cat "$MNT/f")" = data ]
	"$LETHEFS" umount "$MNT"
	! mountpoint -q "$MNT" || return 1
}

@test "umount --timeout: a daemon that does not answer gives exit 18 and stays mounted" {
	mount_vault
	pid=$("$LETHEFS" status --json "$MNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	kill -STOP "$pid"
	start=$(date +%s%N)
	run "$LETHEFS" umount --timeout 1s "$MNT"
	took=$((($(date +%s%N) - start) / 1000000))
	kill -CONT "$pid"
	echo "$output (${took} ms)"
	[ "$status" -eq 18 ]
	[ "$took" -ge 900 ] && [ "$took" -lt 5000 ]
	mountpoint -q "$MNT"
	"$LETHEFS" umount --timeout 10s "$MNT"
	! mountpoint -q "$MNT" || return 1
	! running "$pid" || return 1
	run "$LETHEFS" umount --timeout soon "$MNT"
	[ "$status" -eq 2 ]
}

@test "umount of a mount whose daemon was killed unmounts it" {
	mount_vault
	pid=$("$LETHEFS" status --json "$MNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	kill -KILL "$pid"
	for _ in $(seq 50); do running "$pid" || break; sleep 0.1; done
	run "$LETHEFS" umount "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"no daemon"* ]]
	! mountpoint -q "$MNT" || return 1
}

@test "lethefs@.service stops through lethefs umount" {
	unit=$BATS_TEST_DIRNAME/../../dist/systemd/lethefs@.service
	grep -q '^ExecStop=/usr/local/bin/lethefs umount --timeout [0-9]*s \${MOUNTPOINT}$' "$unit"
}
