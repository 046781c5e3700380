/* SPDX-License-Identifier: Apache-2.0 */
/* A rotation among several hosts sharing one vault (docs/SHARED.md,
 * "Rotation"): one walker in the whole cluster, holding the rotation role
 * of the vault lease; lethefs.keyring changed under the key file lock
 * after merging what other hosts wrote; directories converted and epochs
 * retired only once every unlocked host creates objects under the new
 * epoch; the walker's progress in lethefs.rotation for the others. */
#define _GNU_SOURCE
#include "state.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../common/monotonic.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool lfs_rot_claim_walker(struct lfs_rotation *r, bool want)
{
	struct lfs_lease *l = r->env.lease;
	if (!l)
		return want;
	if (want && !r->walker && lfs_lease_role_try(l, LFS_LEASE_ROTATION) == 0) {
		r->walker = true;
		lfs_info("rotation: this host (%s) walks the tree", l->me.host);
	} else if (!want && r->walker) {
		lfs_lease_role_drop(l, LFS_LEASE_ROTATION);
		r->walker = false;
	}
	return r->walker;
}

struct ready {
	const char *self;
	uint32_t target;
	bool ok;
};

static int check_host(const struct lfs_host_info *h, void *arg)
{
	struct ready *rd = arg;
	/* A locked host (epoch 0) creates nothing, and reads the keyring
	 * file when it unlocks; this host's own ring is the walker's. */
	if (!h->live || !strcmp(h->host, rd->self) || h->epoch == 0 || h->epoch == rd->target)
		return 0;
	rd->ok = false;
	return 1;
}

bool lfs_rot_hosts_ready(struct lfs_rotation *r)
{
	struct lfs_lease *l = r->env.lease;
	if (!l)
		return true;
	struct ready rd = {.self = l->me.host, .target = r->target, .ok = true};
	lfs_hosts_list(r->env.vault->dirfd, check_host, &rd);
	return rd.ok;
}

int lfs_rot_xmoves_look(struct lfs_rotation *r, bool probe_first, struct lfs_xmoves_view *v)
{
	memset(v, 0, sizeof(*v));
	struct lfs_lease *l = r->env.lease;
	if (!l || l->fd < 0)
		return 0;
	return lfs_xmoves_look(r->env.vault->dirfd, l->fd, probe_first, v);
}

/* How long the walker waits for the other hosts' renames under way (a
 * crashed host's lock lapses when the engine notices: GlusterFS's ping
 * timeout is 42 s). */
#define XMOVES_BARRIER_MS 60000

bool lfs_rot_xmoves_barrier(struct lfs_rotation *r)
{
	struct lfs_lease *l = r->env.lease;
	if (!l || l->fd < 0)
		return false;
	int e = lfs_xmoves_barrier(l->fd, XMOVES_BARRIER_MS);
	if (e < 0)
		lfs_warn("rotation: renames and links on other hosts did not end within %d s (%s); "
		         "counting without holding them",
		         XMOVES_BARRIER_MS / 1000, strerror(-e));
	return e == 0;
}

void lfs_rot_xmoves_barrier_end(struct lfs_rotation *r)
{
	if (r->env.lease && r->env.lease->fd >= 0)
		lfs_xmoves_barrier_end(r->env.lease->fd);
}

int lfs_rot_keyfile_begin(struct lfs_rotation *r, int *err)
{
	*err = 0;
	if (!r->env.lease)
		return -1;
	int fd = lfs_vault_lock_slots(r->env.vault, NULL);
	if (fd < 0) {
		*err = fd;
		return -1;
	}
	unsigned char *buf = NULL;
	size_t len = 0;
	bool changed = false;
	int e = lfs_read_small_file(r->env.vault->dirfd, LFS_KEYRING_FILE_NAME,
	                            LFS_KEYRING_MAX_FILE_LEN, &buf, &len);
	if (e == 0)
		e = lfs_keyring_merge(r->env.kr, buf, len, &changed);
	free(buf);
	if (e < 0) {
		lfs_vault_unlock_slots(fd);
		*err = e;
		return -1;
	}
	return fd;
}

void lfs_rot_keyfile_end(int lockfd)
{
	lfs_vault_unlock_slots(lockfd);
}

void lfs_rot_store_progress(struct lfs_rotation *r, bool force)
{
	if (!r->env.lease || !r->walker)
		return;
	double now = lfs_monotonic_seconds();
	if (!force && now - r->progress_stored < 2)
		return;
	r->progress_stored = now;
	char buf[512];
	pthread_mutex_lock(&r->lock);
	int n = snprintf(buf, sizeof(buf),
	                 "lethefs-rotation 1\nstarted=%lld\nwalker=%s\nfiles_done=%llu\n"
	                 "files_total=%llu\nbytes_done=%llu\nbytes_total=%llu\ndirs_done=%llu\n"
	                 "links_done=%llu\nxattrs_done=%llu\nerrors=%llu\npasses=%llu\n",
	                 (long long)r->started, r->env.lease->me.host,
	                 (unsigned long long)r->files_done, (unsigned long long)r->files_total,
	                 (unsigned long long)r->bytes_done, (unsigned long long)r->bytes_total,
	                 (unsigned long long)r->dirs_done, (unsigned long long)r->links_done,
	                 (unsigned long long)r->xattrs_done, (unsigned long long)r->errors,
	                 (unsigned long long)r->passes);
	pthread_mutex_unlock(&r->lock);
	if (n > 0 && (size_t)n < sizeof(buf))
		lfs_replace_file(r->env.vault->dirfd, LFS_ROTATION_FILE, buf, (size_t)n, 0600);
}

/* "key=N" lines; unknown keys and malformed values are ignored (the file
 * is informational: nothing but the status depends on it). */
static void take_line(struct lfs_rotation *r, const char *k, size_t kl, const char *v)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
	    {"files_done", offsetof(struct lfs_rotation, files_done)},
	    {"files_total", offsetof(struct lfs_rotation, files_total)},
	    {"bytes_done", offsetof(struct lfs_rotation, bytes_done)},
	    {"bytes_total", offsetof(struct lfs_rotation, bytes_total)},
	    {"dirs_done", offsetof(struct lfs_rotation, dirs_done)},
	    {"links_done", offsetof(struct lfs_rotation, links_done)},
	    {"xattrs_done", offsetof(struct lfs_rotation, xattrs_done)},
	    {"errors", offsetof(struct lfs_rotation, errors)},
	    {"passes", offsetof(struct lfs_rotation, passes)},
	};
	if (kl == 6 && !memcmp(k, "walker", 6)) {
		size_t n = strcspn(v, "\n");
		if (n <= LFS_HOST_NAME_MAX) {
			memcpy(r->walker_host, v, n);
			r->walker_host[n] = '\0';
			if (!lfs_host_name_ok(r->walker_host))
				r->walker_host[0] = '\0';
		}
		return;
	}
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (end == v || (*end != '\n' && *end != '\0'))
		return;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].name) == kl && !memcmp(fields[i].name, k, kl))
			*(uint64_t *)((char *)r + fields[i].off) = x;
}

void lfs_rot_load_progress(struct lfs_rotation *r)
{
	if (!r->env.lease || r->walker)
		return;
	double now = lfs_monotonic_seconds();
	if (now - r->progress_loaded < 1)
		return;
	r->progress_loaded = now;
	unsigned char *buf = NULL;
	size_t len = 0;
	if (lfs_read_small_file(r->env.vault->dirfd, LFS_ROTATION_FILE, 1024, &buf, &len) < 0)
		return;
	char text[1025];
	memcpy(text, buf, len);
	text[len] = '\0';
	free(buf);
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n');
		char *eq = strchr(line, '=');
		if (eq && (!nl || eq < nl))
			take_line(r, line, (size_t)(eq - line), eq + 1);
		if (!nl)
			break;
		line = nl + 1;
	}
}
