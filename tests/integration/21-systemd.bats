#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The shipped systemd units pass systemd-analyze verify (with the binary
# path pointed at the build under test, since nothing is installed), and so
# do the documented examples (.mount, a dependent service, the fstab line
# through systemd's own fstab generator). systemd is not PID 1 here, so the
# boot path is tested in its pieces, each driven the way systemd drives it:
# the unlock unit's script with the unit's environment and a password agent
# answering systemd-ask-password's questions (or a credential directory),
# the daemon's sd_notify messages on a NOTIFY_SOCKET, and status
# --check/--wait-unlocked/--prometheus on real mounts.

load helpers

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup() {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
	T=$(mktemp -d /tmp/lethefs-it.XXXXXX)
}
teardown() {
	[ -z "${AGENT:-}" ] || kill "$AGENT" 2>/dev/null || true
	[ -z "${NOTIFY:-}" ] || kill "$NOTIFY" 2>/dev/null || true
	if [ -n "${VAULT:-}" ]; then
		teardown_vault
	else
		[ -z "${T:-}" ] || rm -rf "$T"
	fi
}

# The units and examples, with the build's binary and scripts.
units_for_test() {
	bin=$(readlink -f "$LETHEFS")
	for u in "$TOP"/dist/systemd/* "$TOP"/docs/examples/*.mount "$TOP"/docs/examples/*.service; do
		sed "s|/usr/local/bin/lethefs|$bin|g; s|/usr/local/lib/lethefs/|$(readlink -f "$TOP/scripts")/|g
			s|/opt/lims/bin/lims-server|/bin/true|; s|^User=lims|User=root|" \
			"$u" >"$T/$(basename "$u")"
	done
}

@test "every unit in dist/systemd and every example unit passes systemd-analyze verify" {
	units_for_test
	[ "$(ls "$TOP"/dist/systemd | wc -l)" -ge 9 ]
	cd "$T"
	# Templates are verified through an instance name.
	run systemd-analyze verify --man=no "$T/lethefs@labdata.service" \
		"$T/lethefs-unlock@labdata.service" "$T/lethefs-unlocked@labdata.target" \
		"$T/lethefs-shred@srv-labdata.service" "$T/lethefs-shred@srv-labdata.timer" \
		"$T/lethefs-shred.service" "$T/lethefs-shred.timer" \
		"$T/lethefs-rotate.service" "$T/lethefs-rotate.timer" \
		"$T/srv-labdata.mount" "$T/lims.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ] # warnings (an unknown setting, a bad value) fail too
}

@test "the documented fstab line makes a mount unit ordered before the unlock, which verifies" {
	units_for_test
	mkdir "$T/gen"
	SYSTEMD_FSTAB=$TOP/docs/examples/fstab \
		/lib/systemd/system-generators/systemd-fstab-generator "$T/gen" "$T/gen" "$T/gen"
	m=$T/gen/srv-labdata.mount
	cat "$m"
	grep -qx 'Before=lethefs-unlock@labdata.service' "$m"
	grep -qx 'RequiresMountsFor=/srv/labdata.vault' "$m"
	grep -qx 'Type=fuse.lethefs' "$m"
	[ -e "$T/gen/local-fs.target.wants/srv-labdata.mount" ] # mounted at boot
	# The README and lethefs(1) show that same line.
	line=$(grep -v '^#' "$TOP/docs/examples/fstab" | tr -s ' ')
	opts=$(echo "$line" | cut -d' ' -f4)
	grep -qF -- "$opts" "$TOP/README.md"
	grep -qF -- "$(echo "$opts" | sed 's/-/\\-/g')" "$TOP/man/lethefs.1"
	cp "$m" "$T/srv-labdata.mount"
	cd "$T"
	run systemd-analyze verify --man=no "$T/srv-labdata.mount" "$T/lethefs-unlock@labdata.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the dependent-service chain: lims requires the unlocked target, which requires the unlock" {
	units_for_test
	cd "$T"
	# What systemd would start for lims.service, in order (no PID 1 needed).
	run systemd-analyze verify --man=no "$T/lims.service"
	[ "$status" -eq 0 ]
	grep -qx 'Requires=lethefs-unlocked@labdata.target' "$T/lims.service"
	grep -qx 'After=lethefs-unlocked@labdata.target' "$T/lims.service"
	grep -qx 'Requires=lethefs-unlock@%i.service' "$T/lethefs-unlocked@.target"
	grep -qx 'After=lethefs-unlock@%i.service' "$T/lethefs-unlocked@.target"
	grep -qx 'After=lethefs@%i.service' "$T/lethefs-unlock@.service"
	grep -qx 'Type=notify' "$T/lethefs@.service"
	grep -q '^ExecStart=.* mount -f --locked ' "$T/lethefs@.service"
}

@test "make install puts every file a unit's Documentation= names where it points" {
	make -s -C "$TOP" install DESTDIR="$T/root" PREFIX=/usr/local BUILD="$(dirname "$LETHEFS")" \
		DEPS=no >/dev/null
	docs=$(sed -n 's/^Documentation=//p' "$T"/root/usr/local/lib/systemd/system/* | tr ' ' '\n' |
		sort -u)
	echo "$docs"
	[ "$(echo "$docs" | grep -c '^file:')" -ge 3 ]
	for d in $docs; do
		case $d in
		file:*) [ -f "$T/root${d#file:}" ] || { echo "missing ${d#file:}"; return 1; } ;;
		man:lethefs\(1\)) [ -f "$T/root/usr/local/share/man/man1/lethefs.1" ] ;;
		*) echo "unexpected $d"; return 1 ;;
		esac
	done
	[ -x "$T/root/usr/local/lib/lethefs/boot-unlock.sh" ]
	grep -q '^ExecStart=/usr/local/lib/lethefs/boot-unlock.sh %i$' \
		"$T/root/usr/local/lib/systemd/system/lethefs-unlock@.service"
}

# --- the pieces of the boot path, on real mounts ---

# A password agent as systemd's are: it watches /run/systemd/ask-password
# for questions whose Id is ours and answers each with the next line of
# $T/answers ("-" cancels), logging each question's message to $T/asked.
start_agent() {
	python3 - "$1" "$T/answers" "$T/asked" <<'PY' &
import configparser, os, socket, sys, time
want, answers_file, log = sys.argv[1:4]
answers = open(answers_file).read().splitlines()
d = "/run/systemd/ask-password"
seen = set()
while answers:
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        names = []
    for f in sorted(names):
        if not f.startswith("ask.") or f in seen:
            continue
        cp = configparser.ConfigParser(interpolation=None)
        try:
            cp.read(os.path.join(d, f))
            ask = cp["Ask"]
        except Exception:
            continue
        if ask.get("Id") != want:
            continue
        seen.add(f)
        a = answers.pop(0)
        with open(log, "a") as o:
            o.write(ask.get("Message", "") + "\n")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"-" if a == "-" else b"+" + a.encode(), ask["Socket"])
        s.close()
    time.sleep(0.05)
PY
	AGENT=$!
}

# Runs the unlock unit's script as the unit would: the env file's
# variables, the unit's LETHEFS, no terminal.
boot_unlock() {
	env -i PATH="$PATH" MOUNTPOINT="$MNT" LETHEFS="$LETHEFS" "$@" \
		sh "$TOP/scripts/boot-unlock.sh" "$NAME" </dev/null
}

locked_mount() {
	setup_vault
	NAME=lfssa$$x$RANDOM
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
}

@test "boot-unlock asks through systemd-ask-password: a wrong passphrase, then the right one" {
	command -v systemd-ask-password >/dev/null || skip "systemd-ask-password not installed"
	locked_mount
	printf 'wrong-one\n%s\n' "$PASS" >"$T/answers"
	start_agent "lethefs:$NAME"
	run boot_unlock
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"wrong passphrase, try 2 of 3"* ]]
	run "$LETHEFS" status --check "$MNT"
	[ "$status" -eq 0 ]
	[ "$output" = unlocked ]
	# The question names the volume and its mountpoint.
	[ "$(grep -c "Passphrase for lethefs volume $NAME ($MNT):" "$T/asked")" -eq 2 ]
	# The daemon audited one failure, then the success.
	outcomes=$(grep '"event":"unlock"' "$VAULT/lethefs.audit" | grep -o '"outcome":"[a-z]*"' |
		tr '\n' ' ')
	[ "$outcomes" = '"outcome":"failure" "outcome":"success" ' ]
	# Run again (a restart of the unit): nothing asked, exit 0.
	: >"$T/asked"
	run boot_unlock
	[ "$status" -eq 0 ]
	[[ "$output" == *"already unlocked"* ]]
	[ ! -s "$T/asked" ]
}

@test "boot-unlock: the tries run out (exit 3, still locked); a cancelled question sends nothing" {
	command -v systemd-ask-password >/dev/null || skip "systemd-ask-password not installed"
	locked_mount
	printf 'bad-1\nbad-2\n' >"$T/answers"
	start_agent "lethefs:$NAME"
	run boot_unlock LETHEFS_UNLOCK_TRIES=2
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"stays locked"* ]]
	run "$LETHEFS" status --check "$MNT"
	[ "$status" -eq 14 ]
	wait "$AGENT" || true
	# Cancelled at the console: lethefs unlock gets no secret and sends
	# nothing, so the daemon records no failed attempt.
	before=$("$LETHEFS" status --json "$MNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed_unlocks"])')
	[ "$before" -eq 2 ]
	printf -- '-\n' >"$T/answers"
	start_agent "lethefs:$NAME"
	run boot_unlock LETHEFS_UNLOCK_TRIES=1
	echo "$output"
	[ "$status" -eq 1 ]
	after=$("$LETHEFS" status --json "$MNT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed_unlocks"])')
	[ "$after" -eq 2 ]
	run "$LETHEFS" status --check "$MNT"
	[ "$status" -eq 14 ]
}

@test "boot-unlock takes a credential (LoadCredential=) without asking, a key provider, a key file" {
	command -v systemd-ask-password >/dev/null || skip "systemd-ask-password not installed"
	locked_mount
	# A credential directory as systemd sets it up for the service.
	mkdir -m 0700 "$T/creds"
	printf '%s\n' "$PASS" >"$T/creds/lethefs.passphrase"
	run boot_unlock CREDENTIALS_DIRECTORY="$T/creds"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$("$LETHEFS" status --check "$MNT")" = unlocked ]
	"$LETHEFS" lock "$MNT" >/dev/null
	# A key provider (clevis decrypt in real life): its output is the secret.
	run boot_unlock LETHEFS_UNLOCK_EXTPASS="cat '$T/pass'"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$("$LETHEFS" status --check "$MNT")" = unlocked ]
	"$LETHEFS" lock "$MNT" >/dev/null
	# A failing provider is retried (tang not reachable yet), then given up.
	run boot_unlock LETHEFS_UNLOCK_EXTPASS=false LETHEFS_UNLOCK_TRIES=2
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"key provider failed, trying again"* ]]
	# A key file slot.
	head -c 64 /dev/urandom >"$T/key"
	"$LETHEFS" keyslot add --passfile "$T/pass" --new-keyfile "$T/key" "${KDF[@]}" "$VAULT" >/dev/null 2>&1
	run boot_unlock LETHEFS_UNLOCK_KEYFILE="$T/key"
	[ "$status" -eq 0 ]
	[ "$("$LETHEFS" status --check "$MNT")" = unlocked ]
}

@test "boot-unlock: a mountpoint or name with shell syntax is a value, never shell text" {
	command -v systemd-ask-password >/dev/null || skip "systemd-ask-password not installed"
	setup_vault
	rmdir "$MNT"
	MNT="$T/mnt \$(touch pwned)\`touch pwned2\`"
	mkdir "$MNT"
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	NAME='x$(touch pwned3)'
	mkdir -m 0700 "$T/creds"
	printf '%s' "$PASS" >"$T/creds/lethefs.passphrase"
	cd "$T"
	run boot_unlock CREDENTIALS_DIRECTORY="$T/creds"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$("$LETHEFS" status --check "$MNT")" = unlocked ]
	for f in "$T/pwned" "$T/pwned2" "$T/pwned3" /pwned /pwned3; do
		[ ! -e "$f" ] || { echo "$f was created"; rm -f "$f"; return 1; }
	done
}

@test "boot-unlock: no mount (exit 11), no MOUNTPOINT or bad settings (exit 2)" {
	NAME=lfssa-none
	MNT=$T/nothing
	mkdir "$MNT"
	run boot_unlock
	[ "$status" -eq 11 ]
	run env -i PATH="$PATH" sh "$TOP/scripts/boot-unlock.sh" x </dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"MOUNTPOINT is not set"* ]]
	run boot_unlock LETHEFS_UNLOCK_TRIES=0
	[ "$status" -eq 2 ]
	run boot_unlock LETHEFS_UNLOCK_TIMEOUT=soon
	[ "$status" -eq 2 ]
}

# A NOTIFY_SOCKET as systemd provides it to a Type=notify service; every
# datagram is appended to $T/notify.log, one message per line.
start_notify_listener() {
	python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode()
    with open(sys.argv[2], "a") as o:
        o.write(msg.replace("\n", " ") + "\n")
PY
	NOTIFY=$!
	for _ in $(seq 50); do [ -S "$T/notify.sock" ] && return 0; sleep 0.1; done
	return 1
}

@test "the daemon tells systemd READY=1 once it serves, STATUS at lock/unlock, STOPPING=1 at unmount" {
	setup_vault
	start_notify_listener
	NOTIFY_SOCKET=$T/notify.sock "$LETHEFS" mount -f --locked "$VAULT" "$MNT" 2>"$T/daemon.log" &
	daemon=$!
	for _ in $(seq 100); do grep -q READY=1 "$T/notify.log" 2>/dev/null && break; sleep 0.1; done
	cat "$T/notify.log"
	grep -q "READY=1 MAINPID=$daemon STATUS=Serving $MNT (locked)" "$T/notify.log"
	# READY means served: the mount, its control socket and registry entry
	# are there at that moment (a unit ordered after it may use them).
	mountpoint -q "$MNT"
	run "$LETHEFS" status --check "$MNT"
	[ "$status" -eq 14 ]
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT" >/dev/null
	grep -q "STATUS=Serving $MNT (unlocked)" "$T/notify.log"
	"$LETHEFS" lock "$MNT" >/dev/null
	[ "$(grep -c "STATUS=Serving $MNT (locked)" "$T/notify.log")" -eq 2 ]
	"$LETHEFS" umount "$MNT"
	wait "$daemon"
	grep -q "STOPPING=1 STATUS=Unmounted $MNT" "$T/notify.log"
	# Exactly one READY.
	[ "$(grep -c READY=1 "$T/notify.log")" -eq 1 ]
}

@test "without NOTIFY_SOCKET nothing is sent and the mount works as before" {
	setup_vault
	env -u NOTIFY_SOCKET "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo hi >"$MNT/f"
	[ "$(cat "$MNT/f")" = hi ]
}

@test "status --check: 0 unlocked, 14 locked, 11 not mounted; --quiet prints nothing" {
	setup_vault
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	run "$LETHEFS" status --check "$MNT"
	[ "$status" -eq 14 ]
	[ "$output" = locked ]
	run "$LETHEFS" status --check --quiet "$MNT"
	[ "$status" -eq 14 ]
	[ -z "$output" ]
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT" >/dev/null
	run "$LETHEFS" status --check -q "$MNT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$LETHEFS" status --check "$T"
	[ "$status" -eq 11 ]
	run "$LETHEFS" status --check --json "$MNT"
	[ "$status" -eq 2 ]
	run "$LETHEFS" status --timeout 5s "$MNT"
	[ "$status" -eq 2 ]
}

@test "status --wait-unlocked waits for the mount and the unlock; --timeout gives the state's code" {
	setup_vault
	# Not mounted yet: waited for (timeout: 11).
	SECONDS=0
	run "$LETHEFS" status --wait-unlocked --timeout 2s "$MNT"
	echo "$output"
	[ "$status" -eq 11 ]
	[ "$SECONDS" -ge 2 ]
	[ "$SECONDS" -le 8 ]
	# The reason is printed once, not once per poll.
	[ "$(echo "$output" | grep -c 'not a mounted lethefs volume')" -eq 1 ]
	# Mounted and unlocked later: returns once unlocked.
	("$LETHEFS" mount --locked "$VAULT" "$MNT" && sleep 2 &&
		"$LETHEFS" unlock --passfile "$T/pass" "$MNT" >/dev/null) &
	bg=$!
	run "$LETHEFS" status --wait-unlocked --timeout 60 "$MNT"
	wait "$bg"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = unlocked ]
	# Locked: a timeout gives 14.
	"$LETHEFS" lock "$MNT" >/dev/null
	run "$LETHEFS" status --wait-unlocked --timeout 1 -q "$MNT"
	echo "$output"
	[ "$status" -eq 14 ]
	[[ "$output" == *"still locked"* ]]
}

@test "status --prometheus: one family per metric, a sample per mount, lethefs_up 0 for a dead one" {
	setup_vault
	mount_vault
	echo data >"$MNT/f"
	run "$LETHEFS" status --prometheus "$MNT" "$T/nothing"
	echo "$output"
	[ "$status" -eq 0 ]
	"$LETHEFS" status --prometheus "$MNT" "$T/nothing" 2>/dev/null >"$T/prom"
	real=$(readlink -f "$MNT")
	echo "$output" | grep -qx "lethefs_up{mountpoint=\"$real\"} 1"
	echo "$output" | grep -qx "lethefs_up{mountpoint=\"$T/nothing\"} 0"
	echo "$output" | grep -qx "lethefs_unlocked{mountpoint=\"$real\"} 1"
	echo "$output" | grep -qx "lethefs_failed_unlocks{mountpoint=\"$real\"} 0"
	echo "$output" | grep -q "^lethefs_audit_seq{mountpoint=\"$real\"} [1-9][0-9]*$"
	echo "$output" | grep -qx "lethefs_rotation_state{mountpoint=\"$real\",state=\"idle\"} 1"
	echo "$output" | grep -q "^lethefs_mounted_since_timestamp_seconds{mountpoint=\"$real\"} 1[0-9]\{9\}$"
	# Valid exposition format: each family's HELP and TYPE once, before its
	# samples; every sample line is NAME{labels} NUMBER.
	python3 -c '
import re, sys
seen, cur = set(), None
for line in sys.stdin.read().splitlines():
    m = re.match(r"# (HELP|TYPE) (\w+) ", line)
    if m:
        if m.group(1) == "HELP":
            assert m.group(2) not in seen, line
            seen.add(m.group(2)); cur = m.group(2)
        continue
    m = re.fullmatch(r"(\w+)\{mountpoint=\"[^\"]*\"(,\w+=\"[^\"]*\")*\} -?[0-9.e+]+", line)
    assert m and m.group(1) == cur, line
' <"$T/prom"
	# The audit seq is the head's, and moves with the log.
	seq1=$(echo "$output" | sed -n 's/^lethefs_audit_seq{.*} //p')
	"$LETHEFS" lock --force "$MNT" >/dev/null
	seq2=$("$LETHEFS" status --prometheus "$MNT" | sed -n 's/^lethefs_audit_seq{.*} //p')
	[ "$seq2" -gt "$seq1" ]
	"$LETHEFS" status --prometheus "$MNT" | grep -qx "lethefs_unlocked{mountpoint=\"$real\"} 0"
}
