/* SPDX-License-Identifier: Apache-2.0 */
/* Shredding a staging directory (FORMAT.md 12.7): the key first, then its
 * ciphertext on a thread of its own, then the audit entry; requests and the
 * expiry tick. */
#define _GNU_SOURCE
#include "stage.h"
#include "../fs/dirmeta.h"
#include "../fs/names.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

/* Quota counters reach the index at most this often (and at shred and
 * unmount): they are advisory bookkeeping, not a security property. */
#define STORE_EVERY_S 5
/* A key that could not be overwritten is tried again this often. */
#define RETRY_S 60

struct removal {
	struct lfs_staging *st;
	uint32_t id;
	char reason[24];
	char trigger[16]; /* how it was asked for (lfs_staging_request_shred) */
	char *label;
	struct lfs_audit_caller caller;
	bool have_caller;
};

/* Steps 3 and 4: ciphertext and markers go, then the audit entry. */
static void finish_removal(struct removal *rm)
{
	struct lfs_staging *st = rm->st;
	uint64_t files = 0, bytes = 0;
	int r = lfs_stage_remove_tree(st->sdirfd, rm->id, &files, &bytes);
	long markers = lfs_stage_sweep_markers(st->datafd, lfs_stage_is_dead, st);
	char hex[9];
	lfs_stage_id_hex(rm->id, hex);
	lfs_stage_shred_audit(st, rm->label, rm->id, rm->reason, rm->trigger,
	                      rm->have_caller ? &rm->caller : NULL, files, bytes,
	                      r < 0 ? strerror(-r) : NULL);
	/* Last: a crash before this leaves the record, and the next start
	 * finishes (and audits) the shred; after it, nothing is left. */
	if (r == 0)
		lfs_stage_exp_remove(st->sdirfd, rm->id);
	/* Ids only in the system log: the path is in the audit log. */
	lfs_info("staging directory %s shredded (%s): %llu files, %llu bytes, %ld markers", hex,
	         rm->reason, (unsigned long long)files, (unsigned long long)bytes, markers);
	free(rm->label);
	free(rm);
}

static void *removal_thread(void *arg)
{
	struct removal *rm = arg;
	struct lfs_staging *st = rm->st;
	finish_removal(rm);
	atomic_fetch_sub(&st->removals, 1);
	return NULL;
}

/* The key could not be destroyed: nothing else is done (the directory
 * stays expired and is tried again), and the failure is audited once. */
static void shred_failed(struct lfs_staging *st, uint32_t id, const char *reason,
                         const char *trigger, const struct lfs_audit_caller *caller, int err)
{
	char hex[9], why[160];
	lfs_stage_id_hex(id, hex);
	snprintf(why, sizeof(why),
	         "the key file could not be overwritten (%s): nothing was removed; a run as "
	         "root or as the key file's owner completes the shred",
	         strerror(-err));
	int64_t now = lfs_staging_now(st);
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	bool first = !e || !e->shred_failed;
	char *label = e && e->label ? strdup(e->label) : NULL;
	if (e) {
		e->shred_failed = true;
		e->retry_at = now + RETRY_S;
	}
	pthread_mutex_unlock(&st->lock);
	st->failed++;
	lfs_err("staging %s: shred (%s) failed: %s", hex, reason, why);
	if (first)
		lfs_stage_shred_audit(st, label, id, reason, trigger, caller, 0, 0, why);
	free(label);
}

static int shred_as(struct lfs_staging *st, uint32_t id, const char *reason, const char *trigger,
                    const struct lfs_audit_caller *caller)
{
	/* Shared: under the index lock from here to the index entry, so that
	 * of two hosts shredding one directory the second finds it gone. */
	if (st->lease) {
		int cr = lfs_staging_cluster_lock(st);
		if (cr < 0)
			return cr;
		bool known = lfs_staging_live(st, id);
		if (!known) {
			lfs_staging_cluster_unlock(st);
			return 0; /* another host shredded it */
		}
	}
	/* Step 1: the key. The wrapped copy first (what a disk thief would
	 * find); if it cannot be overwritten nothing else happens. */
	int r = lfs_stage_key_destroy(st->sdirfd, id);
	if (r < 0) {
		lfs_staging_cluster_unlock(st);
		shred_failed(st, id, reason, trigger, caller, r);
		return r;
	}
	struct removal *rm = calloc(1, sizeof(*rm));
	if (!rm) {
		lfs_staging_cluster_unlock(st);
		return -ENOMEM; /* the key is gone: the tree goes at the next start */
	}
	rm->st = st;
	rm->id = id;
	snprintf(rm->reason, sizeof(rm->reason), "%s", reason);
	snprintf(rm->trigger, sizeof(rm->trigger), "%s",
	         trigger ? trigger : lfs_stage_trigger_of(reason));
	if (caller) {
		rm->caller = *caller;
		rm->have_caller = true;
	}
	/* Then the index entry, then the copy in memory, which waits for
	 * every operation still using it. The record stays until the
	 * markers are gone: it tells the next start, should this one be cut
	 * short, that there is something to finish. */
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	if (e) {
		rm->label = e->label;
		e->label = NULL;
		lfs_stage_index_remove(&st->ix, id);
	}
	int sr = lfs_stage_store_locked(st);
	pthread_mutex_unlock(&st->lock);
	lfs_staging_cluster_unlock(st);
	lfs_keyring_drop_staging(st->kr, id);
	lfs_stage_clock_store(&st->clock, st->sdirfd, true);
	if (sr < 0)
		lfs_warn("staging %08x: index not stored: %s (rebuilt at the next start)", id,
		         strerror(-sr));
	/* Step 2: nothing of it may stay in the kernel's caches. */
	if (st->invalidate)
		st->invalidate(st->inval_arg, id);
	/* Steps 3 and 4. */
	if (st->background) {
		pthread_t t;
		atomic_fetch_add(&st->removals, 1);
		if (pthread_create(&t, NULL, removal_thread, rm) == 0) {
			pthread_detach(t);
			return 0;
		}
		atomic_fetch_sub(&st->removals, 1);
	}
	finish_removal(rm);
	return 0;
}

int lfs_staging_shred(struct lfs_staging *st, uint32_t id, const char *reason,
                      const struct lfs_audit_caller *caller)
{
	return shred_as(st, id, reason, NULL, caller);
}

/* With st->lock held: whether this host was asked to shred id. */
static bool has_request(struct lfs_staging *st, uint32_t id)
{
	for (unsigned i = 0; i < st->nshred_requests; i++)
		if (st->shred_requests[i].id == id)
			return true;
	return false;
}

/* Takes the request for id out of the list: false when there is none. */
static bool take_request(struct lfs_staging *st, uint32_t id, struct lfs_stage_shred_request *out)
{
	bool found = false;
	pthread_mutex_lock(&st->lock);
	for (unsigned i = 0; i < st->nshred_requests && !found; i++) {
		if (st->shred_requests[i].id != id)
			continue;
		*out = st->shred_requests[i];
		st->shred_requests[i] = st->shred_requests[--st->nshred_requests];
		found = true;
	}
	pthread_mutex_unlock(&st->lock);
	return found;
}

int lfs_staging_request_shred(struct lfs_staging *st, uint32_t id, const char *trigger,
                              enum lfs_stage_who who, const struct lfs_audit_caller *caller)
{
	pthread_mutex_lock(&st->lock);
	if (!st->shred_requests)
		st->shred_requests = calloc(LFS_STAGE_SHRED_REQUESTS, sizeof(*st->shred_requests));
	/* Out of memory: the shred happens, its entry names no caller. */
	if (st->shred_requests) {
		unsigned n = st->nshred_requests, i = 0;
		while (i < n && st->shred_requests[i].id != id)
			i++;
		if (i == n && n == LFS_STAGE_SHRED_REQUESTS)
			i = 0; /* full: the oldest request loses its caller, not its shred */
		else if (i == n)
			st->nshred_requests++;
		struct lfs_stage_shred_request *q = &st->shred_requests[i];
		q->id = id;
		snprintf(q->trigger, sizeof(q->trigger), "%s", trigger);
		q->caller = *caller;
	}
	pthread_mutex_unlock(&st->lock);
	int r = lfs_staging_set_ttl(st, id, 0, who, caller);
	struct lfs_stage_shred_request gone;
	if (r < 0)
		take_request(st, id, &gone); /* nothing will be shredded */
	return r;
}

int lfs_staging_tick(struct lfs_staging *st)
{
	struct {
		uint32_t id;
		const char *reason;
	} due[64];
	size_t n = 0;
	int64_t now = lfs_staging_now(st);
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < st->ix.n && n < 64; i++) {
		const struct lfs_stage_entry *e = &st->ix.e[i];
		/* retry_at: a failed shred's next try, or (shared mode) the
		 * grace another host has for a manual shred it was asked for. */
		if (e->expires > now || now < e->retry_at)
			continue;
		/* Shared: the expiry host shreds; another only what was asked
		 * of it (its request names the caller). */
		if (!st->expire && !has_request(st, e->id))
			continue;
		due[n].id = e->id;
		due[n].reason = e->why ? e->why : "expired";
		n++;
	}
	if (st->dirty && now - st->stored_at >= STORE_EVERY_S && !st->lease)
		lfs_stage_store_locked(st); /* shared: lfs_staging_poll stores */
	bool any = st->ix.n > 0;
	pthread_mutex_unlock(&st->lock);
	if (any)
		lfs_stage_clock_store(&st->clock, st->sdirfd, false);
	int done = 0;
	for (size_t i = 0; i < n; i++) {
		struct lfs_stage_shred_request q;
		if (!strcmp(due[i].reason, "manual") && take_request(st, due[i].id, &q))
			done += shred_as(st, due[i].id, "manual", q.trigger, &q.caller) == 0;
		else
			done += shred_as(st, due[i].id, due[i].reason, NULL, NULL) == 0;
	}
	return done;
}
