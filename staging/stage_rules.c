/* SPDX-License-Identifier: Apache-2.0 */
/* Who may change what of a staging directory (docs/STAGING.md, "Who
 * decides retention"): TTL changes, quota, and the quota charges. */
#define _GNU_SOURCE
#include "stage.h"
#include "../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int lfs_staging_check_ttl(struct lfs_staging *st, uint64_t ttl)
{
	return st->max_ttl && ttl > st->max_ttl ? -EPERM : 0;
}

static const char *refusal(int r, bool extending, enum lfs_stage_who who)
{
	if (r == -EFBIG)
		return "longer than staging_max_ttl";
	if (r == -EACCES)
		return "the volume is locked";
	if (extending && who == LFS_STAGE_WRITER)
		return "extending goes through the control socket (root or admin_group)";
	if (extending)
		return "extending is not allowed (staging_allow_extend = no)";
	return "shortening and shredding are for administrators (owner_may_shorten = no)";
}

static int set_ttl(struct lfs_staging *st, uint32_t id, uint64_t ttl, enum lfs_stage_who who,
                   const struct lfs_audit_caller *caller)
{
	int64_t now = lfs_staging_now(st), neu = ttl ? now + (int64_t)ttl : 0;
	bool root = caller && caller->known && caller->uid == 0;
	bool unlocked = lfs_keyring_is_unlocked(st->kr);
	struct lfs_stage_exp x;
	int r = 0;
	bool extending = false;
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	int64_t old = e ? e->expires : 0;
	if (!e)
		r = -ENOENT;
	else if ((extending = ttl && neu > e->expires) && who == LFS_STAGE_WRITER)
		r = -EPERM;
	else if (extending && !st->allow_extend)
		r = -EPERM;
	else if (!extending && who == LFS_STAGE_WRITER && !st->owner_may_shorten && !root)
		r = -EPERM;
	else if (ttl && st->max_ttl && ttl > st->max_ttl)
		r = -EFBIG;
	else if (ttl && !unlocked)
		r = -EACCES; /* a record nobody could authenticate would shred it */
	if (r == 0) {
		e->expires = neu;
		if (!ttl)
			e->why = "manual";
		lfs_stage_record_of(e, &x);
	}
	pthread_mutex_unlock(&st->lock);
	char hex[9], o[32], n[32];
	lfs_stage_id_hex(id, hex);
	lfs_stage_iso(old, o);
	lfs_stage_iso(ttl ? neu : now, n);
	if (r == 0) {
		/* The record first: a shred decided here survives a crash (an
		 * expiry of 0 needs no MAC: nothing postpones it). */
		int w = lfs_stage_exp_store(st->sdirfd, unlocked ? st->kr : NULL, &x);
		if (w < 0 && !ttl) {
			/* No record, no trace of the decision: destroy the key
			 * now, the rest follows at the next tick. */
			w = lfs_stage_key_destroy(st->sdirfd, id);
		}
		if (w < 0 && ttl) {
			pthread_mutex_lock(&st->lock);
			if ((e = lfs_stage_index_find(&st->ix, id)))
				e->expires = old;
			pthread_mutex_unlock(&st->lock);
			r = w;
		}
		pthread_mutex_lock(&st->lock);
		lfs_stage_store_locked(st);
		pthread_mutex_unlock(&st->lock);
	}
	if (r == -ENOENT)
		return r;
	if (!ttl && r == 0)
		return 0; /* the shred entry follows at the next tick */
	const char *why = r == 0                                       ? ""
	                  : r == -EPERM || r == -EFBIG || r == -EACCES ? refusal(r, extending, who)
	                                                               : strerror(-r);
	struct lfs_audit_detail d[] = {
	    {"id", hex, 0},
	    {"old_expires", o, 0},
	    {"expires", n, 0},
	    {"by", who == LFS_STAGE_ADMIN ? "control socket" : "mount", 0},
	    {"error", why, 0}};
	lfs_stage_audit(st, "stage-extend", r == 0 ? "success" : "refused", caller, d, r ? 5 : 4);
	return r;
}

static int set_quota(struct lfs_staging *st, uint32_t id, uint64_t quota,
                     const struct lfs_audit_caller *caller)
{
	struct lfs_stage_exp x;
	bool unlocked = lfs_keyring_is_unlocked(st->kr);
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	int r = !e ? -ENOENT : !unlocked ? -EACCES : 0;
	uint64_t old = e ? e->quota : 0;
	if (r == 0) {
		e->quota = quota;
		lfs_stage_record_of(e, &x);
	}
	pthread_mutex_unlock(&st->lock);
	if (r == 0 && (r = lfs_stage_exp_store(st->sdirfd, st->kr, &x)) < 0) {
		pthread_mutex_lock(&st->lock);
		if ((e = lfs_stage_index_find(&st->ix, id)))
			e->quota = old;
		pthread_mutex_unlock(&st->lock);
	}
	if (r == 0) {
		pthread_mutex_lock(&st->lock);
		lfs_stage_store_locked(st);
		pthread_mutex_unlock(&st->lock);
	}
	char hex[9];
	lfs_stage_id_hex(id, hex);
	struct lfs_audit_detail d[] = {{"id", hex, 0}, {"quota", NULL, (long long)quota}};
	if (r == 0)
		lfs_stage_audit(st, "stage-quota", "success", caller, d, 2);
	return r;
}

/* Shared: under the index lock, on the table merged from the disk
 * (stage_shared.c), so that no host's change overwrites another's. */
int lfs_staging_set_ttl(struct lfs_staging *st, uint32_t id, uint64_t ttl, enum lfs_stage_who who,
                        const struct lfs_audit_caller *caller)
{
	int r = lfs_staging_cluster_lock(st);
	if (r < 0)
		return r;
	r = set_ttl(st, id, ttl, who, caller);
	lfs_staging_cluster_unlock(st);
	return r;
}

int lfs_staging_set_quota(struct lfs_staging *st, uint32_t id, uint64_t quota,
                          const struct lfs_audit_caller *caller)
{
	int r = lfs_staging_cluster_lock(st);
	if (r < 0)
		return r;
	r = set_quota(st, id, quota, caller);
	lfs_staging_cluster_unlock(st);
	return r;
}

int lfs_staging_charge(struct lfs_staging *st, uint32_t id, int64_t delta)
{
	if (delta == 0)
		return 0;
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	int r = 0;
	if (e) {
		if (delta > 0 && e->quota && e->used + (uint64_t)delta > e->quota)
			r = -EDQUOT;
		else if (delta < 0 && (uint64_t)-delta > e->used)
			e->used = 0;
		else
			e->used += (uint64_t)delta;
		if (r == 0)
			e->unsynced += delta; /* this host's share (stage_shared.c) */
		st->dirty |= r == 0;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}
