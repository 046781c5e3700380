/* SPDX-License-Identifier: Apache-2.0 */
/* fsck of staging directories (docs/STAGING.md): each key file must open
 * under the master key, each retention record must authenticate, the
 * index must parse, and each tree is checked like the rest of the vault
 * with its own key. Leftovers of a crash and expired directories are
 * pending: the next mount (or shred-expired, or --repair) finishes them. */
#define _GNU_SOURCE
#include "cli.h"
#include "fsck.h"
#include "../staging/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lfs_fsck_pending(struct fsck *f, const char *path, const char *what)
{
	f->pending++;
	lfs_fsck_item(&f->rep, "pending", path, what);
}

void lfs_fsck_marker(struct fsck *f, uint32_t id, const char *path)
{
	for (size_t i = 0; i < f->nstage_live; i++)
		if (f->stage_live[i] == id)
			return;
	char what[96];
	snprintf(what, sizeof(what),
	         "marker of staging directory %08x, which is gone (swept at the next mount)", id);
	lfs_fsck_pending(f, path, what);
}

static void fsck_audit(void *arg, const char *event, const char *outcome,
                       const struct lfs_audit_caller *caller, const struct lfs_audit_detail *d,
                       size_t n)
{
	(void)caller;
	void **a = arg;
	lfs_cli_audit(a[0], a[1], event, outcome, d, n);
}

/* What a mount does first, for --repair: leftovers and expiry. */
static void repair_staging(struct fsck *f, struct lfs_vault *v, struct lfs_keyring *kr)
{
	int datafd = openat(v->dirfd, LFS_DATA_DIR_NAME, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct lfs_staging st;
	if (datafd < 0 || lfs_staging_init(&st, v->dirfd, datafd, kr, &v->cfg) < 0) {
		if (datafd >= 0)
			close(datafd);
		return;
	}
	void *arg[2] = {v, kr};
	st.events = (struct lfs_event_sink){.emit = fsck_audit, .ctx = arg};
	lfs_staging_recover(&st);
	lfs_staging_load_keys(&st); /* checks records; drops what does not authenticate */
	int n = lfs_staging_tick(&st);
	lfs_staging_destroy(&st);
	close(datafd);
	if (n)
		lfs_fsck_note(&f->rep, "repair: %d staging director%s shredded", n,
		              n == 1 ? "y" : "ies");
}

static const char *key_error(int r)
{
	return r == -EKEYREJECTED ? "staging key does not open under the master key"
	       : r == -EINVAL     ? "staging key file malformed"
	       : r == -ENOENT     ? "staging key file missing"
	                          : strerror(-r);
}

static void check_one(struct fsck *f, int sdirfd, uint32_t id, const struct lfs_stage_entry *claim,
                      int64_t now, struct lfs_keyring *kr)
{
	char hex[9], path[64], what[200];
	lfs_stage_id_hex(id, hex);
	uint32_t flags = 0;
	int r = lfs_stage_key_load(sdirfd, id, kr, &flags);
	struct lfs_stage_exp x;
	uint8_t raw[LFS_STAGE_EXP_LEN];
	int er = lfs_stage_exp_load(sdirfd, id, &x, raw);
	int64_t expires = er == 0 ? x.expires : INT64_MAX;
	if (claim && claim->expires < expires)
		expires = claim->expires;
	/* An expired directory's key may be half way through its overwrite
	 * (a shred a crash interrupted): the shred is pending, reported below. */
	if (r < 0 && expires > now) {
		snprintf(path, sizeof(path), "staging/%s.key", hex);
		snprintf(what, sizeof(what), "%s: its directory reads as EIO until it expires",
		         key_error(r));
		lfs_fsck_problem(f, path, what);
	}
	bool authentic = er == 0 && r == 0 && lfs_stage_exp_verify(kr, raw, sizeof(raw)) == 0;
	snprintf(path, sizeof(path), "staging/%s.exp", hex);
	if (r == 0 && !authentic && (flags & LFS_STAGE_KEY_NEEDS_EXP))
		lfs_fsck_problem(f, path,
		                 "retention record missing or not authentic: the "
		                 "directory is shredded at the next mount");
	else if (r == 0 && !authentic)
		lfs_fsck_pending(f, path,
		                 "no retention record (made by an older version): "
		                 "written from the index at the next unlocked mount");
	snprintf(path, sizeof(path), "staging/%s", hex);
	if (expires <= now)
		lfs_fsck_pending(f, path,
		                 "expired: shredded at the next mount, by "
		                 "'lethefs shred-expired' or by 'fsck --repair'");
	if (r < 0)
		return;
	int tfd = openat(sdirfd, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0) {
		lfs_fsck_problem(f, path, strerror(errno));
	} else {
		f->stage_id = id;
		f->stage_tree_fd = tfd;
		lfs_fsck_check_dir(f, tfd, path);
		f->stage_id = 0;
		f->stage_tree_fd = -1;
		close(tfd);
	}
	lfs_keyring_drop_staging(kr, id);
}

void lfs_fsck_staging(struct fsck *f, struct lfs_vault *v, struct lfs_keyring *kr, bool repair)
{
	if (repair)
		repair_staging(f, v, kr);
	int sdirfd = lfs_stage_dir_open(v->dirfd, false);
	if (sdirfd == -ENOENT)
		return;
	if (sdirfd < 0) {
		lfs_fsck_problem(f, "staging", strerror(-sdirfd));
		return;
	}
	struct lfs_stage_index claims = {0};
	int ir = lfs_stage_index_load(sdirfd, &claims);
	if (ir < 0)
		lfs_fsck_problem(f, "staging/index",
		                 ir == -EINVAL ? "malformed: rebuilt from the key files and "
		                                 "retention records at the next mount"
		                               : strerror(-ir));
	struct lfs_stage_found *found = NULL;
	size_t n = 0;
	int r = lfs_stage_scan(sdirfd, &found, &n);
	if (r < 0)
		lfs_fsck_problem(f, "staging", strerror(-r));
	struct lfs_stage_clock clk;
	lfs_stage_clock_init(&clk, v->cfg.uuid, sdirfd);
	int64_t now = lfs_stage_clock_now(&clk);
	lfs_stage_clock_destroy(&clk);
	f->stage_live = calloc(n + 1, sizeof(*f->stage_live));
	for (size_t i = 0; i < n; i++) {
		char hex[9], path[64];
		lfs_stage_id_hex(found[i].id, hex);
		snprintf(path, sizeof(path), "staging/%s", hex);
		if (found[i].key && found[i].tree) {
			if (f->stage_live)
				f->stage_live[f->nstage_live++] = found[i].id;
			const struct lfs_stage_entry *c =
			    lfs_stage_index_find(&claims, found[i].id);
			if (ir == 0 && !c)
				lfs_fsck_pending(f, path,
				                 "missing from the index (rebuilt at the next "
				                 "mount)");
			check_one(f, sdirfd, found[i].id, c, now, kr);
		} else if (found[i].key) {
			lfs_fsck_pending(f, path,
			                 "a creation that did not complete: its key is "
			                 "destroyed at the next mount or by shred-expired");
		} else {
			lfs_fsck_pending(f, path,
			                 "no key file (an interrupted shred, or a deleted "
			                 "key): its data can never be read again; removed at "
			                 "the next mount or by shred-expired");
		}
	}
	free(found);
	lfs_stage_index_free(&claims);
	close(sdirfd);
}
