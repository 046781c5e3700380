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

int lfs_staging_init(struct lfs_staging *st, int vault_dirfd, int datafd, struct lfs_keyring *kr,
                     const struct lfs_vault_config *cfg)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->datafd = datafd;
	st->kr = kr;
	snprintf(st->root, sizeof(st->root), "%s", cfg->staging_root);
	st->default_ttl =
	    cfg->staging_default_ttl ? cfg->staging_default_ttl : LFS_STAGING_DEFAULT_TTL;
	st->max_ttl = cfg->staging_max_ttl;
	st->allow_extend = cfg->staging_allow_extend;
	st->sdirfd = lfs_stage_dir_open(vault_dirfd, true);
	if (st->sdirfd < 0)
		return st->sdirfd;
	int r = lfs_stage_index_load(st->sdirfd, &st->ix);
	if (r < 0) {
		close(st->sdirfd);
		st->sdirfd = -1;
	}
	return r;
}

static int store_locked(struct lfs_staging *st)
{
	int r = lfs_stage_index_store(st->sdirfd, &st->ix);
	if (r == 0) {
		st->dirty = false;
		st->stored_at = (int64_t)time(NULL);
	}
	return r;
}

void lfs_staging_destroy(struct lfs_staging *st)
{
	if (st->sdirfd < 0)
		return;
	while (atomic_load(&st->removals) > 0)
		usleep(20000);
	pthread_mutex_lock(&st->lock);
	if (st->dirty)
		store_locked(st);
	pthread_mutex_unlock(&st->lock);
	lfs_stage_index_free(&st->ix);
	close(st->sdirfd);
	st->sdirfd = -1;
	pthread_mutex_destroy(&st->lock);
}

unsigned lfs_staging_load_keys(struct lfs_staging *st)
{
	unsigned bad = 0;
	pthread_mutex_lock(&st->lock);
	lfs_stage_keys_load(st->sdirfd, &st->ix, st->kr, &bad);
	pthread_mutex_unlock(&st->lock);
	if (bad)
		lfs_err("%u staging keys could not be loaded: their directories read as EIO", bad);
	return bad;
}

bool lfs_staging_live(struct lfs_staging *st, uint32_t id)
{
	pthread_mutex_lock(&st->lock);
	bool r = lfs_stage_index_find(&st->ix, id) != NULL;
	pthread_mutex_unlock(&st->lock);
	return r;
}

int lfs_staging_get(struct lfs_staging *st, uint32_t id, struct lfs_stage_entry *out)
{
	pthread_mutex_lock(&st->lock);
	const struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	if (e) {
		*out = *e;
		out->label = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	return e ? 0 : -ENOENT;
}

int lfs_staging_check_ttl(struct lfs_staging *st, uint64_t ttl)
{
	return st->max_ttl && ttl > st->max_ttl ? -EPERM : 0;
}

static void audit(struct lfs_staging *st, const char *event, const char *outcome,
                  const struct lfs_audit_caller *caller, const struct lfs_audit_detail *d, size_t n)
{
	lfs_event_emit(&st->events, event, outcome, caller, d, n);
}

int lfs_staging_write_meta(struct lfs_keyring *kr, int dirfd, uint32_t id,
                           const struct lfs_irec *rec)
{
	struct lfs_dirmeta m;
	struct lfs_irec own;
	uint8_t buf[LFS_DIRMETA_MAX];
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(kr, id, &k);
	if (r < 0)
		return r;
	bool v2 = (k->flags & LFS_EPOCH_FORMAT2) != 0;
	/* Format 2: the record given (an adopted directory keeps its own), or
	 * what format 1 shows of a new staging directory: 0700, the daemon's. */
	if (!rec) {
		lfs_irec_make(&own, S_IFDIR | 0700, geteuid(), getegid(), 0);
		rec = &own;
	}
	lfs_dirmeta_new(&m, id, v2 ? 2 : 1);
	int n = lfs_dirmeta_encode(&m, k, rec, buf);
	lfs_keyring_put(kr);
	return n < 0 ? n : lfs_replace_file(dirfd, LFS_DIRMETA_NAME, buf, (size_t)n, 0600);
}

int lfs_staging_begin(struct lfs_staging *st, uint64_t ttl, uint32_t *id)
{
	int r = lfs_staging_check_ttl(st, ttl);
	if (r < 0)
		return r;
	pthread_mutex_lock(&st->lock);
	r = lfs_stage_key_create(st->sdirfd, st->kr, id);
	char hex[9];
	lfs_stage_id_hex(*id, hex);
	if (r == 0 && mkdirat(st->sdirfd, hex, 0700) < 0)
		r = -errno;
	int dfd = r < 0 ? -1 : openat(st->sdirfd, hex, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && dfd < 0)
		r = -errno;
	if (r == 0)
		r = lfs_staging_write_meta(st->kr, dfd, *id, NULL);
	if (dfd >= 0)
		close(dfd);
	if (r == 0) {
		int64_t now = (int64_t)time(NULL);
		struct lfs_stage_entry e = {
		    .id = *id, .created = now, .expires = now + (int64_t)ttl};
		r = lfs_stage_index_add(&st->ix, &e);
		if (r == 0 && (r = store_locked(st)) < 0)
			lfs_stage_index_remove(&st->ix, *id);
	}
	pthread_mutex_unlock(&st->lock);
	if (r < 0 && *id) {
		uint64_t f, b;
		lfs_keyring_drop_staging(st->kr, *id);
		lfs_stage_key_destroy(st->sdirfd, *id);
		lfs_stage_remove_tree(st->sdirfd, *id, &f, &b);
	}
	return r;
}

static void iso(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void lfs_staging_commit(struct lfs_staging *st, uint32_t id, const char *label,
                        const struct lfs_audit_caller *caller)
{
	char hex[9], exp[32];
	struct lfs_stage_entry e = {0};
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *p = lfs_stage_index_find(&st->ix, id);
	if (p) {
		free(p->label);
		p->label = label ? strdup(label) : NULL;
		e = *p;
	}
	pthread_mutex_unlock(&st->lock);
	lfs_stage_id_hex(id, hex);
	iso(e.expires, exp);
	struct lfs_audit_detail d[] = {{"path", label ? label : "?", 0},
	                               {"id", hex, 0},
	                               {"expires", exp, 0},
	                               {"ttl_seconds", NULL, (long long)(e.expires - e.created)}};
	audit(st, "stage-create", "success", caller, d, 4);
	lfs_info("staging directory %s (%s) created, expires %s", hex, label ? label : "?", exp);
}

void lfs_staging_abort(struct lfs_staging *st, uint32_t id)
{
	uint64_t f, b;
	lfs_keyring_drop_staging(st->kr, id);
	lfs_stage_key_destroy(st->sdirfd, id);
	pthread_mutex_lock(&st->lock);
	lfs_stage_index_remove(&st->ix, id);
	store_locked(st);
	pthread_mutex_unlock(&st->lock);
	lfs_stage_remove_tree(st->sdirfd, id, &f, &b);
}

int lfs_staging_set_ttl(struct lfs_staging *st, uint32_t id, uint64_t ttl,
                        const struct lfs_audit_caller *caller)
{
	int r = lfs_staging_check_ttl(st, ttl);
	if (r < 0)
		return r;
	int64_t now = (int64_t)time(NULL), old = 0, neu = now + (int64_t)ttl;
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	if (!e) {
		r = -ENOENT;
	} else if (neu > e->expires && !st->allow_extend) {
		r = -EPERM;
	} else {
		old = e->expires;
		e->expires = ttl == 0 ? 0 : neu;
		r = store_locked(st);
	}
	pthread_mutex_unlock(&st->lock);
	char hex[9], o[32], n[32];
	lfs_stage_id_hex(id, hex);
	iso(old, o);
	iso(ttl ? neu : now, n);
	struct lfs_audit_detail d[] = {{"id", hex, 0},
	                               {"old_expires", o, 0},
	                               {"expires", n, 0},
	                               {"error", r == -EPERM ? "extending is not allowed" : "", 0}};
	if (ttl == 0 && r == 0)
		return 0; /* the shred entry follows at the next tick */
	if (r != -ENOENT && r != -EINVAL)
		audit(st, "stage-extend", r == 0 ? "success" : "refused", caller, d, r ? 4 : 3);
	return r;
}

int lfs_staging_set_quota(struct lfs_staging *st, uint32_t id, uint64_t quota,
                          const struct lfs_audit_caller *caller)
{
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	int r = e ? 0 : -ENOENT;
	if (e) {
		e->quota = quota;
		r = store_locked(st);
	}
	pthread_mutex_unlock(&st->lock);
	char hex[9];
	lfs_stage_id_hex(id, hex);
	struct lfs_audit_detail d[] = {{"id", hex, 0}, {"quota", NULL, (long long)quota}};
	if (r == 0)
		audit(st, "stage-quota", "success", caller, d, 2);
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
		st->dirty |= r == 0;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

struct removal {
	struct lfs_staging *st;
	uint32_t id;
	char reason[16];
	char *label;
	struct lfs_audit_caller caller;
	bool have_caller;
};

static bool is_dead(uint32_t id, void *arg)
{
	return !lfs_staging_live(arg, id);
}

/* Steps 3 and 4: ciphertext and markers go, then the audit entry. */
static void finish_removal(struct removal *rm)
{
	struct lfs_staging *st = rm->st;
	uint64_t files = 0, bytes = 0;
	int r = lfs_stage_remove_tree(st->sdirfd, rm->id, &files, &bytes);
	long markers = lfs_stage_sweep_markers(st->datafd, is_dead, st);
	char hex[9];
	lfs_stage_id_hex(rm->id, hex);
	struct lfs_audit_detail d[] = {{"path", rm->label ? rm->label : "?", 0},
	                               {"id", hex, 0},
	                               {"reason", rm->reason, 0},
	                               {"files", NULL, (long long)files},
	                               {"bytes", NULL, (long long)bytes},
	                               {"error", r < 0 ? strerror(-r) : "", 0}};
	audit(st, "stage-shred", r < 0 ? "failure" : "success",
	      rm->have_caller ? &rm->caller : NULL, d, r < 0 ? 6 : 5);
	lfs_info("staging directory %s (%s) shredded (%s): %llu files, %llu bytes, %ld markers",
	         hex, rm->label ? rm->label : "?", rm->reason, (unsigned long long)files,
	         (unsigned long long)bytes, markers);
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

int lfs_staging_shred(struct lfs_staging *st, uint32_t id, const char *reason,
                      const struct lfs_audit_caller *caller)
{
	struct removal *rm = calloc(1, sizeof(*rm));
	if (!rm)
		return -ENOMEM;
	rm->st = st;
	rm->id = id;
	snprintf(rm->reason, sizeof(rm->reason), "%s", reason);
	if (caller) {
		rm->caller = *caller;
		rm->have_caller = true;
	}
	/* Step 1: the key. The wrapped copy first (what a disk thief would
	 * find), then the index, then the copy in memory, which waits for
	 * every operation still using it. */
	int r = lfs_stage_key_destroy(st->sdirfd, id);
	pthread_mutex_lock(&st->lock);
	struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
	if (e) {
		rm->label = e->label;
		e->label = NULL;
		lfs_stage_index_remove(&st->ix, id);
	}
	int sr = store_locked(st);
	pthread_mutex_unlock(&st->lock);
	lfs_keyring_drop_staging(st->kr, id);
	if (r < 0 || sr < 0)
		lfs_err("staging %08x: key destruction incomplete: %s", id,
		        strerror(-(r < 0 ? r : sr)));
	/* Step 2: nothing of it may stay in the kernel's caches. */
	if (st->invalidate)
		st->invalidate(st->inval_arg, id);
	/* Steps 3 and 4. */
	if (st->background) {
		pthread_t t;
		atomic_fetch_add(&st->removals, 1);
		if (pthread_create(&t, NULL, removal_thread, rm) == 0) {
			pthread_detach(t);
			return r;
		}
		atomic_fetch_sub(&st->removals, 1);
	}
	finish_removal(rm);
	return r;
}

static void shred_orphan(uint32_t id, void *arg)
{
	struct lfs_staging *st = arg;
	if (!lfs_staging_live(st, id))
		lfs_staging_shred(st, id, "interrupted", NULL);
}

int lfs_staging_tick(struct lfs_staging *st, int64_t now)
{
	uint32_t due[64];
	size_t n = 0;
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < st->ix.n && n < 64; i++)
		if (st->ix.e[i].expires <= now)
			due[n++] = st->ix.e[i].id;
	if (st->dirty && now - st->stored_at >= STORE_EVERY_S)
		store_locked(st);
	pthread_mutex_unlock(&st->lock);
	for (size_t i = 0; i < n; i++) {
		struct lfs_stage_entry e;
		bool manual = lfs_staging_get(st, due[i], &e) == 0 && e.expires == 0;
		lfs_staging_shred(st, due[i], manual ? "manual" : "expired", NULL);
	}
	return (int)n;
}

void lfs_staging_sweep_orphans(struct lfs_staging *st)
{
	lfs_stage_for_each_orphan(st->sdirfd, shred_orphan, st);
}
