#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Data-key rotation for a cron job or systemd timer: check the mount is
# unlocked, rotate, wait, verify. One log line per step on stdout (and to
# syslog with --syslog), in a form alerting systems can match:
#   lethefs-rotate: level=info msg="..." mountpoint=... [key=value ...]
#
# Usage: rotate-keys.sh [--syslog] MOUNTPOINT
# Exit codes: 0 rotated and verified, 2 usage, 3 not a lethefs mount (or
# daemon not answering), 4 locked, 5 rotation failed, 6 verification failed,
# 7 rotation paused: the backing store is full (free space and run again).
set -u
LETHEFS=${LETHEFS:-lethefs}
SYSLOG=0
if [[ ${1:-} == --syslog ]]; then
	SYSLOG=1
	shift
fi
if [[ $# -ne 1 || $1 == -* ]]; then
	echo "usage: $0 [--syslog] MOUNTPOINT" >&2
	exit 2
fi
MNT=$1

log() { # level msg [key=value...]
	local level=$1 msg=$2
	shift 2
	local line="lethefs-rotate: level=$level msg=\"$msg\" mountpoint=$MNT${*:+ $*}"
	echo "$line"
	if ((SYSLOG)); then
		logger -t lethefs-rotate -p "user.$([[ $level == error ]] && echo err || echo "$level")" -- "$line"
	fi
}

member() { # json key -> value (flat members, as the daemon writes them)
	sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" <<<"$1" | tr -d '"'
}

status=$("$LETHEFS" status --json "$MNT" 2>&1)
rc=$?
if ((rc != 0)); then
	log error "not a lethefs mount or daemon not answering" "exit_code=$rc"
	exit 3
fi
if [[ $(member "$status" state) != unlocked ]]; then
	log error "volume is locked; unlock it first"
	exit 4
fi
before=$(member "$status" rotation_epoch)
log info "rotation starting" "epoch=$before"
out=$("$LETHEFS" rotate --wait --json "$MNT" 2>&1)
rc=$?
case $rc in
0) ;;
14)
	log error "volume was locked during rotation" "exit_code=$rc"
	exit 4
	;;
11)
	log error "daemon stopped answering during rotation" "exit_code=$rc"
	exit 3
	;;
19)
	log error "rotation paused: the backing store is full; free space and run again" "exit_code=$rc"
	exit 7
	;;
*)
	log error "rotation failed" "exit_code=$rc" "detail=\"$(tr '\n"' " '" <<<"$out" | cut -c1-300)\""
	exit 5
	;;
esac
status=$("$LETHEFS" status --json "$MNT" 2>&1)
epoch=$(member "$status" rotation_epoch)
old=$(member "$status" rotation_old_epochs)
errors=$(member "$status" rotation_errors)
files=$(member "$status" rotation_files_done)
bytes=$(member "$status" rotation_bytes_done)
if [[ $(member "$status" rotation_state) != idle || -n $old || $errors != 0 || $epoch -le $before ]]; then
	log error "verification failed" "epoch=$epoch old_epochs=\"$old\" errors=$errors"
	exit 6
fi
log info "rotation completed" "epoch=$epoch previous_epoch=$before files=$files bytes=$bytes"
exit 0
