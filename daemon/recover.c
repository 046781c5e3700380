/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "recover.h"
#include "../common/log.h"
#include "../cluster/rangelock.h"
#include "../fs/filelock.h"
#include "../fs/overwrite.h"
#include "../fs/rename_dir.h"
#include "../fs/rename_record.h"
#include "../fs/tail.h"
#include "../journal/target.h"
#include "../rotation/batch.h"
#include "../rotation/record.h"
#include "../rotation/upconvert.h"
#include "../keymgmt/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static const char *where(const struct lfs_journal_record *r)
{
	return r->target.path_len ? r->target.path : "(by handle)";
}

/* The record's target, or (counted, and said when it is an error) why
 * not: -ENOENT when it is gone (nothing left to finish), another negative
 * errno when it cannot be opened. */
static int open_target(struct lfs_recovery *rc, const struct lfs_journal_record *r, int flags)
{
	int fd = lfs_journal_target_open(&r->target, rc->data_dirfd, rc->handle_mount_fd, flags);
	if (fd == -ENOENT || fd == -ESTALE) {
		/* Said: a record counted gone is dropped (cause D of
		 * tests/fault/KNOWN-FAILURES.md). */
		lfs_info("recovery: d/%s of a kind-%u record not found (%s): dropped", where(r),
		         r->kind, strerror(-fd));
		rc->gone++;
		return -ENOENT;
	}
	if (fd < 0) {
		lfs_err("recovery: cannot open d/%s: %s", where(r), strerror(-fd));
		rc->failed++;
	}
	return fd;
}

/* The common ends of applying a record, counted and said: the target
 * replaced meanwhile (-ESTALE), a record that authenticates but makes no
 * sense (-EINVAL, when kind names it), an error (doing says what failed).
 * Returns 1 for success (the caller counts it), else what the apply
 * function returns: 0 clears the record, an error keeps it. */
static int settle(struct lfs_recovery *rc, const struct lfs_journal_record *r, int e,
                  const char *kind, const char *doing)
{
	if (e == -ESTALE) {
		lfs_info("recovery: d/%s is another file than its kind-%u record's: dropped",
		         where(r), r->kind);
		rc->gone++;
		return 0;
	}
	if (e == -EINVAL && kind) {
		lfs_err("recovery: unusable %s record for d/%s ignored", kind, where(r));
		rc->failed++;
		return 0; /* authentic but unusable: keeping it helps no one */
	}
	if (e < 0) {
		lfs_err("recovery: cannot %s d/%s: %s", doing, where(r), strerror(-e));
		rc->failed++;
		return e;
	}
	return 1;
}

/* A record that finished its update or undid it: counted and said. */
static int finished(struct lfs_recovery *rc, const struct lfs_journal_record *r, bool completed,
                    const char *what, const char *done_word, const char *undone_word)
{
	if (completed)
		rc->completed++;
	else
		rc->rolled_back++;
	lfs_info("recovery: the interrupted %s d/%s was %s", what, where(r),
	         completed ? done_word : undone_word);
	return 0;
}

/* Takes the write lock of a target's size byte where other hosts may write
 * the file (shared mode: fs/filelock.h). Without the lock a repair could
 * race another host's write, so a failure keeps the record for the next
 * recovery; EINVAL is reported as ENOLCK, since settle() drops a record
 * whose application says EINVAL. */
static int lock_target(struct lfs_recovery *rc, int fd)
{
	if (!rc->lock_targets)
		return 0;
	int e = lfs_range_lock(fd, true, LFS_FLOCK_SIZE, 1, true);
	return e == -EINVAL ? -ENOLCK : e;
}

static int apply_tail(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	struct lfs_tail t;
	struct lfs_layout l;
	int fd = open_target(rc, r, O_RDWR);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	/* Other hosts' writes wait (and they see the file only once whole). */
	int e = lock_target(rc, fd);
	/* The record's lengths are those of the file's header version. */
	if (e == 0)
		e = lfs_tail_layout(fd, rc->layout->cipher, &l);
	if (e == 0 && lfs_tail_decode(r->payload, r->payload_len, &l, &t) < 0) {
		/* Well-formed for the other header version: the record is of
		 * another file than the one now under its name or handle. */
		struct lfs_layout other;
		lfs_layout_init(&other, l.cipher,
		                l.version == LFS_FILE_V2 ? LFS_FILE_V1 : LFS_FILE_V2);
		bool foreign = lfs_tail_decode(r->payload, r->payload_len, &other, &t) == 0;
		close(fd);
		if (foreign) {
			lfs_info(
			    "recovery: d/%s has a version-%u header, its tail record is for the "
			    "other version: dropped",
			    where(r), l.version);
			rc->gone++;
			return 0;
		}
		lfs_err("recovery: malformed tail record for d/%s ignored", where(r));
		rc->failed++;
		return 0; /* authentic but unusable: keeping it helps no one */
	}
	bool completed = false;
	if (e == 0)
		e = lfs_tail_recover_any(&l, rc->kr, fd, &t, &completed);
	close(fd);
	int done = settle(rc, r, e, NULL, "finish the update of");
	if (done != 1)
		return done;
	return finished(rc, r, completed, "update of", "completed", "undone");
}

/* Blocks a kill may have cut while they were rewritten in place
 * (fs/overwrite.h). */
static int apply_overwrite(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	int fd = open_target(rc, r, O_RDWR);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	unsigned repaired = 0, lost = 0;
	/* Other hosts' writes to the file wait (fs/filelock.h). */
	int e = lock_target(rc, fd);
	if (e == 0)
		e = lfs_overwrite_recover(rc->layout, rc->kr, fd, r, &repaired, &lost);
	close(fd);
	int done = settle(rc, r, e, "block", "repair the blocks of");
	if (done != 1)
		return done;
	rc->repaired += repaired;
	rc->lost += lost;
	if (repaired)
		lfs_info("recovery: %u block(s) of d/%s cut by an interrupted write were put back",
		         repaired, where(r));
	if (lost)
		lfs_err("recovery: %u block(s) of d/%s were cut and cannot be put back", lost,
		        where(r));
	rc->completed += repaired > 0;
	return 0;
}

/* A file or directory whose conversion to a new data-key epoch a crash
 * interrupted (rotation/record.h). */
static int apply_rotation(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	bool file = r->kind == LFS_JK_ROTATE_FILE;
	int fd = open_target(rc, r, file ? O_RDWR : O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	int e = file ? lock_target(rc, fd) : 0;
	/* Finishing the file rewrites its blocks in place: under block
	 * records of its own, like the conversion it finishes. */
	struct lfs_overwriter w = {
	    .journal = rc->journal, .key = rc->journal_key, .target = &r->target, .kr = rc->kr};
	if (e == 0)
		e = file ? lfs_rot_apply_file(rc->layout->cipher, rc->kr, &w, fd, r->payload,
		                              r->payload_len)
		         : lfs_rot_apply_dir(rc->kr, fd, r->payload, r->payload_len);
	close(fd);
	int done = settle(rc, r, e, "rotation", "finish the rotation of");
	if (done != 1)
		return done;
	rc->completed++;
	lfs_info("recovery: the interrupted rotation of d/%s was finished", where(r));
	return 0;
}

/* The files of a batch a crash interrupted (rotation/batch.h): each entry
 * as a kind-2 record. Files converted before the crash carry the new
 * header and are left alone; the record stays while one could not be
 * finished. */
static int apply_rotation_batch(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	struct lfs_journal_target *t = malloc(sizeof(*t));
	uint32_t count = 0;
	int kept = 0, e = t ? lfs_rot_batch_count(r->payload, r->payload_len, &count) : -ENOMEM;
	size_t off = 0;
	unsigned done = 0;
	while (e == 0) {
		const uint8_t *old_raw, *new_raw;
		size_t hdr_len;
		int n = lfs_rot_batch_next(r->payload, r->payload_len, &off, t, &old_raw, &new_raw,
		                           &hdr_len);
		if (n <= 0) {
			e = n < 0 || done != count ? -EINVAL : 0;
			break;
		}
		done++;
		int fd = lfs_journal_target_open(t, rc->data_dirfd, rc->handle_mount_fd, O_RDWR);
		const char *name = t->path_len ? t->path : "(by handle)";
		if (fd == -ENOENT || fd == -ESTALE) {
			rc->gone++;
			continue;
		}
		if (fd < 0) {
			lfs_err("recovery: cannot open d/%s: %s", name, strerror(-fd));
			rc->failed++;
			kept = fd;
			continue;
		}
		int l = lock_target(rc, fd);
		if (l < 0) {
			lfs_err("recovery: cannot lock d/%s: %s", name, strerror(-l));
			close(fd);
			rc->failed++;
			kept = l;
			continue;
		}
		uint8_t payload[2 * LFS_FILE_HDR_MAX];
		memcpy(payload, old_raw, hdr_len);
		memcpy(payload + hdr_len, new_raw, hdr_len);
		struct lfs_overwriter w = {
		    .journal = rc->journal, .key = rc->journal_key, .target = t, .kr = rc->kr};
		int a =
		    lfs_rot_apply_file(rc->layout->cipher, rc->kr, &w, fd, payload, 2 * hdr_len);
		close(fd);
		if (a == -ESTALE) {
			rc->gone++;
		} else if (a == -EINVAL) {
			lfs_err("recovery: unusable rotation entry for d/%s ignored", name);
			rc->failed++;
		} else if (a < 0) {
			lfs_err("recovery: cannot finish the rotation of d/%s: %s", name,
			        strerror(-a));
			rc->failed++;
			kept = a;
		} else {
			rc->completed++;
		}
	}
	free(t);
	if (e == -EINVAL) {
		lfs_err("recovery: malformed rotation batch record ignored");
		rc->failed++;
		return 0; /* authentic but unusable: keeping it helps no one */
	}
	if (e < 0)
		return e;
	if (kept == 0)
		lfs_info("recovery: an interrupted rotation batch of %u file(s) was finished",
		         count);
	return kept;
}

/* A format-1 file whose conversion to format 2 a crash interrupted
 * (rotation/upconvert.h). */
static int apply_upconvert(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	int fd = open_target(rc, r, O_RDWR);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	bool completed = false;
	int e = lock_target(rc, fd);
	if (e == 0)
		e = lfs_up_apply_file(rc->layout->cipher, rc->kr, rc->data_dirfd, fd, r->payload,
		                      r->payload_len, &completed);
	close(fd);
	int done = settle(rc, r, e, "conversion", "finish the conversion to format 2 of");
	if (done != 1)
		return done;
	return finished(rc, r, completed, "conversion to format 2 of", "finished",
	                "dropped (nothing had changed)");
}

/* A directory renamed onto an empty one (fs/rename_dir.c). */
static int apply_rename_dir(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	int fd = open_target(rc, r, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	bool completed = false;
	int e = lfs_rename_dir_recover(fd, r->payload, r->payload_len, &completed);
	close(fd);
	int done = settle(rc, r, e, "rename", "finish a rename in");
	if (done != 1)
		return done;
	return finished(rc, r, completed, "rename in", "completed", "undone");
}

static int apply(void *arg, const struct lfs_journal_record *r)
{
	struct lfs_recovery *rc = arg;
	if (rc->images_only && r->kind != LFS_JK_OVERWRITE)
		return -EAGAIN; /* kept for the pass that applies everything */
	switch (r->kind) {
	case LFS_JK_UPCONVERT:
		return apply_upconvert(rc, r);
	case LFS_JK_TAIL:
		return apply_tail(rc, r);
	case LFS_JK_ROTATE_FILE:
	case LFS_JK_ROTATE_DIR:
		return apply_rotation(rc, r);
	case LFS_JK_ROTATE_BATCH:
		return apply_rotation_batch(rc, r);
	case LFS_JK_RENAME_DIR:
		return apply_rename_dir(rc, r);
	case LFS_JK_OVERWRITE:
		return apply_overwrite(rc, r);
	case LFS_JK_RENAME: {
		int e = lfs_rename_record_apply(rc->data_dirfd, r);
		if (e == -EINVAL) {
			lfs_err("recovery: malformed rename record for d/%s ignored", where(r));
			rc->failed++;
			return 0;
		}
		if (e < 0) {
			lfs_err("recovery: cannot finish the rename of d/%s: %s", where(r),
			        strerror(-e));
			rc->failed++;
			return e;
		}
		rc->completed++;
		return 0;
	}
	case LFS_JK_KEYRING:
		/* Installed by the unlock that gave us kr (keymgmt/vault_slots.c):
		 * the keyring in use is the one the record carried. */
		rc->completed++;
		return 0;
	default:
		/* A kind this version does not know: keep it for one that
		 * does, and say so. */
		lfs_err("recovery: journal record of unknown kind %u kept", r->kind);
		rc->failed++;
		return -ENOSYS;
	}
}

int lfs_recover(struct lfs_recovery *rc)
{
	rc->completed = rc->rolled_back = rc->gone = rc->failed = rc->rejected = 0;
	rc->repaired = rc->lost = 0;
	if (!rc->journal || rc->journal->fd < 0)
		return 0;
	uint8_t key[LFS_JOURNAL_KEY_LEN];
	int r = lfs_keyring_copy_journal_key(rc->kr, key);
	if (r < 0)
		return r;
	rc->journal_key = key;
	r = lfs_journal_replay(rc->journal, key, apply, rc, &rc->rejected);
	rc->journal_key = NULL;
	if (r >= 0 && rc->rejected && !rc->images_only) {
		/* Torn before they were complete (nothing was changed under
		 * them yet), or not written by this vault's daemon. */
		lfs_warn("recovery: %u journal record(s) do not authenticate and were ignored",
		         rc->rejected);
		lfs_journal_clear_rejected(rc->journal, key);
	}
	sodium_memzero(key, sizeof(key));
	return r < 0 ? r : 0;
}

struct vault_pass {
	struct lfs_vault *v;
	struct lfs_keyring *kr;
	struct lfs_recovery *total;
	const struct lfs_layout *layout;
	int dfd;
	bool images_only;
	int err;
};

/* One journal of the vault; the counts add up in the pass's total. */
static int recover_one(const char *name, void *arg)
{
	struct vault_pass *p = arg;
	struct lfs_journal j;
	int r = lfs_journal_open_named(&j, p->v->dirfd, name, p->v->cfg.uuid, false, 0);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		p->err = r;
		return 1;
	}
	struct lfs_recovery rc = {.journal = &j,
	                          .kr = p->kr,
	                          .layout = p->layout,
	                          .data_dirfd = p->dfd,
	                          .handle_mount_fd = p->dfd, /* any descriptor on the vault */
	                          .images_only = p->images_only};
	r = lfs_recover(&rc);
	lfs_journal_close(&j);
	p->total->completed += rc.completed;
	p->total->rolled_back += rc.rolled_back;
	p->total->gone += rc.gone;
	p->total->failed += rc.failed;
	if (!p->images_only) /* the same records are counted again by the second pass */
		p->total->rejected += rc.rejected;
	p->total->repaired += rc.repaired;
	p->total->lost += rc.lost;
	if (r < 0) {
		p->err = r;
		return 1;
	}
	return 0;
}

int lfs_recover_vault(struct lfs_vault *v, struct lfs_keyring *kr, struct lfs_recovery *rc)
{
	struct lfs_layout l;
	memset(rc, 0, sizeof(*rc));
	int dfd =
	    openat(v->dirfd, LFS_DATA_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	lfs_layout_init(&l, v->cfg.cipher, LFS_FILE_V1); /* its cipher: files have their own */
	/* Every journal: the caller holds the vault alone (the exclusive
	 * lease), so no host runs that could still own one. */
	struct vault_pass p = {.v = v, .kr = kr, .total = rc, .layout = &l, .dfd = dfd};
	/* Block images of every journal first (they repair blocks that other
	 * records' recovery reads), then everything else. */
	p.images_only = true;
	int r = lfs_journal_list(v->dirfd, recover_one, &p);
	if (r >= 0 && p.err == 0) {
		p.images_only = false;
		r = lfs_journal_list(v->dirfd, recover_one, &p);
	}
	close(dfd);
	return r < 0 ? r : p.err;
}
