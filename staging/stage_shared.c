/* Staging directories on a vault that several hosts mount (docs/SHARED.md,
 * "Staging"): the index is the one shared truth. Every change of it by any
 * host is a read-merge-write under the index lock of the vault lease; the
 * tick merges what the others changed: a directory made elsewhere gets its
 * key loaded here, and one shredded elsewhere (its key file destroyed, its
 * entry gone) loses its key and cached pages here too. Quota counters add
 * up the hosts' shares. Expiry runs on one host (stage.h, expire). */
#define _GNU_SOURCE
#include "stage.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The key of a directory another host made, if this host has keys. */
static void load_key(struct lfs_staging *st, const struct lfs_stage_entry *e)
{
	struct lfs_stage_index one = {.n = 1, .cap = 1, .e = (struct lfs_stage_entry *)e};
	unsigned bad = 0;
	if (lfs_keyring_is_unlocked(st->kr) &&
	    (lfs_stage_keys_load(st->sdirfd, &one, st->kr, &bad) < 0 || bad))
		lfs_err("staging %08x: its key could not be loaded: it reads as EIO", e->id);
}

/* Gone from the index on disk (shredded or aborted by another host):
 * forgotten here and its key wiped; the kernel's caches of it are dropped
 * by the next poll (not from inside a FUSE request). */
static void forget(struct lfs_staging *st, uint32_t id)
{
	lfs_stage_index_remove(&st->ix, id);
	lfs_keyring_drop_staging(st->kr, id);
	if (st->ngone < sizeof(st->gone) / sizeof(st->gone[0]))
		st->gone[st->ngone++] = id;
	lfs_info("staging directory %08x was shredded by another host", id);
}

/* With st->lock held: the table becomes the disk's index, keeping this
 * host's labels and unsynced shares of the used counters. */
static int merge(struct lfs_staging *st)
{
	struct lfs_stage_index disk;
	int r = lfs_stage_index_load(st->sdirfd, &disk);
	if (r < 0)
		return r;
	for (size_t i = 0; i < st->ix.n;) {
		uint32_t id = st->ix.e[i].id;
		if (!lfs_stage_index_find(&disk, id)) {
			forget(st, id); /* shifts the entries down: same i again */
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < disk.n; i++) {
		struct lfs_stage_entry *d = &disk.e[i], *m = lfs_stage_index_find(&st->ix, d->id);
		if (!m) {
			struct lfs_stage_entry e = *d;
			e.label = NULL;
			e.unsynced = 0;
			if ((r = lfs_stage_index_add(&st->ix, &e)) < 0)
				break;
			load_key(st, d);
			continue;
		}
		m->created = d->created;
		m->expires = d->expires;
		m->quota = d->quota;
		int64_t used = (int64_t)d->used + m->unsynced;
		m->used = used > 0 ? (uint64_t)used : 0;
	}
	lfs_stage_index_free(&disk);
	return r;
}

int lfs_staging_sync_begin(struct lfs_staging *st)
{
	if (!st->lease)
		return 0;
	int r = lfs_lease_role_wait(st->lease, LFS_LEASE_STAGING_INDEX);
	if (r < 0)
		return r;
	r = merge(st);
	if (r < 0)
		lfs_lease_role_drop(st->lease, LFS_LEASE_STAGING_INDEX);
	return r;
}

void lfs_staging_sync_end(struct lfs_staging *st)
{
	if (!st->lease)
		return;
	/* What was stored is in the index now: no share left unsynced. */
	if (!st->dirty)
		for (size_t i = 0; i < st->ix.n; i++)
			st->ix.e[i].unsynced = 0;
	lfs_lease_role_drop(st->lease, LFS_LEASE_STAGING_INDEX);
}

void lfs_staging_poll(struct lfs_staging *st)
{
	if (!st->lease || st->sdirfd < 0)
		return;
	uint32_t gone[sizeof(st->gone) / sizeof(st->gone[0])];
	pthread_mutex_lock(&st->lock);
	if (lfs_staging_sync_begin(st) == 0) {
		if (st->dirty && lfs_stage_index_store(st->sdirfd, &st->ix) == 0)
			st->dirty = false;
		lfs_staging_sync_end(st);
	}
	unsigned n = st->ngone;
	memcpy(gone, st->gone, n * sizeof(gone[0]));
	st->ngone = 0;
	pthread_mutex_unlock(&st->lock);
	for (unsigned i = 0; i < n && st->invalidate; i++)
		st->invalidate(st->inval_arg, gone[i]);
}

void lfs_staging_refresh(struct lfs_staging *st)
{
	if (!st->lease || st->sdirfd < 0)
		return;
	pthread_mutex_lock(&st->lock);
	if (lfs_staging_sync_begin(st) == 0)
		lfs_staging_sync_end(st);
	pthread_mutex_unlock(&st->lock);
}
