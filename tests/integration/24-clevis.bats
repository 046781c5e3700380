#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Network-bound unlock: an extpass keyslot whose secret clevis recovers
# from a tang server (running here on loopback), so a fleet of servers can
# unlock at boot without a typed passphrase; and clevis sss thresholds.

load helpers

setup() {
	command -v clevis >/dev/null && [ -x /usr/libexec/tangd ] && command -v socat >/dev/null ||
		skip "clevis, tang or socat not installed"
	setup_vault
	TANGS=()
}
teardown() {
	for p in "${TANGS[@]}"; do kill "$p" 2>/dev/null || true; done
	teardown_vault
}

# Starts a tang server on a free loopback port; sets PORT.
start_tang() {
	local db=$T/tang$1
	mkdir -p "$db"
	[ "$(ls "$db" | wc -l)" -gt 0 ] || /usr/libexec/tangd-keygen "$db"
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	socat TCP-LISTEN:"$PORT",bind=127.0.0.1,reuseaddr,fork EXEC:"/usr/libexec/tangd $db" 2>/dev/null &
	TANGS+=($!)
	for _ in $(seq 50); do
		curl -fs "http://127.0.0.1:$PORT/adv" >/dev/null 2>&1 && return 0
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

@test "a clevis/tang extpass slot unlocks a locked mount; with tang down it cannot" {
	start_tang a
	head -c 48 /dev/urandom | base64 -w0 >"$T/slot-secret"
	clevis encrypt tang "{\"url\":\"http://127.0.0.1:$PORT\"}" -y <"$T/slot-secret" >"$T/slot.jwe"
	rm "$T/slot-secret" # only the JWE stays on the server's disk
	"$LETHEFS" keyslot add --new-extpass "clevis decrypt <'$T/slot.jwe'" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
		--passfile "$T/pass" "$VAULT"
	"$LETHEFS" keyslot list --json "$VAULT" | grep -q '"extpass"'
	"$LETHEFS" mount --locked "$VAULT" "$MNT"
	"$LETHEFS" unlock --extpass "clevis decrypt <'$T/slot.jwe'" "$MNT"
	echo bound >"$MNT/f"
	"$LETHEFS" lock "$MNT"
	# The network is part of the key: without the tang server, no unlock.
	kill "${TANGS[0]}"
	wait "${TANGS[0]}" 2>/dev/null || true
	run "$LETHEFS" unlock --extpass "clevis decrypt <'$T/slot.jwe'" "$MNT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"extpass"* ]]
	"$LETHEFS" status --json "$MNT" | grep -q '"state":"locked"'
	# A typed passphrase still works (the slots are independent).
	"$LETHEFS" unlock --passfile "$T/pass" "$MNT"
	[ "$(cat "$MNT/f")" = bound ]
}

@test "clevis sss: threshold 2 of 2 tang servers fails with one down, 1 of 2 succeeds" {
	start_tang a
	p1=$PORT
	start_tang b
	p2=$PORT
	head -c 48 /dev/urandom | base64 -w0 >"$T/s"
	cfg() { echo "{\"t\":$1,\"pins\":{\"tang\":[{\"url\":\"http://127.0.0.1:$p1\"},{\"url\":\"http://127.0.0.1:$p2\"}]}}"; }
	clevis encrypt sss "$(cfg 2)" -y <"$T/s" >"$T/both.jwe"
	clevis encrypt sss "$(cfg 1)" -y <"$T/s" >"$T/either.jwe"
	"$LETHEFS" keyslot add --new-keyfile "$T/s" --passfile "$T/pass" "$VAULT" >/dev/null
	kill "${TANGS[1]}"
	wait "${TANGS[1]}" 2>/dev/null || true
	# 2 of 2 with one server down: the secret cannot be recovered.
	run sh -c "clevis decrypt <'$T/both.jwe' >'$T/nothing'"
	[ "$status" -ne 0 ]
	[ ! -s "$T/nothing" ]
	clevis decrypt <"$T/either.jwe" >"$T/recovered"
	"$LETHEFS" mount --keyfile "$T/recovered" "$VAULT" "$MNT"
	mountpoint -q "$MNT"
}
