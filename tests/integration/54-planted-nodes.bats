#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The backing-store writer (docs/THREAT-MODEL.md) plants nodes under the
# names of the audit logs. Opening a node has effects before any check can
# refuse it: a device node's open runs its driver (the daemon is root), a
# FIFO's releases whoever waits on its other end. A FIFO with a process
# blocked on the other end is the observable stand-in for a device: that
# process must still be blocked once lethefs has refused the node. And a
# show that cannot read every host log fails instead of leaving some out.

load helpers

setup() { setup_vault; }

teardown() {
	[ -z "${WAITER:-}" ] || kill "$WAITER" 2>/dev/null || true
	teardown_vault
}

# Whether process $1 is still alive after a moment.
still_blocked() {
	sleep 0.5
	kill -0 "$1" 2>/dev/null
}

@test "attack: a FIFO as the audit log with a reader waiting: the mount refuses it without opening it" {
	mount_vault
	echo x >"$MNT/f"
	unmount_vault
	rm "$VAULT/lethefs.audit"
	mkfifo "$VAULT/lethefs.audit"
	timeout 120 cat "$VAULT/lethefs.audit" >"$T/got" &
	WAITER=$!
	sleep 0.3
	run timeout -s KILL 30 "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -ne 137 ]
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot open the audit log"*"not a regular file"* ]]
	# Never opened for writing: the reader still waits for a writer.
	still_blocked "$WAITER"
	kill "$WAITER"
	rm "$VAULT/lethefs.audit"
}

@test "attack: a FIFO as a host log with a writer waiting: audit show skips it without opening it" {
	mount_vault
	unmount_vault
	mkdir -m 700 "$VAULT/lethefs.audit.d"
	mkfifo "$VAULT/lethefs.audit.d/lrthost"
	timeout 120 sh -c "echo planted >'$VAULT/lethefs.audit.d/lrthost'" &
	WAITER=$!
	sleep 0.3
	run timeout -s KILL 30 "$LETHEFS" audit show "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"lrthost"*"is not a host log"* ]]
	still_blocked "$WAITER"
	kill "$WAITER"
	run timeout -s KILL 30 "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 10 ]
	[[ "$output" == *"lrthost"*"not a regular file"* ]]
}

@test "attack: host logs planted past the descriptor limit: audit show fails, never leaves logs out" {
	mount_vault
	echo x >"$MNT/f"
	unmount_vault
	mkdir -m 700 "$VAULT/lethefs.audit.d"
	for i in $(seq -w 1 80); do : >"$VAULT/lethefs.audit.d/lrt$i"; done
	run bash -c "ulimit -n 48 && timeout -s KILL 30 '$LETHEFS' audit show '$VAULT'"
	echo "$output" | tail -5
	[ "$status" -ne 137 ]
	[ "$status" -eq 1 ]
	[[ "$output" == *"Too many open files"* ]]
	# With descriptors enough, the same logs show (they are empty).
	run timeout -s KILL 30 "$LETHEFS" audit show "$VAULT"
	[ "$status" -eq 0 ]
}
