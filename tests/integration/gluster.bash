# SPDX-License-Identifier: Apache-2.0
# A GlusterFS engine for the shared-mode tests (docs/SHARED.md), started by
# the test itself: glusterd with its state in a temporary directory, a
# replica-2 volume on two brick directories of this machine (`force`: one
# host), and two "hosts" (hosts.bash), each with its own GlusterFS
# client mount of the volume. Everything is stopped and removed by
# gluster_stop, including what glusterd writes outside its state
# directory (/var/lib/glusterd, /var/run/gluster, /var/log/glusterfs),
# which is compared with a listing taken before it started.
#
# GlusterFS is configured as docs/SHARED.md says a shared vault needs:
# client-side caches that would hide another client's writes are off on
# the volume, and the client mounts bypass the kernel's page and
# attribute caches.

# shellcheck source=tests/integration/hosts.bash
source "$(dirname "${BASH_SOURCE[0]}")/hosts.bash"

GLUSTER_VOLUME_OPTS=(performance.write-behind off performance.stat-prefetch off
	performance.quick-read off performance.open-behind off performance.read-ahead off
	performance.io-cache off performance.readdir-ahead off performance.nl-cache off)
GLUSTER_MOUNT_OPTS=direct-io-mode=enable,attribute-timeout=0,entry-timeout=0,negative-timeout=0
GLUSTER_DIRS=(/var/lib/glusterd /var/run/gluster /run/gluster /var/log/glusterfs)

# Why GlusterFS cannot run here, or nothing.
gluster_unavailable() {
	command -v glusterd >/dev/null || { echo "glusterfs-server is not installed (scripts/install-deps.sh test)"; return; }
	command -v mount.glusterfs >/dev/null || { echo "glusterfs-client is not installed"; return; }
	command -v unshare >/dev/null && command -v nsenter >/dev/null ||
		{ echo "unshare/nsenter missing"; return; }
	[ "$(id -u)" = 0 ] || { echo "needs root (glusterd, mounts)"; return; }
	if pgrep -x glusterd >/dev/null; then
		echo "a glusterd not started by this test runs already (port 24007 is taken)"
		return
	fi
}

# Waits (up to 15 min) for the machine's one engine slot (port 24007): call
# it before gluster_unavailable, so that a run that finds another run's
# glusterd waits for it instead of skipping. gluster_stop lets go.
gluster_lock() {
	[ -n "${GLOCK:-}" ] && return 0
	exec {GLOCK}>/run/lock/lethefs-gluster-test.lock
	flock -w 900 "$GLOCK"
}

_gluster_listing() {
	find "${GLUSTER_DIRS[@]}" -mindepth 1 2>/dev/null | sort
}

# Starts glusterd and the volume; sets G (state dir), GVOL, GHOST.
gluster_start() {
	# One engine at a time on this machine (port 24007).
	gluster_lock || return 1
	# LETHEFS_GLUSTER_TAG names the volume and the state directory (bricks,
	# mounts), so that whoever runs the test can tell its engine apart.
	local tag=${LETHEFS_GLUSTER_TAG:-lethefs}
	G=$(mktemp -d "/tmp/$tag-gluster.XXXXXX")
	HOSTS_DIR=$G
	GVOL=$tag-test-$$
	GHOST=$(hostname)
	_gluster_listing >"$G/before"
	mkdir -p "$G/wd" "$G/b1" "$G/b2" "$G/run"
	sed "s#/var/lib/glusterd#$G/wd#" /etc/glusterfs/glusterd.vol >"$G/glusterd.vol"
	glusterd -f "$G/glusterd.vol" -p "$G/glusterd.pid" --log-file="$G/glusterd.log" || return 1
	for _ in $(seq 100); do
		gluster --mode=script volume list >/dev/null 2>&1 && break
		sleep 0.1
	done
	gluster --mode=script volume create "$GVOL" replica 2 "$GHOST:$G/b1" "$GHOST:$G/b2" force \
		>"$G/create.log" 2>&1 || { cat "$G/create.log" >&2; return 1; }
	local i
	for ((i = 0; i < ${#GLUSTER_VOLUME_OPTS[@]}; i += 2)); do
		gluster --mode=script volume set "$GVOL" "${GLUSTER_VOLUME_OPTS[i]}" \
			"${GLUSTER_VOLUME_OPTS[i + 1]}" >/dev/null || return 1
	done
	gluster --mode=script volume start "$GVOL" >/dev/null || return 1
}

# Starts host $1 (a name, hosts.bash) with the client mount at $G/m$1.
host_start() {
	local h=$1
	mkdir -p "$G/m$h"
	hosts_start_one "$h" || return 1
	for _ in $(seq 50); do
		on_host "$h" mount -t glusterfs -o "$GLUSTER_MOUNT_OPTS" "$GHOST:/$GVOL" "$G/m$h" \
			2>/dev/null && return 0
		sleep 0.2
	done
	echo "host $h: cannot mount the volume" >&2
	return 1
}

# Unmounts everything on host $1 and ends it: lethefs mounts first (their
# daemons exit), then the client.
host_stop() {
	local h=$1
	[ -f "$G/host-$h.pid" ] || return 0
	hosts_unmount_lethefs "$h" "lethefs .*$G"
	on_host "$h" umount "$G/m$h" 2>/dev/null || on_host "$h" umount -l "$G/m$h" 2>/dev/null
	hosts_end_one "$h"
}

# Stops the volume, the bricks, glusterd and its client processes, and
# removes what they left (the state directory, new files in the system
# directories of GLUSTER_DIRS).
gluster_stop() {
	[ -n "${G:-}" ] && [ -d "$G" ] || return 0
	local pid
	for f in "$G"/host-*.pid; do
		[ -f "$f" ] && host_stop "$(basename "$f" .pid | sed 's/^host-//')"
	done
	gluster --mode=script volume stop "$GVOL" force >/dev/null 2>&1
	gluster --mode=script volume delete "$GVOL" >/dev/null 2>&1
	# The processes glusterd started for the volume (bricks, self-heal).
	for pid in $(pgrep -f "glusterfs.*$GVOL"); do kill "$pid" 2>/dev/null; done
	pid=$(cat "$G/glusterd.pid" 2>/dev/null)
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	for _ in $(seq 100); do
		pgrep -f "glusterfs.*$GVOL" >/dev/null || { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; } && break
		sleep 0.1
	done
	for pid in $(pgrep -f "glusterfs.*$GVOL"); do kill -9 "$pid" 2>/dev/null; done
	[ -n "${pid:-}" ] && kill -9 "$(cat "$G/glusterd.pid" 2>/dev/null)" 2>/dev/null
	_gluster_listing >"$G/after"
	# Deepest first, so that directories are empty when their turn comes.
	comm -13 "$G/before" "$G/after" | sort -r | while read -r p; do
		if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir "$p" 2>/dev/null || rm -rf "$p"; else rm -f "$p"; fi
	done
	rm -rf "$G"
	G=
	[ -n "${GLOCK:-}" ] && exec {GLOCK}>&-
	GLOCK=
	return 0
}

# --- One vault on the volume, mounted by two hosts (-o shared) -------------
# The fixture of the 52-shared-gluster*.bats files, each of which starts
# its own engine: their setup_file, teardown_file, setup and teardown call
# these. The vault is made through hostA (passphrase in $G/pass); hostA and
# hostB mount it on $G/lhostA and $G/lhostB (mount_on). A test is skipped
# when GlusterFS cannot run here (gluster_unavailable says why).

gluster_vault_setup_file() {
	gluster_lock || true
	why=$(gluster_unavailable)
	if [ -n "$why" ]; then
		echo "$why" >"${BATS_FILE_TMPDIR}/skip"
		[ -n "${GLOCK:-}" ] && exec {GLOCK}>&-
		return 0
	fi
	gluster_start || { gluster_stop; return 1; }
	export G GVOL GHOST HOSTS_DIR
	host_start hostA && host_start hostB || { gluster_stop; return 1; }
	printf '%s\n' "$PASS" >"$G/pass"
	chmod 600 "$G/pass"
	on_host hostA "$LETHEFS" init --passfile "$G/pass" --allow-weak-kdf --kdf-ops 1 --kdf-mem 8M \
		"$G/mhostA/vault" >/dev/null 2>&1 || { gluster_stop; return 1; }
}

gluster_vault_teardown_file() {
	[ -f "${BATS_FILE_TMPDIR}/skip" ] && return 0
	gluster_stop
}

gluster_vault_setup() {
	if [ -f "${BATS_FILE_TMPDIR}/skip" ]; then
		skip "GlusterFS cannot run here: $(cat "${BATS_FILE_TMPDIR}/skip")"
	fi
	mkdir -p "$G/lhostA" "$G/lhostB" "$G/lhostC"
}

gluster_vault_teardown() {
	[ -f "${BATS_FILE_TMPDIR}/skip" ] && return 0
	touch "$G/stop-watch"
	# A daemon a failed test left frozen (SIGSTOP) could not unmount.
	if [ -f "$G/stopped.pid" ]; then
		kill -CONT "$(cat "$G/stopped.pid")" 2>/dev/null
		rm -f "$G/stopped.pid"
	fi
	for h in hostA hostB; do
		# From the mount table: mountpoint(1) fails on a dead FUSE mount
		# (its daemon killed), which must go too.
		on_host $h sh -c "grep -q ' $G/l$h ' /proc/self/mounts &&
			{ fusermount3 -u $G/l$h || umount -l $G/l$h; }; true"
	done
	for _ in $(seq 150); do
		pgrep -f "lethefs mount .*$G" >/dev/null || return 0
		sleep 0.1
	done
	echo "a lethefs daemon is left" >&2
	return 1
}

# mount_on HOST [OPTIONS...]: the vault through HOST's client, on $G/lHOST.
mount_on() {
	local h=$1
	shift
	on_host "$h" "$LETHEFS" mount --passfile "$G/pass" "$@" "$G/m$h/vault" "$G/l$h"
}
