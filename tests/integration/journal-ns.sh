#!/bin/bash
# Runs a test script with a systemd-journald of its own: in a private mount
# namespace, tmpfs over /run/systemd, /run/log and /var/log/journal, so that
# the host's logs and directories are never touched and nothing outlives
# the script. The script's mounts stay in the namespace; on exit $MNT (if
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
for d in /run/systemd /run/log /var/log/journal; do
	# Only directories that exist: nothing is created on the host.
	[ -d "$d" ] || exit 97
	mount -t tmpfs -o mode=0755 tmpfs "$d" || exit 97
done
mkdir -p /run/systemd/journal
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
