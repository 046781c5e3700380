#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Attacks through the paths in lethefs.conf (issue 11), which is not
# authenticated: whoever can write the vault points [audit] log or
# [access] control_socket where root will then write, create or unlink.

load helpers

setup() {
	setup_vault
	RUNT=$(mktemp -d /run/lfssec-test.XXXXXX)
	chmod 755 "$RUNT"
}

teardown() {
	rm -rf "$RUNT"
	[ -n "${VARLOG_TMP:-}" ] && rm -rf "$VARLOG_TMP"
	[ -n "${VARLOG_MADE:-}" ] && rmdir /var/log/lethefs 2>/dev/null
	teardown_vault
}

conf() { printf '%s\n' "$@" >>"$VAULT/lethefs.conf"; }

@test "attack: [audit] log outside the vault is refused at mount; nothing is created there" {
	mkdir "$T/outside"
	conf '[audit]' "log = $T/outside/x.audit"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"[audit] log = $T/outside/x.audit is refused"*"outside the vault"* ]]
	assert_not_mounted "$MNT"
	# The key commands append there too: not outside the vault either.
	"$LETHEFS" keyslot add --passfile "$T/pass" --new-passfile "$T/pass" "${KDF[@]}" \
		"$VAULT" || true
	[ -z "$(ls -A "$T/outside")" ]
}

@test "attack: [audit] log through '..' or a symlink in the vault is refused; the log itself is never followed" {
	mkdir "$T/outside"
	ln -s "$T/outside" "$VAULT/logs"
	conf '[audit]' 'log = logs/x.audit'
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"must stay inside the vault"* ]]
	sed -i 's|^log = .*|log = d/../../outside/x.audit|' "$VAULT/lethefs.conf"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	[ "$status" -eq 7 ]
	# A symlink as the log file itself: opened with O_NOFOLLOW.
	ln -s "$T/outside/y.audit" "$VAULT/y.audit"
	sed -i 's|^log = .*|log = y.audit|' "$VAULT/lethefs.conf"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -ne 0 ]
	assert_not_mounted "$MNT"
	[ -z "$(ls -A "$T/outside")" ]
}

@test "[audit] log under /var/log/lethefs is accepted while root's alone, refused once writable by others" {
	if [ ! -d /var/log/lethefs ]; then
		mkdir -m 755 /var/log/lethefs
		VARLOG_MADE=1
	fi
	VARLOG_TMP=$(mktemp -d /var/log/lethefs/lfssec.XXXXXX)
	chmod 755 "$VARLOG_TMP"
	conf '[audit]' "log = $VARLOG_TMP/lab.audit"
	mount_vault
	unmount_vault
	[ -f "$VARLOG_TMP/lab.audit" ]
	run "$LETHEFS" audit verify --passfile "$T/pass" "$VAULT"
	[ "$status" -eq 0 ]
	chmod 777 "$VARLOG_TMP"
	run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
	echo "$output"
	[ "$status" -eq 7 ]
	[[ "$output" == *"writable by nobody else"* ]]
}

@test "attack: control_socket naming another user's stale socket: refused, never unlinked" {
	mkdir "$T/evil" && chown nobody "$T/evil" && chmod 755 "$T"
	setpriv --reuid nobody --regid nogroup --clear-groups /usr/bin/python3 -c \
		"import socket; socket.socket(socket.AF_UNIX).bind('$T/evil/s.sock')"
	mv "$T/evil/s.sock" "$RUNT/s.sock"
	echo keep >"$RUNT/file"
	for victim in "$RUNT/s.sock" "$RUNT/file"; do
		sed -i '/^\[access\]/,$d' "$VAULT/lethefs.conf"
		conf '[access]' "control_socket = $victim"
		run "$LETHEFS" mount --passfile "$T/pass" "$VAULT" "$MNT"
		echo "$output"
		[ "$status" -eq 7 ]
		[ -e "$victim" ]
	done
	[ "$(stat -c %U "$RUNT/s.sock")" = nobody ]
}
