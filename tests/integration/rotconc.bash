# SPDX-License-Identifier: Apache-2.0
# Real workloads through a mount while `lethefs rotate --wait` runs, twice
# (60-rotate-concurrent.bats, 61-rotate-concurrent-shared.bats;
# docs/ROTATION.md, "Operations during a rotation"). The caller mounted
# with mount_logged (the daemon's log in $T/daemon.log).

# A tree the rotation takes a second or more over: $1 (default 20)
# directories of 150 empty files, a 300 KB file, a symlink and an xattr
# each.
rotconc_bulk() {
	mkdir "$MNT/bulk"
	for d in $(seq "${1:-20}"); do
		mkdir "$MNT/bulk/$d"
		(cd "$MNT/bulk/$d" && seq -f 'patient-%03g.hl7' 1 150 | xargs touch)
		head -c 300000 /dev/urandom >"$MNT/bulk/$d/big"
		ln -s "big" "$MNT/bulk/$d/link"
		setfattr -n user.tag -v "dir-$d" "$MNT/bulk/$d/big"
	done
}

# What a walker of the static tree sees: every path with type, mode,
# modification time and links, sizes of what is not a directory (the
# backing directory's own size changes as its entries are renamed), and
# the symlink targets.
rotconc_find() {
	(cd "$MNT/bulk" && find . \( -type d -printf '%p d %m %T@ %n\n' \) -o \
		-printf '%p %y %m %s %T@ %n %l\n' | sort)
}

# Walks $MNT/bulk with find, du and ls -lR until $T/stop appears: no
# error, and find's view always the one taken before ($T/find.want).
rotconc_walker() {
	local n=0
	rotconc_find >"$T/find.want"
	(
		cd "$MNT/bulk" || exit 1
		while [ ! -e "$T/stop" ]; do
			n=$((n + 1))
			rotconc_find 2>>"$T/walk.err" >"$T/find.got"
			cmp -s "$T/find.got" "$T/find.want" ||
				diff "$T/find.want" "$T/find.got" | head -5 >>"$T/walk.err"
			du -s . >/dev/null 2>>"$T/walk.err"
			ls -lR . >/dev/null 2>>"$T/walk.err"
		done
		echo "$n" >"$T/walks"
	) &
	walker=$!
}

# Starts the workloads: three differential attackers (rot_attack.py), the
# holders of descriptors and mappings (rot_holders.py), the walker.
rotconc_start() {
	local s
	rm -f "$T/stop" "$T/ready"
	attackers=()
	for s in 1 2 3; do
		python3 "$BATS_TEST_DIRNAME/rot_attack.py" "$T/stop" "$((RANDOM * 10 + s))" \
			"$MNT/w$s" "$T/ref/w$s" >"$T/attack$s" 2>&1 &
		attackers+=($!)
	done
	python3 "$BATS_TEST_DIRNAME/rot_holders.py" "$T/stop" "$T/ready" "$MNT/own" \
		"$MNT"/bulk/*/big "$MNT/bulk/1/patient-001.hl7" >"$T/holders" 2>&1 &
	holders=$!
	wait_for_file "$T/ready"
	rotconc_walker
	sleep 0.5
}

# Stops them and fails unless every one of them found what ext4 gives.
rotconc_stop_and_check() {
	local st=0 s
	touch "$T/stop"
	for s in 1 2 3; do
		wait "${attackers[$((s - 1))]}" || st=1
		echo "# attacker $s: $(cat "$T/attack$s")" >&3
	done
	wait "$holders" || st=1
	echo "# holders: $(cat "$T/holders")" >&3
	wait "$walker" || st=1
	echo "# walks: $(cat "$T/walks")" >&3
	if [ -s "$T/walk.err" ]; then
		head -20 "$T/walk.err" >&3
		st=1
	fi
	attackers=()
	holders=
	walker=
	if [ "$st" != 0 ] && [ -f "$T/daemon.log" ]; then
		echo "# the daemon's log, but for info lines:" >&3
		grep -v ' info: ' "$T/daemon.log" | head -20 >&3
		[ -z "${ROTCONC_KEEP:-}" ] || cp -r "$T" "$ROTCONC_KEEP"
	fi
	return $st
}

# Nothing in the daemon's log says a name, an object or a conversion went
# wrong (no fault was injected).
rotconc_clean_log() {
	local bad='does not authenticate|half converted|undone|cannot|skipping|failed|error'
	if grep -v 'no system log here' "$T/daemon.log" | grep -Ei "$bad" >&3; then
		return 1
	fi
}

# setup(): a vault, no workload running yet.
rotconc_setup() {
	setup_vault
	attackers=()
	holders=
	walker=
	mover=
}

# The whole workload round on a mount made by mount_logged with the given
# options: the bulk tree (BULK directories), the workloads, two rotations,
# then every check, the unmount and fsck.
rotconc_round() {
	local bulk=$1
	shift
	mount_logged "$@"
	rotconc_bulk $bulk
	rotconc_start
	"$LETHEFS" rotate --wait "$MNT"
	"$LETHEFS" rotate --wait "$MNT"
	run "$LETHEFS" status --json "$MNT"
	echo "$output"
	if [[ "$output" != *'"rotation_errors":0'* ]]; then
		echo "# the daemon's log, but for info lines:" >&3
		grep -v ' info: ' "$T/daemon.log" | head -20 >&3
		return 1
	fi
	rotconc_stop_and_check
	rotconc_clean_log
	unmount_vault
	"$LETHEFS" fsck --passfile "$T/pass" "$VAULT"
}

# Kills what a failed test left running.
rotconc_teardown() {
	touch "$T/stop" 2>/dev/null || true
	local p
	# They stop at the stop file (a walker killed in the middle would
	# leave its find running in the mount).
	for p in "${attackers[@]}" ${holders:-} ${walker:-} ${mover:-}; do
		for _ in $(seq 300); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
