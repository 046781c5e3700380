#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The audit logs of a shared vault (docs/AUDIT.md section 8): two hosts,
# each a mount and UTS namespace of its own (own host name, own
# /run/lethefs), mount one vault on a plain directory with -o shared;
# each daemon writes its own log lethefs.audit.d/HOST. verify checks
# every log and fails (exit 10, naming the host) on a truncated, edited,
# swapped, deleted or copied host log and on whatever the backing store's
# writer plants in the directory; show merges the logs by time.

load helpers

load hosts

setup() {
	setup_vault
	mkdir -p "$T/mlfgA" "$T/mlfgB"
	HOSTS_DIR=$T
	hosts_start lfgA lfgB
}

teardown() {
	hosts_stop "lethefs mount .*$VAULT" lfgA lfgB
	teardown_vault
}

# Both hosts mount, work, lock, unlock and unmount: events in both logs.
two_hosts_work() {
	for h in lfgA lfgB; do
		on_host $h "$LETHEFS" mount -o shared --passfile "$T/pass" "$VAULT" "$T/m$h"
	done
	on_host lfgA sh -c "echo a >$T/mlfgA/a"
	on_host lfgB cat "$T/mlfgB/a" >/dev/null
	on_host lfgB "$LETHEFS" lock "$T/mlfgB"
	on_host lfgB "$LETHEFS" unlock --passfile "$T/pass" "$T/mlfgB"
	for h in lfgA lfgB; do
		on_host $h "$LETHEFS" umount "$T/m$h"
	done
	for _ in $(seq 150); do
		pgrep -f "lethefs mount .*$VAULT" >/dev/null || break
		sleep 0.1
	done
}

verify() { run "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"; }

@test "two shared hosts: one log each, every log verifies, show merges them by time" {
	two_hosts_work
	[ -f "$VAULT/lethefs.audit.d/lfgA" ]
	[ -f "$VAULT/lethefs.audit.d/lfgB" ]
	[ "$(stat -c %a "$VAULT/lethefs.audit.d")" = 700 ]
	[ "$(stat -c %a "$VAULT/lethefs.audit.d/lfgA")" = 600 ]
	verify
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "OK: "* ]]
	[[ "$output" == *"host lfgA: OK: "* ]]
	[[ "$output" == *"host lfgB: OK: "* ]]
	# The main log registers each host; the host logs hold the events.
	grep -q '"event":"audit-host".*"host":"lfgA"' "$VAULT/lethefs.audit"
	grep -q '"event":"lock"' "$VAULT/lethefs.audit.d/lfgB"
	! grep -q '"event":"lock"' "$VAULT/lethefs.audit.d/lfgA" || false
	! grep -q '"event":"mount"' "$VAULT/lethefs.audit" || false
	run "$LETHEFS" audit verify --json --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ok"] and [h["host"] for h in d["hosts"]] == ["lfgA", "lfgB"], d
assert all(h["ok"] and h["registered"] and h["keyed"] > 0 for h in d["hosts"]), d' "$output"
	# show: every entry of every log, in time order, the host named.
	run "$LETHEFS" audit show "$VAULT"
	[ "$status" -eq 0 ]
	echo "$output"
	n=$(( $(wc -l <"$VAULT/lethefs.audit") + $(wc -l <"$VAULT/lethefs.audit.d/lfgA") +
		$(wc -l <"$VAULT/lethefs.audit.d/lfgB") ))
	[ "${#lines[@]}" -eq "$n" ]
	[[ "$output" == *" lfgA#1 mount success"* ]]
	[[ "$output" == *" lfgB#"*" lock success"* ]]
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1)" = \
		"$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | sort -s)" ]
	run "$LETHEFS" audit show --json --event lock "$VAULT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["host"]=="lfgB" and d["event"]=="lock"' "$output"
}

@test "shared host logs: truncated, edited, swapped, deleted or copied are each found (exit 10)" {
	two_hosts_work
	D=$VAULT/lethefs.audit.d
	cp -a "$D" "$T/saved"
	restore() { rm -rf "$D"; cp -a "$T/saved" "$D"; }
	# Truncated: the last entries of lfgB cut away.
	head -n 2 "$D/lfgB" >"$T/cut" && cat "$T/cut" >"$D/lfgB"
	verify
	echo "$output"
	[ "$status" -eq 10 ]
	[[ "$output" == *"host lfgB: FAILED: lethefs.audit.d/lfgB: truncated tail"* ]]
	[[ "$output" == *"host lfgA: OK"* ]]
	restore
	# Edited.
	sed -i '1s/"mount"/"mounT"/' "$D/lfgA"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"host lfgA: FAILED: "*"edited"* ]]
	restore
	# Swapped, heads included.
	for f in "" .head; do
		mv "$D/lfgA$f" "$T/x" && mv "$D/lfgB$f" "$D/lfgA$f" && mv "$T/x" "$D/lfgB$f"
	done
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"host lfgA: FAILED: lethefs.audit.d/lfgA is not host lfgA's log but a copy of host lfgB"* ]]
	[[ "$output" == *"host lfgB: FAILED: lethefs.audit.d/lfgB is not host lfgB's log but a copy of host lfgA"* ]]
	restore
	# Deleted, head and all.
	rm "$D/lfgB" "$D/lfgB.head"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"host lfgB: FAILED: the log of host lfgB is missing (registered by entry seq "*"): deleted"* ]]
	restore
	# The whole directory deleted.
	rm -r "$D"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"lethefs.audit.d is gone): deleted"* ]]
	restore
	# lfgA's log copied over lfgB's name.
	cp "$D/lfgA" "$D/lfgB" && cp "$D/lfgA.head" "$D/lfgB.head"
	verify
	[ "$status" -eq 10 ]
	[[ "$output" == *"host lfgB: FAILED: lethefs.audit.d/lfgB is not host lfgB's log but a copy of host lfgA"* ]]
	run "$LETHEFS" audit verify --json --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 10 ]
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert not d["ok"] and d["problem"]=="inserted", d' "$output"
	restore
	verify
	[ "$status" -eq 0 ]
}

@test "shared host logs: names planted in the directory fail verify, are never followed, and a mount refuses them" {
	two_hosts_work
	D=$VAULT/lethefs.audit.d
	ln -s ../lethefs.audit "$D/lfgC"
	mkfifo "$D/lfgD"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$D/lfgE"
	mkdir "$D/lfgF"
	touch "$D/not a host"
	run timeout 20 "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 10 ]
	[[ "$output" == *'lethefs.audit.d/"lfgC" is a symbolic link: planted'* ]]
	[[ "$output" == *'lethefs.audit.d/"lfgD" is not a regular file: planted'* ]]
	[[ "$output" == *'lethefs.audit.d/"lfgE" is not a regular file: planted'* ]]
	[[ "$output" == *'lethefs.audit.d/"lfgF" is not a regular file: planted'* ]]
	[[ "$output" == *'lethefs.audit.d/"not a host" is not a host name: planted'* ]]
	[[ "$output" == *"host lfgA: OK"* ]]
	run timeout 20 "$LETHEFS" audit show "$VAULT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"lfgA#1 mount"* ]]
	# A host whose name was planted as a symlink cannot be made to write
	# through it: its mount fails, saying why.
	rm "$D/lfgB" "$D/lfgB.head"
	ln -s ../lethefs.conf "$D/lfgB"
	cp "$VAULT/lethefs.conf" "$T/conf"
	run on_host lfgB "$LETHEFS" mount -o shared --passfile "$T/pass" "$VAULT" "$T/mlfgB"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"audit log"* ]]
	cmp "$VAULT/lethefs.conf" "$T/conf"
}

@test "an exclusive mount keeps the single log: no lethefs.audit.d, output unchanged" {
	mount_vault
	unmount_vault
	[ ! -e "$VAULT/lethefs.audit.d" ]
	verify
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "OK: "*" entries, last seq "*" keyed; 0 unkeyed entries after the last keyed one (not yet sealed)" ]]
	run "$LETHEFS" audit show "$VAULT"
	[[ "${lines[0]}" =~ ^[0-9T:.-]+Z\ #1\ mount\ success ]]
}
