/* SPDX-License-Identifier: Apache-2.0 */
/* Staging directories on a vault that several hosts mount (docs/SHARED.md,
 * "Staging"). Every change of VAULT/staging by any host runs under the
 * index lock of the vault lease (one byte of lethefs.lease): the first
 * holder in this process merges the index on disk into the table, and no
 * other host changes anything until the lock is dropped. The tick merges
 * what the others changed: a directory made elsewhere gets its key loaded
 * here, and one shredded elsewhere (gone from the index) loses its key and
 * cached pages here too. Quota counters add up the hosts' shares. Expiry
 * and crash recovery run on one host (stage.h, expire).
 *
 * The lease byte is an OFD lock, which does not exclude threads of one
 * process: st->holders counts this process's holders (under st->lock) and
 * the byte is taken at the first and dropped at the last. */
#define _GNU_SOURCE
#include "stage.h"
#include "../common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A manual shred another host was asked for is left to that host this
 * long (its audit entry names who asked); then the expiry host does it. */
#define MANUAL_GRACE_S 5

/* A directory another host made: its key (when this host has keys) and
 * what its retention record proves, as lfs_staging_load_keys does. */
static void take_new(struct lfs_staging *st, struct lfs_stage_entry *e)
{
	if (!lfs_keyring_is_unlocked(st->kr))
		return;
	uint32_t flags = 0;
	int r = lfs_stage_key_load(st->sdirfd, e->id, st->kr, &flags);
	struct lfs_stage_exp x;
	uint8_t raw[LFS_STAGE_EXP_LEN];
	if (r < 0) {
		e->damaged = true;
		lfs_err("staging %08x: its key could not be loaded: it reads as EIO", e->id);
	} else if (lfs_stage_exp_load(st->sdirfd, e->id, &x, raw) == 0 &&
	           lfs_stage_exp_verify(st->kr, raw, sizeof(raw)) == 0) {
		e->verified = true;
		e->owner = x.owner;
		e->created = x.created;
		e->quota = x.quota;
		if (x.expires < e->expires)
			e->expires = x.expires;
	}
}

/* Gone from the index on disk (shredded by another host): forgotten here
 * and its key wiped; the kernel's caches of it are dropped by the next
 * poll (not from inside a FUSE request). */
static void forget(struct lfs_staging *st, uint32_t id)
{
	lfs_stage_index_remove(&st->ix, id); /* its label too */
	lfs_keyring_drop_staging(st->kr, id);
	if (st->ngone < sizeof(st->gone) / sizeof(st->gone[0]))
		st->gone[st->ngone++] = id;
	lfs_info("staging directory %08x was shredded by another host", id);
}

/* With st->lock held: the table becomes the disk's index, keeping this
 * host's labels, in-memory state and unsynced shares of the used counters.
 * A damaged index changes nothing here (the expiry host rebuilds it). */
static int merge(struct lfs_staging *st)
{
	struct lfs_stage_index disk = {0};
	int r = lfs_stage_index_load(st->sdirfd, &disk);
	if (r < 0)
		return r;
	for (size_t i = 0; i < st->ix.n;) {
		uint32_t id = st->ix.e[i].id;
		if (!lfs_stage_index_find(&disk, id)) {
			forget(st, id); /* the last entry moves to i: look at i again */
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < disk.n; i++) {
		struct lfs_stage_entry *d = &disk.e[i], *m = lfs_stage_index_find(&st->ix, d->id);
		if (!m) {
			struct lfs_stage_entry e = {.id = d->id,
			                            .created = d->created,
			                            .expires = d->expires,
			                            .quota = d->quota,
			                            .used = d->used,
			                            .owner = LFS_STAGE_OWNER_UNKNOWN};
			take_new(st, &e);
			if (e.expires == 0 && !e.why) {
				e.why = "manual";
				e.retry_at = lfs_staging_now(st) + MANUAL_GRACE_S;
			}
			if ((r = lfs_stage_index_add(&st->ix, &e)) < 0)
				break;
			if (st->nfresh < sizeof(st->fresh) / sizeof(st->fresh[0]))
				st->fresh[st->nfresh++] = e.id;
			continue;
		}
		if (d->expires < m->expires) {
			m->expires = d->expires; /* shortened (or shredded) elsewhere */
			if (d->expires == 0 && !m->why) {
				m->why = "manual";
				m->retry_at = lfs_staging_now(st) + MANUAL_GRACE_S;
			}
		} else if (d->expires > m->expires && m->expires != 0) {
			m->expires = d->expires; /* extended elsewhere (by an admin) */
		}
		m->quota = d->quota;
		int64_t used = (int64_t)d->used + m->unsynced;
		m->used = used > 0 ? (uint64_t)used : 0;
	}
	lfs_stage_index_free(&disk);
	return r;
}

static int sync_begin(struct lfs_staging *st, bool wait)
{
	if (!st->lease)
		return 0;
	/* Naps from 1 ms doubling to 64 ms, without st->lock: a host that
	 * holds the index lock long (a GlusterFS brick that stalls its open
	 * of the index) once held every lookup of a staging directory on the
	 * others behind this wait (52-shared-gluster-rotation-staging-audit
	 * hung 28 minutes in `test -e` on host B). */
	long nap_us = 1000;
	for (;;) {
		if (st->holders > 0) {
			st->holders++; /* nobody else changed the disk meanwhile */
			return 0;
		}
		int r = lfs_lease_role_try(st->lease, LFS_LEASE_STAGING_INDEX);
		if (r == 0)
			break;
		if (r != -EAGAIN || !wait)
			return r;
		pthread_mutex_unlock(&st->lock);
		struct timespec nap = {0, nap_us * 1000L};
		nanosleep(&nap, NULL);
		if (nap_us < 64000)
			nap_us *= 2;
		pthread_mutex_lock(&st->lock);
	}
	st->holders = 1;
	int r = merge(st);
	if (r < 0) {
		st->holders = 0;
		lfs_lease_role_drop(st->lease, LFS_LEASE_STAGING_INDEX);
	}
	return r;
}

int lfs_staging_sync_begin(struct lfs_staging *st)
{
	return sync_begin(st, true);
}

int lfs_staging_sync_try_begin(struct lfs_staging *st)
{
	return sync_begin(st, false);
}

void lfs_staging_sync_end(struct lfs_staging *st)
{
	if (!st->lease || st->holders == 0)
		return;
	/* What was stored is in the index now: no share left unsynced. */
	if (!st->dirty)
		for (size_t i = 0; i < st->ix.n; i++)
			st->ix.e[i].unsynced = 0;
	if (--st->holders == 0)
		lfs_lease_role_drop(st->lease, LFS_LEASE_STAGING_INDEX);
}

int lfs_staging_cluster_lock(struct lfs_staging *st)
{
	if (!st->lease)
		return 0;
	pthread_mutex_lock(&st->lock);
	int r = lfs_staging_sync_begin(st);
	pthread_mutex_unlock(&st->lock);
	return r;
}

void lfs_staging_cluster_unlock(struct lfs_staging *st)
{
	if (!st->lease)
		return;
	pthread_mutex_lock(&st->lock);
	lfs_staging_sync_end(st);
	pthread_mutex_unlock(&st->lock);
}

void lfs_staging_poll(struct lfs_staging *st)
{
	if (!st->lease || st->sdirfd < 0)
		return;
	uint32_t gone[sizeof(st->gone) / sizeof(st->gone[0])];
	pthread_mutex_lock(&st->lock);
	/* Each second: a host holding the index lock now is skipped until
	 * the next tick, rather than waited for. */
	if (lfs_staging_sync_try_begin(st) == 0) {
		if (st->dirty)
			lfs_stage_store_locked(st);
		lfs_staging_sync_end(st);
	}
	unsigned n = st->ngone;
	memcpy(gone, st->gone, n * sizeof(gone[0]));
	st->ngone = 0;
	uint32_t fresh[sizeof(st->fresh) / sizeof(st->fresh[0])];
	unsigned nf = st->nfresh;
	memcpy(fresh, st->fresh, nf * sizeof(fresh[0]));
	st->nfresh = 0;
	pthread_mutex_unlock(&st->lock);
	for (unsigned i = 0; i < n && st->invalidate; i++)
		st->invalidate(st->inval_arg, gone[i]);
	for (unsigned i = 0; i < nf && st->restage; i++)
		st->restage(st->inval_arg, fresh[i], st->sdirfd);
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

void lfs_staging_take_expiry(struct lfs_staging *st)
{
	if (!st->lease || st->expire)
		return;
	if (lfs_lease_role_try(st->lease, LFS_LEASE_EXPIRY) < 0)
		return;
	st->expire = true;
	lfs_info("staging: this host now shreds expired directories (the previous one ended)");
	/* What the host that held the role may have left half done: found
	 * again under the index lock, so that no creation of another host is
	 * in flight (each holds it throughout), and none of this host's. */
	if (lfs_staging_cluster_lock(st) < 0)
		return;
	struct lfs_stage_found *found = NULL;
	size_t nfound = 0, nleft = 0;
	if (lfs_stage_scan(st->sdirfd, &found, &nfound) == 0) {
		pthread_mutex_lock(&st->lock);
		for (size_t i = 0; i < nfound; i++) {
			bool mine = false;
			for (int k = 0; k < LFS_STAGE_CREATING_MAX; k++)
				mine |= st->creating[k] == found[i].id;
			if (!(found[i].key && found[i].tree) && !mine)
				found[nleft++] = found[i];
		}
		free(st->leftover);
		st->leftover = found;
		st->nleftover = nleft;
		pthread_mutex_unlock(&st->lock);
		lfs_staging_recover(st);
	}
	lfs_staging_cluster_unlock(st);
}
