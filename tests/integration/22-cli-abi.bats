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
	for s in create list show shred extend; do echo "$output" | grep -qx "$s"; done
	run complete_line "$LETHEFS" keyslot ""
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "add list remove " ]
	run complete_line "$LETHEFS" lock --
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "--batch --force --help --socket " ]
	run complete_line "$LETHEFS" init --cipher ""
	[[ "$output" == *aes256gcm* ]]
	run complete_line "$LETHEFS" mount --lo
	[ "$output" = --locked ]
	run complete_line "$LETHEFS" keyslot remove --
	echo "$output" | grep -qx -- --slot
	echo "$output" | grep -qx -- --passfile
	! echo "$output" | grep -qx -- --new-passfile || return 1
	# An option's value: a file for --passfile.
	touch "$T/somefile"
	run complete_line "$LETHEFS" unlock --passfile "$T/somef"
	[ "$output" = "$T/somefile" ]
}

# Runs the zsh completion function for a command line (the last word is
# the one being completed) with stand-ins for zsh's completion builtins
# that print the candidates, one per line.
complete_zsh() {
	zsh -f -c '
		compadd() { if [[ $1 == -a ]]; then print -l -- ${(P)2}; else print -l -- "$@"; fi }
		_describe() { print -l -- ${${(P)4}%%:*} }
		_files() { print -- "<files $*>" }
		words=("${@:2}"); CURRENT=$(( $# - 1 ))
		source "$1"' _ "$BATS_TEST_DIRNAME/../../dist/zsh-completion/_lethefs" "$@"
}

@test "zsh completion offers the same commands, subcommands and options" {
	command -v zsh >/dev/null || skip "zsh not installed"
	run complete_zsh "$LETHEFS" ""
	echo "$output"
	echo "$output" | grep -qx unlock
	echo "$output" | grep -qx shred-expired
	[ "$(echo "$output" | wc -l)" -eq "$(complete_line "$LETHEFS" "" | grep -vc '^-')" ]
	run complete_zsh "$LETHEFS" keyslot ""
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "add list remove " ]
	run complete_zsh "$LETHEFS" lock --
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "--batch --force --help --socket -h -q " ]
	run complete_zsh "$LETHEFS" init --cipher ""
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "aes256gcm xchacha20poly1305 " ]
	run complete_zsh "$LETHEFS" unlock --passfile ""
	[ "$output" = "<files >" ]
	for c in "mount" "keyslot add" "status" "rotate"; do
		z=$(complete_zsh "$LETHEFS" $c - | grep '^--' | sort)
		b=$(complete_line "$LETHEFS" $c - | grep '^--' | sort)
		[ "$z" = "$b" ] || { echo "$c: zsh and bash differ"; return 1; }
	done
}

# Every command and subcommand, as "cmd" or "cmd sub", from --help.
all_commands() {
	for c in $("$LETHEFS" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
		subs=$("$LETHEFS" "$c" --help 2>/dev/null |
			sed -n "s/^\(Usage:\)\{0,1\} *lethefs $c \([a-z][a-z-]*\).*/\2/p" | sort -u)
		if [ -n "$subs" ]; then
			for s in $subs; do echo "$c $s"; done
		else
			echo "$c"
		fi
	done
}

@test "completion offers exactly the options each command's --help documents" {
	n=0
	while read -r c; do
		table=$("$LETHEFS" __complete $c | grep '^--' | sed 's/=$//' | grep -vx -- --help | sort -u)
		doc=$("$LETHEFS" $c --help | grep -o -- '--[a-z][a-z-]*' | grep -vx -- --help | sort -u)
		# A help may mention another command's option in its prose; only its
		# option lines count. A help shared by several subcommands (stage's)
		# lists theirs too: only the first direction is checked there.
		missing=$(comm -23 <(echo "$table") <(echo "$doc"))
		extra=
		if [ "$("$LETHEFS" $c --help | grep -c "^ *\(Usage: \)\{0,1\}lethefs ${c%% *} ")" -le 1 ]; then
			extra=$(comm -13 <(echo "$table") <(echo "$doc") | while read -r o; do
				"$LETHEFS" $c --help | grep -E -- "^ +$o( |,|=|$)" || true; done)
		fi
		if [ -n "$missing" ] || [ -n "$extra" ]; then
			echo "$c: undocumented: $missing; documented but rejected: $extra"
			return 1
		fi
		n=$((n + 1))
	done < <(all_commands)
	[ "$n" -ge 20 ]
}

@test "every option completion offers gets past its command's parser" {
	while read -r c; do
		for o in $("$LETHEFS" __complete $c | grep '^--' | grep -vx -- '--help'); do
			# With '=' the table says it takes a value; "1" is a value most
			# accept. No positional argument follows, so nothing runs.
			run $LETHEFS $c "${o/%=/=1}" </dev/null
			if [[ "$output" == *"unknown option"* || "$output" == *"needs an argument"* ||
				"$output" == *"takes no argument"* || "$output" == *"ambiguous"* ]]; then
				echo "$c $o: $output"
				return 1
			fi
		done
	done < <(all_commands)
}

@test "an unknown command or option: one line naming it, then where the help is; exit 2" {
	run "$LETHEFS" frobnicate
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "lethefs: unknown command 'frobnicate'" ]
	[ "${lines[1]}" = "Try 'lethefs --help'." ]
	run "$LETHEFS" --frobnicate
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "lethefs: unknown option '--frobnicate'" ]
	[ "${#lines[@]}" -eq 2 ]
	run "$LETHEFS" mount --lockd "$T/v" "$T/m"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "lethefs mount: unknown option '--lockd'" ]
	[ "${lines[1]}" = "Try 'lethefs mount --help'." ]
	run "$LETHEFS" keyslot remove --slot
	[ "${lines[0]}" = "lethefs keyslot remove: option '--slot' needs an argument" ]
	[ "${lines[1]}" = "Try 'lethefs keyslot remove --help'." ]
	run "$LETHEFS" status --json=yes "$T"
	[ "${lines[0]}" = "lethefs status: option '--json' takes no argument" ]
	run "$LETHEFS" fsck -z "$T"
	[ "${lines[0]}" = "lethefs fsck: unknown option '-z'" ]
	run "$LETHEFS"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	run "$LETHEFS" -V
	[ "$status" -eq 0 ]
	[[ "$output" == "lethefs "[0-9]* ]]
}

@test "each subcommand of keyslot, audit and key has a help of its own" {
	for c in "keyslot list" "keyslot add" "keyslot remove" "audit verify" "audit show" \
		"key export"; do
		run $LETHEFS $c --help
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "Usage: lethefs $c "* ]] || { echo "$c: ${lines[0]}"; return 1; }
		# Its own: no other subcommand's usage line.
		[ "$(echo "$output" | grep -c "^ *\(Usage: \)\{0,1\}lethefs ${c%% *} ")" -eq 1 ]
	done
}

@test "status --prometheus prints only the metrics docs/CLI-ABI.md lists" {
	mount_vault
	doc=$(section prometheus-metrics | grep -o '`lethefs_[a-z_]*`' | tr -d '`' | sort -u)
	live=$("$LETHEFS" status --prometheus "$MNT" | sed -n 's/^# HELP \([a-z_]*\) .*/\1/p' | sort -u)
	echo "doc: $doc"
	echo "live: $live"
	[ "$(echo "$live" | wc -l)" -ge 20 ]
	extra=$(comm -13 <(echo "$doc") <(echo "$live"))
	[ -z "$extra" ] || { echo "undocumented: $extra"; return 1; }
}

@test "every --json output is compact, one value per line" {
	mount_vault
	echo x >"$MNT/f"
	check() { # command...; every line parses, none has ": " or ", " between tokens
		"$@" >"$T/json" 2>/dev/null || true
		[ -s "$T/json" ] || { echo "no output: $*"; return 1; }
		python3 - "$T/json" "$*" <<'PY'
import json, sys
for line in open(sys.argv[1]).read().splitlines():
    v = json.loads(line)
    assert json.dumps(v, separators=(",", ":"), ensure_ascii=False) == line or \
        line == json.dumps(v, separators=(",", ":")), (sys.argv[2], line)
PY
	}
	check "$LETHEFS" status --json "$MNT"
	check "$LETHEFS" info --json "$VAULT"
	check "$LETHEFS" keyslot list --json "$VAULT"
	check "$LETHEFS" audit show --json "$VAULT"
	check "$LETHEFS" audit verify --no-key --json "$VAULT"
	check "$LETHEFS" rotate --wait --json "$MNT"
	unmount_vault
	check "$LETHEFS" fsck --passfile "$T/pass" --json "$VAULT"
}
