# SPDX-License-Identifier: Apache-2.0
# "Hosts" for the shared-mode tests (docs/SHARED.md): each a process in
# mount and UTS namespaces of its own (unshare -m -u), with its own host
# name and its own tmpfs on /run/lethefs, so that two lethefs daemons on
# this machine stand for two machines mounting one vault. Commands run on
# a host through nsenter. The holder's pid is in $HOSTS_DIR/host-NAME.pid;
# the caller sets HOSTS_DIR (a directory of its own, removed by the test),
# and HOSTS_KEEP to a FUSE mount the hosts must keep (the engine, when it
# is a FUSE filesystem mounted before the hosts start).

# Starts host $1.
hosts_start_one() {
	local h=$1
	unshare -m -u --propagation private sleep infinity &
	echo $! >"$HOSTS_DIR/host-$h.pid"
	sleep 0.2
	on_host "$h" hostname "$h" || return 1
	# The namespace began with a copy of every mount of the machine: the
	# FUSE mounts of other tests (the other lane's) among them would stay
	# connected as long as this host lives, and their daemons would never
	# see their unmount. Detached here, for this host only.
	on_host "$h" env KEEP="${HOSTS_KEEP:-}" sh -c 'awk "\$3 ~ /^fuse/ {print \$2}" /proc/self/mounts |
		while read -r m; do
			m=$(printf "%b" "$m")
			[ "$m" = "$KEEP" ] || umount -l "$m" 2>/dev/null || true
		done'
	on_host "$h" mount -t tmpfs -o mode=0755 tmpfs /run/lethefs
}

# Starts the hosts named in the arguments.
hosts_start() {
	local h
	for h in "$@"; do
		hosts_start_one "$h" || return 1
	done
}

# Runs a command on host $1.
on_host() {
	local h=$1
	shift
	nsenter -t "$(cat "$HOSTS_DIR/host-$h.pid")" -m -u -- "$@"
}

# Unmounts host $1's lethefs mounts (their daemons exit), without waiting.
hosts_unmount_lethefs_now() {
	local h=$1
	[ -f "$HOSTS_DIR/host-$h.pid" ] || return 0
	on_host "$h" env KEEP="${HOSTS_KEEP:-}" sh -c "awk '\$3 == \"fuse.lethefs\" {print \$2}' /proc/self/mounts |
		while read -r m; do
			[ \"\$m\" = \"\$KEEP\" ] || fusermount3 -u \"\$m\" || umount -l \"\$m\"
		done" 2>/dev/null
}

# Waits up to 15 s for the daemons whose command line matches $1 to go.
hosts_wait_daemons() {
	for _ in $(seq 150); do
		pgrep -f "$1" >/dev/null || return 0
		sleep 0.1
	done
}

# Unmounts host $1's lethefs mounts (their daemons exit) and waits up to
# 15 s for the daemons whose command line matches $2 to go. Other mounts
# of the host (an engine's client) are the caller's, before.
hosts_unmount_lethefs() {
	hosts_unmount_lethefs_now "$1"
	hosts_wait_daemons "$2"
}

hosts_end_one() {
	local h=$1 pid
	[ -f "$HOSTS_DIR/host-$h.pid" ] || return 0
	pid=$(cat "$HOSTS_DIR/host-$h.pid")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$HOSTS_DIR/host-$h.pid"
}

# Unmounts every host's lethefs mounts, then ends the hosts: the daemons
# matching $1 are waited for, all at once (one wait per host lasted its
# 15 s while the other hosts' daemons, matching too, still ran).
hosts_stop() {
	local pattern=$1 h
	shift
	for h in "$@"; do
		hosts_unmount_lethefs_now "$h"
	done
	hosts_wait_daemons "$pattern"
	for h in "$@"; do
		hosts_end_one "$h"
	done
}
