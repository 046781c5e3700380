/* SPDX-License-Identifier: Apache-2.0 */
/* Creating a staging directory, crash-atomically (docs/FORMAT.md 12.7).
 * A staging directory exists once both its key file and its tree are in
 * place under VAULT/staging; the step that completes the pair is the
 * commit, a single call that puts the tree there:
 *
 *   mkdir under staging_root          adopting an empty directory
 *   1 tree made at .lethefs.tmp.ID    1 retention record ID.exp
 *   2 retention record ID.exp         2 key file ID.key
 *   3 key file ID.key, then the       3 its new .lethefs.dir inside it,
 *     tree's .lethefs.dir (format 2     under a pending name
 *     seals it under that key)        4 its marker, at VAULT/staging/ID
 *   4 marker in the tree              5 exchange of the directory and the
 *   5 rename .lethefs.tmp.ID -> ID      marker (commit)
 *     (commit)                        6 the pending .lethefs.dir renamed
 *                                       over the old one
 *
 * A crash before the commit leaves a key without a tree (or nothing):
 * the next start destroys that key and removes the rest, and the marker,
 * which names an id that is not live, is invisible and swept. An adopted
 * directory never leaves its name before the commit; everything that can
 * fail for want of space happens before it, and step 6, a rename in
 * place, is finished by the recovery without a key. */
#define _GNU_SOURCE
#include "stage.h"
#include "../cluster/backing.h"
#include "../fs/dirmeta.h"
#include "../fs/irec.h"
#include "../fs/names.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* Picks a fresh id and holds it as "being created" for owner, within the
 * per-user limit (root has none). */
static int reserve(struct lfs_staging *st, uid_t owner, uint32_t *id)
{
	int r = lfs_stage_new_id(st->sdirfd, id);
	if (r < 0)
		return r;
	pthread_mutex_lock(&st->lock);
	unsigned mine = 0;
	for (size_t i = 0; i < st->ix.n; i++)
		mine += st->ix.e[i].owner == (uint32_t)owner;
	int slot = -1;
	for (int i = 0; i < LFS_STAGE_CREATING_MAX; i++) {
		if (st->creating[i] && st->creating_owner[i] == (uint32_t)owner)
			mine++;
		if (!st->creating[i] && slot < 0)
			slot = i;
	}
	if (owner != 0 && st->max_per_user && mine >= st->max_per_user)
		r = -EDQUOT;
	else if (st->ix.n >= LFS_MAX_STAGING)
		r = -ENOSPC;
	else if (slot < 0)
		r = -EAGAIN;
	if (r == 0) {
		st->creating[slot] = *id;
		st->creating_owner[slot] = (uint32_t)owner;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* The commit is done: the directory enters the table (and leaves the
 * "being created" set in the same critical section). */
static void enter(struct lfs_staging *st, uint32_t id, const struct lfs_stage_exp *x,
                  const char *label, bool damaged)
{
	struct lfs_stage_entry e = {.id = id,
	                            .created = x->created,
	                            .expires = x->expires,
	                            .owner = x->owner,
	                            .verified = true,
	                            .damaged = damaged,
	                            .label = label ? strdup(label) : NULL};
	pthread_mutex_lock(&st->lock);
	for (int i = 0; i < LFS_STAGE_CREATING_MAX; i++)
		if (st->creating[i] == id)
			st->creating[i] = 0;
	if (lfs_stage_index_add(&st->ix, &e) < 0) {
		free(e.label);
		/* In memory only; the next start finds it from its files. */
		lfs_err("staging %08x: out of memory adding it to the table", id);
	}
	lfs_stage_store_locked(st);
	pthread_mutex_unlock(&st->lock);
}

static void unreserve(struct lfs_staging *st, uint32_t id)
{
	pthread_mutex_lock(&st->lock);
	for (int i = 0; i < LFS_STAGE_CREATING_MAX; i++)
		if (st->creating[i] == id)
			st->creating[i] = 0;
	pthread_mutex_unlock(&st->lock);
}

/* Undoes steps before a commit: key first, then what holds nothing. */
static void undo(struct lfs_staging *st, uint32_t id, bool keyed, const char *hidden)
{
	uint64_t f, b;
	if (keyed) {
		lfs_keyring_drop_staging(st->kr, id);
		int r = lfs_stage_key_destroy(st->sdirfd, id);
		if (r < 0)
			lfs_err("staging %08x: cannot destroy the key of a failed creation: %s", id,
			        strerror(-r));
	}
	lfs_stage_exp_remove(st->sdirfd, id);
	if (hidden)
		lfs_stage_remove_named_tree(st->sdirfd, hidden, &f, &b);
	unreserve(st, id);
}

static int link_marker(int pfd, const char *backing, uint32_t id)
{
	char target[LFS_STAGING_MARK_LEN + 9];
	char hex[9];
	lfs_stage_id_hex(id, hex);
	snprintf(target, sizeof(target), LFS_STAGING_MARK "%s", hex);
	if (symlinkat(target, pfd, backing) < 0)
		return -errno;
	/* A marker that is not synced is taken back: the caller then owns no
	 * marker, and the name is free for the adopted directory to return. */
	int r = lfs_fsync_dir(pfd);
	if (r < 0)
		unlinkat(pfd, backing, 0);
	return r;
}

static void created(struct lfs_staging *st, uint32_t id, const struct lfs_stage_new *n,
                    const struct lfs_stage_exp *x)
{
	char hex[9], exp[32];
	lfs_stage_id_hex(id, hex);
	lfs_stage_iso(x->expires, exp);
	struct lfs_audit_detail d[] = {{"path", n->label ? n->label : "?", 0},
	                               {"id", hex, 0},
	                               {"expires", exp, 0},
	                               {"ttl_seconds", NULL, (long long)(x->expires - x->created)},
	                               {"owner_uid", NULL, (long long)n->uid}};
	lfs_stage_audit(st, "stage-create", "success", n->caller, d, 5);
	/* Ids only in the system log: the path is in the audit log. */
	lfs_info("staging directory %s created, expires %s", hex, exp);
}

static void record_for(struct lfs_staging *st, uint32_t id, const struct lfs_stage_new *n,
                       struct lfs_stage_exp *x)
{
	int64_t now = lfs_staging_now(st);
	*x = (struct lfs_stage_exp){
	    .id = id, .owner = (uint32_t)n->uid, .created = now, .expires = now + (int64_t)n->ttl};
}

static int create(struct lfs_staging *st, const struct lfs_stage_new *n, int pfd,
                  const char *backing, uint32_t *idp)
{
	uint32_t id = 0;
	int r = lfs_staging_check_ttl(st, n->ttl);
	if (r == 0)
		r = reserve(st, n->uid, &id);
	if (r < 0)
		return r;
	char hex[9], hidden[32];
	lfs_stage_id_hex(id, hex);
	snprintf(hidden, sizeof(hidden), LFS_STAGE_HIDDEN_PREFIX "%s", hex);
	struct lfs_stage_exp x;
	record_for(st, id, n, &x);
	bool keyed = false, marked = false;
	/* 1: the tree, complete with its metadata, under a hidden name. */
	if (mkdirat(st->sdirfd, hidden, n->mode & 07777) < 0)
		r = -errno;
	int dfd = r < 0
	              ? -1
	              : openat(st->sdirfd, hidden, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r == 0 && dfd < 0)
		r = -errno;
	if (r == 0 && n->chown && fchown(dfd, n->uid, n->gid) < 0)
		r = -errno;
	/* 2, 3: the record, then the key; then the tree's metadata, which in
	 * format 2 is sealed under that key (the tree is still hidden). */
	if (r == 0)
		r = lfs_stage_exp_store(st->sdirfd, st->kr, &x);
	if (r == 0)
		keyed = (r = lfs_stage_key_create(st->sdirfd, st->kr, id)) == 0;
	if (r == 0)
		r = lfs_staging_write_meta(st->kr, dfd, id, NULL);
	if (dfd >= 0)
		close(dfd);
	/* 4: the marker (not live yet: invisible), 5: the commit. */
	if (r == 0)
		marked = (r = link_marker(pfd, backing, id)) == 0;
	if (r == 0)
		r = lfs_rename_noreplace_any(st->sdirfd, hidden, st->sdirfd, hex, false);
	if (r == 0 && fsync(st->sdirfd) < 0)
		lfs_warn("staging %s: cannot sync VAULT/staging: %s", hex, strerror(errno));
	if (r < 0) {
		if (marked)
			unlinkat(pfd, backing, 0);
		undo(st, id, keyed, hidden);
		return r;
	}
	enter(st, id, &x, n->label, false);
	created(st, id, n, &x);
	*idp = id;
	return 0;
}

/* The marker an adoption leaves where the directory was, made at
 * VAULT/staging/ID before the commit: it names an id that is not live yet,
 * and the scan takes it for a creation that did not commit. */
static int place_marker(struct lfs_staging *st, const char *hex)
{
	char target[LFS_STAGING_MARK_LEN + 9];
	snprintf(target, sizeof(target), LFS_STAGING_MARK "%s", hex);
	if (symlinkat(target, st->sdirfd, hex) < 0)
		return -errno;
	int r = fsync(st->sdirfd) < 0 ? -errno : 0;
	if (r < 0)
		unlinkat(st->sdirfd, hex, 0);
	return r;
}

/* Backing filesystems without RENAME_EXCHANGE (docs/SHARED.md): the
 * directory steps aside to a hidden name, the marker takes its name, the
 * directory moves to VAULT/staging/ID. A crash between the first and the
 * last rename leaves the directory hidden (FORMAT.md 12.7 says so). */
static int commit_in_steps(struct lfs_staging *st, int pfd, const char *base, uint32_t id,
                           const char *hex)
{
	char hidden[64];
	snprintf(hidden, sizeof(hidden), LFS_TMP_PREFIX "%08x%08x", randombytes_random(),
	         randombytes_random());
	if (unlinkat(st->sdirfd, hex, 0) < 0)
		return -errno;
	int r = lfs_rename_noreplace_any(pfd, base, pfd, hidden, false);
	if (r < 0)
		return r;
	bool marked = (r = link_marker(pfd, base, id)) == 0;
	if (r == 0)
		r = lfs_rename_noreplace_any(pfd, hidden, st->sdirfd, hex, false);
	if (r < 0) {
		if (marked)
			unlinkat(pfd, base, 0);
		if (lfs_rename_noreplace_any(pfd, hidden, pfd, base, false) < 0)
			lfs_err("staging %s: cannot put back the adopted directory (left hidden as "
			        "%s): %s",
			        hex, hidden, strerror(errno));
	}
	return r;
}

/* 5: the commit. One exchange puts the directory at VAULT/staging/ID and
 * the marker under its name; where the filesystem cannot exchange, the
 * fallback above. */
static int commit_adoption(struct lfs_staging *st, int pfd, const char *base, uint32_t id,
                           const char *hex, bool *exchanged)
{
	*exchanged = renameat2(pfd, base, st->sdirfd, hex, RENAME_EXCHANGE) == 0;
	if (*exchanged)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	return commit_in_steps(st, pfd, base, id, hex);
}

static void sync_both(struct lfs_staging *st, int pfd, const char *hex)
{
	if (fsync(st->sdirfd) < 0 || lfs_fsync_dir(pfd) < 0)
		lfs_warn("staging %s: cannot sync after the commit: %s", hex, strerror(errno));
}

static int adopt(struct lfs_staging *st, const struct lfs_stage_new *n, int pfd, const char *base,
                 int dfd, uint32_t *idp)
{
	uint32_t id = 0;
	int r = lfs_staging_check_ttl(st, n->ttl);
	if (r == 0)
		r = reserve(st, n->uid, &id);
	if (r < 0)
		return r;
	char hex[9];
	lfs_stage_id_hex(id, hex);
	struct lfs_stage_exp x;
	record_for(st, id, n, &x);
	bool keyed = false, staged = false, placed = false, exchanged = false;
	/* 1, 2: the record, the key. */
	r = lfs_stage_exp_store(st->sdirfd, st->kr, &x);
	if (r == 0)
		keyed = (r = lfs_stage_key_create(st->sdirfd, st->kr, id)) == 0;
	/* 3: its metadata under the staging key, beside the old one (format
	 * 2 seals the record it has); 4: the marker it will leave behind. */
	if (r == 0)
		staged = (r = lfs_stage_meta_stage(st->kr, dfd, id)) == 0;
	if (r == 0)
		placed = (r = place_marker(st, hex)) == 0;
	if (r == 0)
		r = commit_adoption(st, pfd, base, id, hex, &exchanged);
	if (r == 0) {
		sync_both(st, pfd, hex);
		/* 6: its names from now on under the staging key. */
		int fr = lfs_stage_meta_finish(dfd, id);
		r = fr == 1 ? 0 : fr < 0 ? fr : -EIO;
		if (r < 0 && exchanged &&
		    renameat2(pfd, base, st->sdirfd, hex, RENAME_EXCHANGE) == 0) {
			/* Nothing else changed since the commit: undone by the
			 * same exchange, the marker is back at ID. */
			sync_both(st, pfd, hex);
		} else if (r < 0) {
			/* Committed, with the names of its old id: nothing may be
			 * written in it before the next start completes it (its
			 * key is not loaded: it reads as EIO, as damaged). */
			lfs_err("staging %s: cannot put its directory metadata in place, nor undo "
			        "the adoption: it reads as EIO until the next start completes it",
			        hex);
			lfs_keyring_drop_staging(st->kr, id);
			enter(st, id, &x, n->label, true);
			created(st, id, n, &x); /* it exists, and will be shredded */
			return r;
		}
	}
	if (r < 0) {
		if (placed)
			unlinkat(st->sdirfd, hex, 0);
		if (staged)
			lfs_stage_meta_discard(dfd);
		undo(st, id, keyed, NULL);
		return r;
	}
	enter(st, id, &x, n->label, false);
	created(st, id, n, &x);
	*idp = id;
	return 0;
}

/* Shared: the whole creation under the index lock (stage_shared.c), so
 * that another host's crash recovery never takes it for an interrupted
 * one, and the new id is checked against every host's directories. */
int lfs_staging_create(struct lfs_staging *st, const struct lfs_stage_new *n, int pfd,
                       const char *backing, uint32_t *idp)
{
	int r = lfs_staging_cluster_lock(st);
	if (r < 0)
		return r;
	r = create(st, n, pfd, backing, idp);
	lfs_staging_cluster_unlock(st);
	return r;
}

int lfs_staging_adopt(struct lfs_staging *st, const struct lfs_stage_new *n, int pfd,
                      const char *base, int dfd, uint32_t *idp)
{
	int r = lfs_staging_cluster_lock(st);
	if (r < 0)
		return r;
	r = adopt(st, n, pfd, base, dfd, idp);
	lfs_staging_cluster_unlock(st);
	return r;
}
