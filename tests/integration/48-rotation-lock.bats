#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A lock while a rotation converts pauses it (docs/ROTATION.md, "Locking
# during a rotation"): no error is counted, the state is "paused", no epoch
# is retired on a count the lock cut short, the lock waits until the worker
# has let go of the file it was converting (left under its journal record,
# which the unlock's recovery finishes), and after the unlock the rotation
# finishes with every byte intact. Found by the soak (tests/soak): the keys
# wiped under the converting worker were counted as rotation errors, and
# `rotate --wait` could exit 15.

load helpers

setup() {
	setup_vault
	mount_logged
}
teardown() {
	slow_daemon_stop
	teardown_vault
}

# Runs the daemon at about a fifth of the time (stopped 80 ms in every
# 100): a conversion of 768 MiB took about 1 s on an idle machine, less
# than a status call and a lock take under load, and a lock meant to come
# in the middle of it came after it (the race, not the daemon, failed).
slow_daemon_start() {
	local pid
	pid=$(pgrep -f "lethefs mount -f .*$VAULT")
	[ -n "$pid" ]
	(
		trap 'kill -CONT '"$pid"' 2>/dev/null; exit 0' TERM
		while kill -STOP "$pid" 2>/dev/null; do
			sleep 0.08
			kill -CONT "$pid" 2>/dev/null
			sleep 0.02
		done
	) &
	SLOW=$!
}

slow_daemon_stop() {
	[ -n "${SLOW:-}" ] || return 0
	kill "$SLOW" 2>/dev/null
	wait "$SLOW" 2>/dev/null
	SLOW=
	pkill -CONT -f "lethefs mount -f .*$VAULT" 2>/dev/null || true
}

status_json() { "$LETHEFS" status --json "$MNT"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
status_field() { status_json | field "$1"; }

# Until the converting pass is under way: the counting pass has set the
# totals. Then, for the test on many files, until it has converted some.
wait_converting() {
	local min_done=$1
	for _ in $(seq 1500); do
		local s
		s=$(status_json)
		if [ "$(field rotation_files_total <<<"$s")" -ge 1 ] &&
			[ "$(field rotation_files_done <<<"$s")" -ge "$min_done" ]; then
			return 0
		fi
		sleep 0.02
	done
	return 1
}

# While paused: locked, no error, nothing retired, epoch 1 still kept.
check_paused() {
	local s
	s=$(status_json)
	echo "$s"
	[ "$(field state <<<"$s")" = locked ]
	[ "$(field rotation_state <<<"$s")" = paused ]
	[ "$(field rotation_errors <<<"$s")" -eq 0 ]
	[ "$(field rotation_last_retired_epoch <<<"$s")" -eq 0 ]
	[ "$(field rotation_old_epochs <<<"$s")" = 1 ]
}

# After the unlock: the rotation resumes and completes; epoch 1 goes only
# now, after a full count.
finish_and_check() {
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	run "$LETHEFS" rotate --wait --json "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"rotation_state":"idle"'* ]]
	[[ "$output" == *'"rotation_errors":0'* ]]
	[[ "$output" == *'"rotation_old_epochs":""'* ]]
	[[ "$output" == *'"rotation_last_retired_epoch":1'* ]]
	cat "$T/daemon.log" # shown when a check below fails
	grep -q 'rotation paused by a lock' "$T/daemon.log"
	assert_no_match 'rotation: cannot' "$T/daemon.log"
	# Destroyed once, after the lock (the log is in order).
	[ "$(grep -c 'epoch 1 destroyed' "$T/daemon.log")" -eq 1 ]
	awk '/rotation paused by a lock/ {p = 1} /epoch 1 destroyed/ {exit !p}' "$T/daemon.log"
}

fsck_clean() {
	unmount_vault
	run "$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a lock in the middle of a rotation of many files pauses it without errors; it finishes after unlock" {
	# 12,000 files of 1-13 KB and a few of 8 MiB: several seconds of
	# conversion, with file boundaries (where the worker takes the keys
	# afresh) every fraction of a millisecond. (3,000 small files were
	# converted before the lock came once they went in batches.)
	python3 - "$MNT" <<'PY'
import os, random, sys
d = sys.argv[1]
for i in range(12000):
    sub = os.path.join(d, "d%02d" % (i % 30))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%05d" % i), "wb") as f:
        f.write(random.Random(i).randbytes(1000 + i))
for i in range(6):
    with open(os.path.join(d, "big%d" % i), "wb") as f:
        f.write(random.Random(-1 - i).randbytes(8 << 20))
PY
	sync
	"$LETHEFS" rotate "$MNT"
	wait_converting 50
	"$LETHEFS" lock "$MNT"
	[ "$(status_field rotation_files_done)" -lt 12006 ] || skip "the rotation finished before the lock"
	check_paused
	# Paused means paused: nothing moves while locked.
	local done_then
	done_then=$(status_field rotation_files_done)
	sleep 1.5
	[ "$(status_field rotation_files_done)" -eq "$done_then" ]
	check_paused
	finish_and_check
	python3 - "$MNT" <<'PY'
import os, random, sys
d = sys.argv[1]
for i in range(12000):
    with open(os.path.join(d, "d%02d" % (i % 30), "f%05d" % i), "rb") as f:
        assert f.read() == random.Random(i).randbytes(1000 + i), i
for i in range(6):
    with open(os.path.join(d, "big%d" % i), "rb") as f:
        assert f.read() == random.Random(-1 - i).randbytes(8 << 20), i
PY
	fsck_clean
}

@test "a lock in the middle of one large file's conversion stops it under its record; the unlock finishes it" {
	head -c $((768 << 20)) /dev/urandom >"$T/big.ref"
	cp "$T/big.ref" "$MNT/big"
	sync
	slow_daemon_start
	"$LETHEFS" rotate "$MNT"
	wait_converting 0
	sleep 0.5 # into the file's blocks (768 MiB: 5 s or more, slowed)
	[ "$(status_field rotation_files_done)" -eq 0 ] || skip "the file was converted before the lock"
	"$LETHEFS" lock "$MNT"
	slow_daemon_stop
	check_paused
	# Once lock has returned, no key is in use: the backing file does not
	# change any more (the worker let go of it, its keys wiped). Its
	# backing name is taken now: the rotation renamed it (new epoch).
	local backing sum1 sum2
	backing=$(find "$VAULT/d" -type f -size +700M)
	[ -n "$backing" ]
	sum1=$(sha256sum <"$backing")
	sleep 1
	sum2=$(sha256sum <"$backing")
	[ "$sum1" = "$sum2" ]
	# Not finished behind the lock's back either.
	[ "$(status_field rotation_files_done)" -eq 0 ]
	check_paused
	finish_and_check
	# The unlock's recovery finished the conversion the lock interrupted.
	grep -q 'recovery: the interrupted rotation of .* was finished' "$T/daemon.log"
	cmp "$T/big.ref" "$MNT/big"
	# And the file takes writes again (it was marked while half converted).
	echo appended >>"$MNT/big"
	fsck_clean
}
