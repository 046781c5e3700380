#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# docs/CLI-ABI.md pins the scripting interface: its exit-code table must
# match `lethefs --help` and cli/cli.h, and its list of status members must
# be exactly what a live daemon answers.

load helpers

setup() { setup_vault; }
teardown() { teardown_vault; }

DOC=$BATS_TEST_DIRNAME/../../docs/CLI-ABI.md

section() { sed -n "/<!-- $1: begin -->/,/<!-- $1: end -->/p" "$DOC"; }

@test "the documented exit codes are those of lethefs --help and cli/cli.h" {
	doc=$(section exit-codes | sed -n 's/^| \([0-9][0-9]*\) |.*/\1/p' | sort -n | tr '\n' ' ')
	help=$("$LETHEFS" --help | sed -n '/Exit codes/,$p' | sed -n 's/^ *\([0-9][0-9]*\)  .*/\1/p' |
		sort -n | tr '\n' ' ')
	header=$(sed -n 's/.*LFS_EXIT_[A-Z_]* = \([0-9][0-9]*\),.*/\1/p' \
		"$BATS_TEST_DIRNAME/../../cli/cli.h" | sort -n | tr '\n' ' ')
	echo "doc:    $doc"
	echo "help:   $help"
	echo "header: $header"
	[ -n "$doc" ]
	[ "$doc" = "$help" ]
	[ "$doc" = "$header" ]
}

@test "status --json has exactly the documented members" {
	mount_vault
	doc=$(section status-members | grep -v '^<!--\|^```' | tr ' ' '\n' | grep . | sort | tr '\n' ' ')
	live=$("$LETHEFS" status --json "$MNT" |
		python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin))))')
	echo "doc:  $doc"
	echo "live: $live"
	[ "$doc" = "$live " ]
}

@test "every command and subcommand answers --help with its usage, exit 0" {
	cmds=$("$LETHEFS" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z-]*\) .*/\1/p')
	[ "$(echo "$cmds" | wc -l)" -ge 15 ]
	for c in $cmds "stage create" "stage list" "stage shred" "stage extend" \
		"keyslot list" "keyslot add" "keyslot remove" "key export" "audit verify" "audit show"; do
		run $LETHEFS $c --help
		echo "$c: $status ${lines[0]}"
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "Usage: lethefs ${c%% *}"* ]]
	done
}

@test "the man pages render without warnings and name every command" {
	top=$BATS_TEST_DIRNAME/../..
	for page in "$top/man/lethefs.1" "$top/man/lethefs.conf.5"; do
		run groff -man -ww -z "$page"
		echo "$output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
	cmds=$("$LETHEFS" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z-]*\) .*/\1/p')
	text=$(MANWIDTH=200 man -l "$top/man/lethefs.1" 2>/dev/null)
	for c in $cmds; do
		echo "$text" | grep -q "^       $c" || { echo "lethefs(1) lacks $c"; return 1; }
	done
	# And every section and key of the configuration is in lethefs.conf(5).
	conf=$(MANWIDTH=200 man -l "$top/man/lethefs.conf.5" 2>/dev/null)
	for k in $(sed -n 's/^\t{"\([a-z]*\)", "\([a-z_]*\)", SEEN_.*/\2/p' "$top/keymgmt/config.c"); do
		echo "$conf" | grep -q "$k" || { echo "lethefs.conf(5) lacks $k"; return 1; }
	done
}

# Runs the completion function for a command line (the last word is the
# one being completed) and prints the candidates.
complete_line() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_lethefs; printf "%s\n" "${COMPREPLY[@]}"' _ \
		"$BATS_TEST_DIRNAME/../../dist/bash-completion/lethefs" "$@"
}

@test "bash completion offers commands, subcommands and each command's options" {
	run complete_line "$LETHEFS" ""
	[[ "$output" == *unlock* && "$output" == *shred-expired* && "$output" == *rekey* ]]
	run complete_line "$LETHEFS" st
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "stage status " ]
	run complete_line "$LETHEFS" stage ""
	[ "$(echo "$output" | tr '\n' ' ')" = "create list shred extend " ]
	run complete_line "$LETHEFS" lock --
	[[ "$output" == *--force* && "$output" == *--socket* ]]
	run complete_line "$LETHEFS" init --cipher ""
	[[ "$output" == *aes256gcm* ]]
	run complete_line "$LETHEFS" mount --lo
	[ "$output" = --locked ]
}
