/* SPDX-License-Identifier: Apache-2.0 */
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

void lfs_stage_iso(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void lfs_stage_audit(struct lfs_staging *st, const char *event, const char *outcome,
                     const struct lfs_audit_caller *caller, const struct lfs_audit_detail *d,
                     size_t n)
{
	lfs_event_emit(&st->events, event, outcome, caller, d, n);
}

void lfs_stage_record_of(const struct lfs_stage_entry *e, struct lfs_stage_exp *x)
{
	*x = (struct lfs_stage_exp){.id = e->id,
	                            .owner = e->owner,
	                            .created = e->created,
	                            .expires = e->expires,
	                            .quota = e->quota};
}

int lfs_stage_store_locked(struct lfs_staging *st)
{
	int r = lfs_stage_index_store(st->sdirfd, &st->ix);
	if (r == 0) {
		st->dirty = false;
		st->stored_at = lfs_stage_clock_now(&st->clock);
	}
	return r;
}

int64_t lfs_staging_now(struct lfs_staging *st)
{
	return lfs_stage_clock_now(&st->clock);
}

static int64_t min_expiry(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* The table entry of a committed directory, from what claims anything
 * about it: the record (unverified here) and the index. */
static void entry_from_claims(int sdirfd, uint32_t id, const struct lfs_stage_entry *claim,
                              struct lfs_stage_entry *e)
{
	struct lfs_stage_exp x;
	bool have_exp = lfs_stage_exp_load(sdirfd, id, &x, NULL) == 0;
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->owner = have_exp ? x.owner : LFS_STAGE_OWNER_UNKNOWN;
	e->created = have_exp ? x.created : claim ? claim->created : 0;
	e->quota = have_exp ? x.quota : claim ? claim->quota : 0;
	e->used = claim ? claim->used : 0;
	if (have_exp && claim)
		e->expires = min_expiry(x.expires, claim->expires);
	else if (have_exp || claim)
		e->expires = have_exp ? x.expires : claim->expires;
	else
		e->why = "unauthenticated"; /* nothing says it may live */
}

int lfs_staging_init(struct lfs_staging *st, int vault_dirfd, int datafd, struct lfs_keyring *kr,
                     const struct lfs_vault_config *cfg)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->expire = true;
	st->datafd = datafd;
	st->kr = kr;
	snprintf(st->root, sizeof(st->root), "%s", cfg->staging_root);
	st->default_ttl =
	    cfg->staging_default_ttl ? cfg->staging_default_ttl : LFS_STAGING_DEFAULT_TTL;
	st->max_ttl = cfg->staging_max_ttl;
	st->allow_extend = cfg->staging_allow_extend;
	st->owner_may_shorten = cfg->staging_owner_may_shorten;
	st->max_per_user = cfg->staging_max_per_user;
	st->sdirfd = lfs_stage_dir_open(vault_dirfd, true);
	if (st->sdirfd == -EROFS)
		st->sdirfd = lfs_stage_dir_open(vault_dirfd, false);
	lfs_stage_clock_init(&st->clock, cfg->uuid, st->sdirfd);
	if (st->sdirfd < 0) {
		int r = st->sdirfd;
		lfs_stage_clock_destroy(&st->clock);
		pthread_mutex_destroy(&st->lock);
		return r;
	}
	/* The index only claims: what exists is what the key files and
	 * trees say. A damaged index is rebuilt, never fatal. */
	struct lfs_stage_index claims = {0};
	int r = lfs_stage_index_load(st->sdirfd, &claims);
	if (r < 0) {
		st->index_damaged = true;
		snprintf(st->index_error, sizeof(st->index_error), "%s",
		         r == -EINVAL ? "malformed" : strerror(-r));
		memset(&claims, 0, sizeof(claims));
	}
	struct lfs_stage_found *found = NULL;
	size_t nfound = 0;
	r = lfs_stage_scan(st->sdirfd, &found, &nfound);
	for (size_t i = 0; r == 0 && i < nfound; i++) {
		if (found[i].key && found[i].tree) {
			struct lfs_stage_entry e;
			entry_from_claims(st->sdirfd, found[i].id,
			                  lfs_stage_index_find(&claims, found[i].id), &e);
			r = lfs_stage_index_add(&st->ix, &e);
			continue;
		}
		/* Not committed, or its shred was interrupted: recover. */
		found[st->nleftover++] = found[i];
	}
	st->leftover = found;
	/* The index is rewritten from the table at the next store. */
	st->dirty = st->index_damaged || st->nleftover || claims.n != st->ix.n;
	lfs_stage_index_free(&claims);
	if (r < 0) {
		lfs_stage_index_free(&st->ix);
		free(found);
		close(st->sdirfd);
		st->sdirfd = -1;
		lfs_stage_clock_destroy(&st->clock);
		pthread_mutex_destroy(&st->lock);
	}
	return r;
}

int lfs_staging_view(int sdirfd, struct lfs_stage_index *out, bool *index_damaged)
{
	memset(out, 0, sizeof(*out));
	struct lfs_stage_index claims = {0};
	*index_damaged = lfs_stage_index_load(sdirfd, &claims) < 0;
	struct lfs_stage_found *found = NULL;
	size_t nfound = 0;
	int r = lfs_stage_scan(sdirfd, &found, &nfound);
	for (size_t i = 0; r == 0 && i < nfound; i++) {
		if (!found[i].key || !found[i].tree)
			continue;
		struct lfs_stage_entry e;
		entry_from_claims(sdirfd, found[i].id, lfs_stage_index_find(&claims, found[i].id),
		                  &e);
		r = lfs_stage_index_add(out, &e);
	}
	free(found);
	lfs_stage_index_free(&claims);
	if (r < 0)
		lfs_stage_index_free(out);
	return r;
}

void lfs_staging_destroy(struct lfs_staging *st)
{
	if (st->sdirfd < 0)
		return;
	while (atomic_load(&st->removals) > 0)
		usleep(20000);
	pthread_mutex_lock(&st->lock);
	if (st->dirty && lfs_staging_sync_begin(st) == 0) {
		lfs_stage_store_locked(st);
		lfs_staging_sync_end(st);
	}
	bool any = st->ix.n > 0;
	pthread_mutex_unlock(&st->lock);
	if (any)
		lfs_stage_clock_store(&st->clock, st->sdirfd, true);
	lfs_stage_index_free(&st->ix);
	free(st->leftover);
	st->leftover = NULL;
	free(st->shred_requests);
	st->shred_requests = NULL;
	close(st->sdirfd);
	st->sdirfd = -1;
	lfs_stage_clock_destroy(&st->clock);
	pthread_mutex_destroy(&st->lock);
}

bool lfs_staging_live(struct lfs_staging *st, uint32_t id)
{
	pthread_mutex_lock(&st->lock);
	bool r = lfs_stage_index_find(&st->ix, id) != NULL;
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Live, or being created: its marker must stay. */
bool lfs_stage_is_dead(uint32_t id, void *arg)
{
	struct lfs_staging *st = arg;
	pthread_mutex_lock(&st->lock);
	bool alive = lfs_stage_index_find(&st->ix, id) != NULL;
	for (int i = 0; i < LFS_STAGE_CREATING_MAX && !alive; i++)
		alive = st->creating[i] == id;
	pthread_mutex_unlock(&st->lock);
	return !alive;
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

void lfs_staging_summary(struct lfs_staging *st, struct lfs_staging_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < st->ix.n; i++) {
		const struct lfs_stage_entry *e = &st->ix.e[i];
		sum->count++;
		sum->damaged += e->damaged;
		if (!sum->next_expiry || e->expires < sum->next_expiry)
			sum->next_expiry = e->expires;
	}
	pthread_mutex_unlock(&st->lock);
}

void lfs_staging_damaged_list(struct lfs_staging *st, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < st->ix.n && used + 10 < len; i++)
		if (st->ix.e[i].damaged)
			used += (size_t)snprintf(out + used, len - used, "%s%08x", used ? "," : "",
			                         st->ix.e[i].id);
	pthread_mutex_unlock(&st->lock);
}

/* An adopted directory whose commit a crash cut off from its last step
 * (FORMAT.md 12.7): the .lethefs.dir under the staging id waits inside it
 * under a pending name, and renaming it into place needs no key. An
 * adoption of an earlier version left no pending file: its directory is
 * empty, so a fresh .lethefs.dir is written, which needs the staging key
 * (format 2 seals the record under it); without it (recovery runs before
 * the keys are loaded) this waits for the key's load, which calls it
 * again. */
static void fix_meta(struct lfs_staging *st, uint32_t id)
{
	char hex[9];
	lfs_stage_id_hex(id, hex);
	int dfd = openat(st->sdirfd, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	int f = lfs_stage_meta_finish(dfd, id);
	if (f == 1)
		lfs_info("staging %s: directory metadata of an interrupted adoption put in place",
		         hex);
	else if (f < 0)
		lfs_err("staging %s: pending directory metadata %s: %s", hex,
		        f == -EINVAL ? "not of this directory, removed" : "not put in place",
		        strerror(-f));
	struct lfs_dirmeta m;
	if (lfs_keyring_has(st->kr, id) && (lfs_dirmeta_load(dfd, &m) < 0 || m.epoch != id)) {
		int err = 0;
		DIR *d = lfs_opendir_fd(dfd, &err);
		bool empty = d != NULL;
		struct dirent *de;
		while (d && empty && (de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    lfs_classify_entry(de->d_name) != LFS_ENTRY_META)
				empty = false;
		if (d)
			closedir(d);
		if (empty && lfs_staging_write_meta(st->kr, dfd, id, NULL) == 0)
			lfs_info(
			    "staging %s: directory metadata of an interrupted adoption written",
			    hex);
		else
			lfs_err("staging %s: directory metadata missing or of another epoch", hex);
	}
	close(dfd);
}

/* How a shred was asked for, when no request names it. */
const char *lfs_stage_trigger_of(const char *reason)
{
	return !strcmp(reason, "expired")           ? "expiry"
	       : !strcmp(reason, "interrupted")     ? "recovery"
	       : !strcmp(reason, "uncommitted")     ? "recovery"
	       : !strcmp(reason, "unauthenticated") ? "unlock"
	                                            : "manual";
}

void lfs_stage_shred_audit(struct lfs_staging *st, const char *label, uint32_t id,
                           const char *reason, const char *trigger,
                           const struct lfs_audit_caller *caller, uint64_t files, uint64_t bytes,
                           const char *error)
{
	char hex[9];
	lfs_stage_id_hex(id, hex);
	struct lfs_audit_detail d[] = {
	    {"path", label ? label : "?", 0},
	    {"id", hex, 0},
	    {"reason", reason, 0},
	    {"files", NULL, (long long)files},
	    {"bytes", NULL, (long long)bytes},
	    {"trigger", trigger ? trigger : lfs_stage_trigger_of(reason), 0},
	    {"error", error ? error : "", 0}};
	lfs_stage_audit(st, "stage-shred", error ? "failure" : "success", caller, d, error ? 7 : 6);
}

/* A leftover of a crash: a tree or record without its key (a shred after
 * step 1), or a key, record or tree of a creation that never committed.
 * The record goes last, after the markers (lfs_staging_recover): while it
 * is there, the next start knows there is something to finish. Returns
 * false when the key could not be destroyed (nothing else was done). */
static bool recover_one(struct lfs_staging *st, const struct lfs_stage_found *f)
{
	char hex[9], hidden[32];
	lfs_stage_id_hex(f->id, hex);
	snprintf(hidden, sizeof(hidden), LFS_STAGE_HIDDEN_PREFIX "%s", hex);
	/* A hidden tree, or a marker waiting under the id's name, is only
	 * ever left by a creation or an adoption. */
	const char *reason =
	    f->key || f->hidden_tree || f->placeholder ? "uncommitted" : "interrupted";
	if (f->key) {
		int r = lfs_stage_key_destroy(st->sdirfd, f->id);
		if (r < 0) {
			char why[128];
			snprintf(why, sizeof(why), "the key file could not be overwritten: %s",
			         strerror(-r));
			lfs_err("staging %s: %s", hex, why);
			lfs_stage_shred_audit(st, NULL, f->id, reason, NULL, NULL, 0, 0, why);
			st->failed++;
			return false;
		}
	}
	uint64_t files = 0, bytes = 0, f2 = 0, b2 = 0;
	int t = lfs_stage_remove_tree(st->sdirfd, f->id, &files, &bytes);
	int h = lfs_stage_remove_named_tree(st->sdirfd, hidden, &f2, &b2);
	int r = t < 0 ? t : h;
	lfs_info("staging %s: %s leftover removed (%llu files)", hex,
	         reason[0] == 'u' ? "uncommitted creation's" : "interrupted shred's",
	         (unsigned long long)(files + f2));
	/* Every leftover but a hidden tree alone (a creation stopped before
	 * anything of value) is worth an entry: a shred finished (a record
	 * alone is a shred cut short after its tree went, possibly before
	 * its entry was written), or the key of a creation that did not
	 * complete. */
	if (f->tree || f->key || (f->exp && !f->hidden_tree && !f->placeholder))
		lfs_stage_shred_audit(st, NULL, f->id, reason, NULL, NULL, files + f2, bytes + b2,
		                      r < 0 ? strerror(-r) : NULL);
	return r == 0;
}

/* Temporaries of lfs_replace_file (".NAME.tmp.XXXXXXXX") that a crash
 * left in VAULT/staging: a record, the index or the clock half written,
 * never a key (key files are written in place, once). */
static void remove_temporaries(struct lfs_staging *st)
{
	int err = 0;
	DIR *d = lfs_opendir_fd(st->sdirfd, &err);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		const char *t = strstr(de->d_name, ".tmp.");
		if (de->d_name[0] == '.' && t && strlen(t) == 13 &&
		    strncmp(de->d_name, LFS_STAGE_HIDDEN_PREFIX, strlen(LFS_STAGE_HIDDEN_PREFIX)) !=
		        0 &&
		    unlinkat(st->sdirfd, de->d_name, 0) == 0)
			lfs_info("staging: temporary file %s of an interrupted update removed",
			         de->d_name);
	}
	if (d)
		closedir(d);
}

void lfs_staging_recover(struct lfs_staging *st)
{
	/* Shared: only the host with the expiry role recovers, under the index
	 * lock (no creation of any host is then in flight); what another host
	 * found is left to it. */
	if (st->lease && (!st->expire || lfs_staging_cluster_lock(st) < 0)) {
		free(st->leftover);
		st->leftover = NULL;
		st->nleftover = 0;
		return;
	}
	/* Temporaries of other hosts' replacements may be in flight. */
	if (!st->lease)
		remove_temporaries(st);
	if (st->index_damaged) {
		char why[128];
		snprintf(why, sizeof(why),
		         "staging index %s: rebuilt from the key files and records",
		         st->index_error);
		lfs_err("%s (%zu live staging directories)", why, st->ix.n);
		struct lfs_audit_detail d[] = {{"what", "index", 0}, {"error", why, 0}};
		lfs_stage_audit(st, "stage-damaged", "failure", NULL, d, 2);
	}
	for (size_t i = 0; i < st->nleftover; i++)
		st->leftover[i].exp = recover_one(st, &st->leftover[i]); /* record may go */
	pthread_mutex_lock(&st->lock);
	uint32_t *ids = calloc(st->ix.n + 1, sizeof(*ids));
	size_t n = 0;
	for (size_t i = 0; ids && i < st->ix.n; i++)
		ids[n++] = st->ix.e[i].id;
	if (st->dirty && lfs_staging_sync_begin(st) == 0) {
		lfs_stage_store_locked(st);
		lfs_staging_sync_end(st);
	}
	pthread_mutex_unlock(&st->lock);
	for (size_t i = 0; i < n; i++)
		fix_meta(st, ids[i]);
	free(ids);
	if (st->nleftover) {
		long m = lfs_stage_sweep_markers(st->datafd, lfs_stage_is_dead, st);
		if (m >= 0)
			for (size_t i = 0; i < st->nleftover; i++)
				if (st->leftover[i].exp)
					lfs_stage_exp_remove(st->sdirfd, st->leftover[i].id);
		if (m > 0)
			lfs_info("%ld staging markers of removed directories swept", m);
	}
	free(st->leftover);
	st->leftover = NULL;
	st->nleftover = 0;
	lfs_staging_cluster_unlock(st);
}

unsigned lfs_staging_load_keys(struct lfs_staging *st)
{
	pthread_mutex_lock(&st->lock);
	size_t n = st->ix.n;
	uint32_t *ids = calloc(n + 1, sizeof(*ids));
	for (size_t i = 0; ids && i < n; i++)
		ids[i] = st->ix.e[i].id;
	pthread_mutex_unlock(&st->lock);
	if (!ids)
		return 0;
	unsigned bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t flags = 0, id = ids[i];
		char hex[9];
		lfs_stage_id_hex(id, hex);
		int r = lfs_stage_key_load(st->sdirfd, id, st->kr, &flags);
		if (r == -EACCES)
			break;
		if (r == 0)
			fix_meta(st, id); /* an adoption a crash cut before its step 6 */
		struct lfs_stage_exp x;
		uint8_t raw[LFS_STAGE_EXP_LEN];
		bool authentic = r == 0 && lfs_stage_exp_load(st->sdirfd, id, &x, raw) == 0 &&
		                 lfs_stage_exp_verify(st->kr, raw, sizeof(raw)) == 0;
		bool migrate = false, report = false, expire = false;
		pthread_mutex_lock(&st->lock);
		struct lfs_stage_entry *e = lfs_stage_index_find(&st->ix, id);
		if (e && r < 0) {
			report = !e->damaged;
			e->damaged = true;
			bad++;
		} else if (e && authentic) {
			/* The record is the authority now; other claims could
			 * only have made it earlier. */
			e->damaged = false;
			e->verified = true;
			e->owner = x.owner;
			e->created = x.created;
			e->quota = x.quota;
			e->expires = min_expiry(e->expires, x.expires);
		} else if (e && (flags & LFS_STAGE_KEY_NEEDS_EXP)) {
			e->damaged = false;
			e->expires = 0;
			e->why = "unauthenticated";
			expire = true;
		} else if (e) {
			/* A key file of an older version: its index entry was the
			 * only expiry it had; from now on a record carries it. */
			e->damaged = false;
			e->verified = true;
			lfs_stage_record_of(e, &x);
			migrate = true;
		}
		pthread_mutex_unlock(&st->lock);
		if (expire) {
			/* Not a moment of service without a proven expiry. */
			lfs_keyring_drop_staging(st->kr, id);
			lfs_err("staging %s: retention record missing or not authentic: shredded",
			        hex);
		}
		if (migrate && lfs_stage_exp_store(st->sdirfd, st->kr, &x) < 0)
			lfs_warn("staging %s: cannot write its retention record", hex);
		if (report) {
			const char *why = r == -EKEYREJECTED ? "key file does not authenticate"
			                  : r == -ENOENT     ? "key file missing"
			                  : r == -EINVAL     ? "key file malformed"
			                                     : strerror(-r);
			lfs_err("staging %s: %s: its directory reads as EIO until it expires", hex,
			        why);
			struct lfs_audit_detail d[] = {
			    {"what", "key", 0}, {"id", hex, 0}, {"error", why, 0}};
			lfs_stage_audit(st, "stage-damaged", "failure", NULL, d, 3);
		}
	}
	free(ids);
	return bad;
}

int lfs_staging_sync(struct lfs_staging *st)
{
	pthread_mutex_lock(&st->lock);
	int r = lfs_staging_sync_begin(st);
	if (r == 0) {
		r = lfs_stage_store_locked(st);
		lfs_staging_sync_end(st);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}
