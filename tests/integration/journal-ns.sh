#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs a test script with a systemd-journald of its own: in a private mount
# namespace, a tmpfs over /run (and over /var/log/journal when it exists),
# so that the host's logs, its /run (lethefs's socket registry included)
# and its directories are never touched and nothing outlives the script. The script's mounts stay in the namespace; on exit $MNT (if
# set) is unmounted lazily there, which ends its lethefs daemon.
# Usage: journal-ns.sh SCRIPT   (run by tests/integration/31-audit-journal.bats)
# Exit 97: this machine cannot run a private journald.
set -u
script=$1
journald=/lib/systemd/systemd-journald
[ -x "$journald" ] || exit 97
if [ "${LETHEFS_IN_JOURNAL_NS:-}" != 1 ]; then
	LETHEFS_IN_JOURNAL_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
mount -t tmpfs -o mode=0755 tmpfs /run || exit 97
if [ -d /var/log/journal ]; then
	mount -t tmpfs -o mode=0755 tmpfs /var/log/journal || exit 97
fi
mkdir -p /run/systemd/journal /run/log
"$journald" 2>/dev/null &
jpid=$!
cleanup() {
	[ -n "${MNT:-}" ] && mountpoint -q "$MNT" && umount -l "$MNT"
	kill "$jpid" 2>/dev/null
	wait "$jpid" 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 100); do
	[ -S /run/systemd/journal/socket ] && break
	sleep 0.05
done
[ -S /run/systemd/journal/socket ] || exit 97
bash -eu "$script"
