#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Attacks on the control socket (issue 11): whoever can write the vault
# (lethefs.conf is not authenticated) or another local user tries to
# receive the unlock secret, or to keep root from locking the volume.
# Listeners run as another uid through setpriv; nothing may reach them.

load helpers

PY=/usr/bin/python3
GROUP=lfssec-adm
USER1=lfssec-u1

setup() {
	setup_vault
	# A directory only root can write, outside world-writable /tmp.
	RUNT=$(mktemp -d /run/lfssec-test.XXXXXX)
	chmod 755 "$RUNT"
	mkdir -p "$T/evil"
	chown nobody:nogroup "$T/evil"
	chmod 755 "$T"
}

teardown() {
	[ -n "${LISTENER:-}" ] && kill "$LISTENER" 2>/dev/null || true
	for p in ${SLOW_PIDS:-}; do kill "$p" 2>/dev/null || true; done
	rm -rf "$RUNT"
	teardown_vault
	if getent passwd "$USER1" >/dev/null; then userdel "$USER1" 2>/dev/null || true; fi
	if getent group "$GROUP" >/dev/null; then groupdel "$GROUP" 2>/dev/null || true; fi
}

# A listener that records every byte it is sent to $2 and answers like a
# daemon that accepted an unlock. Runs as the user given in $3 (or root).
start_listener() {
	local sock=$1 got=$2 who=${3:-}
	cat >"$T/listen.py" <<'PY'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o777)
s.listen(4)
while True:
    c, _ = s.accept()
    c.settimeout(2)
    data = b""
    try:
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
            if b"\n" in data and len(data.split(b"\n", 1)[1]) >= 0:
                c.sendall(b'{"ok":true,"state":"unlocked","slot":0}\n')
                break
    except Exception:
        pass
    with open(out, "ab") as f:
        f.write(data)
    c.close()
PY
	chmod 644 "$T/listen.py"
	if [ -n "$who" ]; then
		setpriv --reuid "$who" --regid nogroup --clear-groups "$PY" "$T/listen.py" "$sock" "$got" &
	else
		"$PY" "$T/listen.py" "$sock" "$got" &
	fi
	LISTENER=$!
	for _ in $(seq 50); do [ -S "$sock" ] && return 0; sleep 0.1; done
	return 1
}

@test "attack: control_socket planted in lethefs.conf after the mount gets nothing; unlock reaches the daemon" {
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	printf '[access]\ncontrol_socket = %s/evil/x.sock\n' "$T" >>"$VAULT/lethefs.conf"
	touch "$T/evil/got" && chown nobody "$T/evil/got"
	start_listener "$T/evil/x.sock" "$T/evil/got" nobody
	run "$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -s "$T/evil/got" ]
	run "$LETHEFS" status --json "$MNT"
	[[ "$output" == *'"state":"unlocked"'* ]]
	[[ "$output" != *"evil"* ]]
}

@test "attack: --socket to another user's listener is refused (exit 20), nothing sent, not even a recovery key" {
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	touch "$T/evil/got" && chown nobody "$T/evil/got"
	start_listener "$T/evil/x.sock" "$T/evil/got" nobody
	run "$LETHEFS" unlock --passfile "$T/pass" --socket "$T/evil/x.sock" "$MNT"
	echo "$output"
	[ "$status" -eq 20 ]
	[[ "$output" == *"cannot be trusted"* ]]
	"$LETHEFS" key export --passfile "$T/pass" "$VAULT" >"$T/rk"
	run "$LETHEFS" unlock --recovery-key --passfile "$T/rk" --socket "$T/evil/x.sock" "$MNT"
	[ "$status" -eq 20 ]
	[ ! -s "$T/evil/got" ]
	run "$LETHEFS" status --json "$MNT"
	[[ "$output" == *'"state":"locked"'* ]]
}

@test "attack: another uid's listener behind a root-owned path is refused by SO_PEERCRED" {
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	touch "$T/evil/got" && chown nobody "$T/evil/got"
	# The attacker binds in its own directory; the socket then sits in a
	# root-only directory under root's name (as after a careless mv/chown).
	start_listener "$T/evil/x.sock" "$T/evil/got" nobody
	mv "$T/evil/x.sock" "$RUNT/x.sock"
	chown root:root "$RUNT/x.sock"
	run "$LETHEFS" unlock --passfile "$T/pass" --socket "$RUNT/x.sock" "$MNT"
	echo "$output"
	[ "$status" -eq 20 ]
	[[ "$output" == *"not by root: nothing was sent"* ]]
	[ ! -s "$T/evil/got" ]
}

@test "attack: a root listener that is not the mount's daemon (registry names another pid) is refused" {
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	start_listener "$RUNT/x.sock" "$RUNT/got"
	local entry daemon_pid
	entry=/run/lethefs/mount-$("$PY" -c 'import hashlib,sys; print(hashlib.blake2b(sys.argv[1].encode(), digest_size=16).hexdigest())' "$(realpath "$MNT")")
	[ -f "$entry" ]
	cp "$entry" "$T/entry.saved"
	daemon_pid=$(sed -n 's/^pid //p' "$entry")
	printf 'lethefs-mount 1\npid %s\nsocket %s\nmountpoint %s\n' "$daemon_pid" "$RUNT/x.sock" \
		"$(realpath "$MNT")" >"$entry"
	run "$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	cp "$T/entry.saved" "$entry"
	echo "$output"
	[ "$status" -eq 20 ]
	[[ "$output" == *"not by the mount's daemon (pid $daemon_pid): nothing was sent"* ]]
	[ ! -s "$RUNT/got" ]
}

@test "a registry another user can write is not believed" {
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	local entry
	entry=/run/lethefs/mount-$("$PY" -c 'import hashlib,sys; print(hashlib.blake2b(sys.argv[1].encode(), digest_size=16).hexdigest())' "$(realpath "$MNT")")
	chown nobody "$entry"
	run "$LETHEFS" status "$MNT"
	chown root "$entry"
	echo "$output"
	[ "$status" -eq 20 ]
	[[ "$output" == *"not root's alone"* ]]
	"$LETHEFS" status "$MNT"
}

@test "attack: mount refuses a configured control_socket in a directory another user can write" {
	printf '[access]\ncontrol_socket = %s/evil/x.sock\n' "$T" >>"$VAULT/lethefs.conf"
	run "$LETHEFS" mount --locked "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"control_socket = $T/evil/x.sock is refused"*"/tmp"*"writable by nobody else"* ]]
	assert_not_mounted "$MNT"
}

@test "a configured control_socket in a root-only directory works, found without reading the vault" {
	printf '[access]\ncontrol_socket = %s/ctl.sock\n' "$RUNT" >>"$VAULT/lethefs.conf"
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	# The vault is unreadable from here on: the client must not need it.
	chmod 000 "$VAULT/lethefs.conf"
	run "$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	chmod 600 "$VAULT/lethefs.conf"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$LETHEFS" status --json --socket "$RUNT/ctl.sock" "$MNT"
	[[ "$output" == *"\"control_socket\":\"$RUNT/ctl.sock\""* ]]
}

@test "/run/lethefs is corrected to root 0755 at mount" {
	chmod 0777 /run/lethefs
	mount_vault
	[ "$(stat -c '%a %U' /run/lethefs)" = "755 root" ]
}

# --- under load ------------------------------------------------------------

make_admin() {
	groupadd "$GROUP"
	useradd -M -N -g "$GROUP" -s /bin/sh "$USER1"
	printf '[access]\nadmin_group = %s\n' "$GROUP" >>"$VAULT/lethefs.conf"
}

# $1 connections as USER1 to socket $2, each sending one byte of a status
# request every 8 s; each writes "<seconds held>" to $T/slow.N when the
# daemon drops it.
start_slow_clients() {
	cat >"$T/slow.py" <<'PY'
import socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
t0 = time.monotonic()
req = b"lethefs-ctl 1 status\n"
try:
    for b in req:
        s.send(bytes([b]))
        s.settimeout(8)
        try:
            if s.recv(4096) == b"":
                break
            break
        except socket.timeout:
            pass
except OSError:
    pass
open(out, "w").write("%.1f\n" % (time.monotonic() - t0))
PY
	chmod 644 "$T/slow.py"
	SLOW_PIDS=
	for i in $(seq "$1"); do
		runuser -u "$USER1" -- "$PY" "$T/slow.py" "$2" "$T/slow.$i" &
		SLOW_PIDS="$SLOW_PIDS $!"
	done
}

@test "attack: eight slow admin clients do not keep root from status and lock; a ninth gets exit 21" {
	make_admin
	chmod 777 "$T"
	mount_vault
	local sock
	sock=$("$LETHEFS" status --json "$MNT" | sed 's/.*"control_socket":"\([^"]*\)".*/\1/')
	start_slow_clients 8 "$sock"
	sleep 2
	run runuser -u "$USER1" -- "$LETHEFS" status "$MNT"
	echo "admin: $output"
	[ "$status" -eq 21 ]
	[[ "$output" == *"too many control connections"* ]]
	run "$LETHEFS" status "$MNT"
	echo "root status: $output"
	[ "$status" -eq 0 ]
	run "$LETHEFS" lock "$MNT"
	echo "root lock: $output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Locked"* ]]
}

@test "attack: a client trickling one byte every 8 s is dropped at the 10 s request deadline" {
	make_admin
	chmod 777 "$T"
	mount_vault
	local sock
	sock=$("$LETHEFS" status --json "$MNT" | sed 's/.*"control_socket":"\([^"]*\)".*/\1/')
	start_slow_clients 1 "$sock"
	for _ in $(seq 300); do [ -s "$T/slow.1" ] && break; sleep 0.1; done
	cat "$T/slow.1"
	held=$(cut -d. -f1 "$T/slow.1")
	[ "$held" -ge 9 ] && [ "$held" -le 12 ]
}

@test "/run/lethefs is created root 0755 whatever the umask" {
	# A private /run, so that the host's /run/lethefs stays as it is.
	run unshare -m --propagation private sh -ec "
		mount -t tmpfs -o mode=755 tmpfs /run
		umask 077
		'$LETHEFS' mount --locked '$VAULT' '$MNT'
		stat -c '%a %U' /run/lethefs
		stat -c '%a %U' /run/lethefs/mount-*
		'$LETHEFS' status '$MNT' | head -n 1
		umount '$MNT'"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "755 root" ]
	[ "${lines[1]}" = "644 root" ]
	[[ "${lines[2]}" == *": locked" ]]
	for _ in $(seq 50); do pgrep -f "lethefs mount --locked $VAULT" >/dev/null || break; sleep 0.1; done
}
