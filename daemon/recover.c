/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "recover.h"
#include "../common/log.h"
#include "../fs/overwrite.h"
#include "../fs/rename_dir.h"
#include "../fs/tail.h"
#include "../journal/target.h"
#include "../rotation/record.h"
#include "../rotation/upconvert.h"
#include "../keymgmt/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static const char *where(const struct lfs_journal_record *r)
{
	return r->target.path_len ? r->target.path : "(by handle)";
}

static int apply_tail(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	struct lfs_tail t;
	struct lfs_layout l;
	int fd = lfs_journal_target_open(&r->target, rc->data_dirfd, rc->handle_mount_fd, O_RDWR);
	if (fd == -ENOENT || fd == -ESTALE) {
		rc->gone++;
		return 0;
	}
	if (fd < 0) {
		lfs_err("recovery: cannot open d/%s: %s", where(r), strerror(-fd));
		rc->failed++;
		return fd;
	}
	/* The record's lengths are those of the file's header version. */
	int e = lfs_tail_layout(fd, rc->layout->cipher, &l);
	if (e == 0 && lfs_tail_decode(r->payload, r->payload_len, &l, &t) < 0) {
		/* Well-formed for the other header version: the record is of
		 * another file than the one now under its name or handle. */
		struct lfs_layout other;
		lfs_layout_init(&other, l.cipher, l.version == LFS_FILE_V2 ? LFS_FILE_V1 : LFS_FILE_V2);
		bool foreign = lfs_tail_decode(r->payload, r->payload_len, &other, &t) == 0;
		close(fd);
		if (foreign) {
			rc->gone++;
			return 0;
		}
		lfs_err("recovery: malformed tail record for d/%s ignored", where(r));
		rc->failed++;
		return 0; /* authentic but unusable: keeping it helps no one */
	}
	bool completed = false;
	if (e == 0)
		e = lfs_tail_recover(&l, rc->kr, fd, &t, &completed);
	close(fd);
	if (e == -ESTALE) {
		rc->gone++; /* another file under that name now */
		return 0;
	}
	if (e < 0) {
		lfs_err("recovery: cannot finish the update of d/%s: %s", where(r), strerror(-e));
		rc->failed++;
		return e;
	}
	if (completed)
		rc->completed++;
	else
		rc->rolled_back++;
	lfs_info("recovery: the interrupted update of d/%s was %s", where(r),
	         completed ? "completed" : "undone");
	return 0;
}

/* Blocks a kill may have cut while they were rewritten in place
 * (fs/overwrite.h). */
static int apply_overwrite(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	int fd = lfs_journal_target_open(&r->target, rc->data_dirfd, rc->handle_mount_fd, O_RDWR);
	if (fd == -ENOENT || fd == -ESTALE) {
		rc->gone++;
		return 0;
	}
	if (fd < 0) {
		lfs_err("recovery: cannot open d/%s: %s", where(r), strerror(-fd));
		rc->failed++;
		return fd;
	}
	unsigned repaired = 0, lost = 0;
	int e = lfs_overwrite_recover(rc->layout, rc->kr, fd, r, &repaired, &lost);
	close(fd);
	if (e == -ESTALE) {
		rc->gone++;
		return 0;
	}
	if (e == -EINVAL) {
		lfs_err("recovery: unusable block record for d/%s ignored", where(r));
		rc->failed++;
		return 0;
	}
	if (e < 0) {
		lfs_err("recovery: cannot repair the blocks of d/%s: %s", where(r), strerror(-e));
		rc->failed++;
		return e;
	}
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
	int fd = lfs_journal_target_open(&r->target, rc->data_dirfd, rc->handle_mount_fd,
					 file ? O_RDWR : O_RDONLY | O_DIRECTORY);
	if (fd == -ENOENT || fd == -ESTALE) {
		rc->gone++;
		return 0;
	}
	if (fd < 0) {
		lfs_err("recovery: cannot open d/%s: %s", where(r), strerror(-fd));
		rc->failed++;
		return fd;
	}
	/* Finishing the file rewrites its blocks in place: under block
	 * records of its own, like the conversion it finishes. */
	struct lfs_overwriter w = {
	    .journal = rc->journal, .key = rc->journal_key, .target = &r->target, .kr = rc->kr};
	int e = file ? lfs_rot_apply_file(rc->layout->cipher, rc->kr, &w, fd, r->payload, r->payload_len)
		     : lfs_rot_apply_dir(rc->kr, fd, r->payload, r->payload_len);
	close(fd);
	if (e == -ESTALE) {
		rc->gone++;
		return 0;
	}
	if (e == -EINVAL) {
		lfs_err("recovery: unusable rotation record for d/%s ignored", where(r));
		rc->failed++;
		return 0;
	}
	if (e < 0) {
		lfs_err("recovery: cannot finish the rotation of d/%s: %s", where(r), strerror(-e));
		rc->failed++;
		return e;
	}
	rc->completed++;
	lfs_info("recovery: the interrupted rotation of d/%s was finished", where(r));
	return 0;
}

/* A format-1 file whose conversion to format 2 a crash interrupted
 * (rotation/upconvert.h). */
static int apply_upconvert(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	int fd = lfs_journal_target_open(&r->target, rc->data_dirfd, rc->handle_mount_fd, O_RDWR);
	if (fd == -ENOENT || fd == -ESTALE) {
		rc->gone++;
		return 0;
	}
	if (fd < 0) {
		lfs_err("recovery: cannot open d/%s: %s", where(r), strerror(-fd));
		rc->failed++;
		return fd;
	}
	bool completed = false;
	int e = lfs_up_apply_file(rc->layout->cipher, rc->kr, rc->data_dirfd, fd, r->payload,
	                          r->payload_len, &completed);
	close(fd);
	if (e == -ESTALE) {
		rc->gone++;
		return 0;
	}
	if (e == -EINVAL) {
		lfs_err("recovery: unusable conversion record for d/%s ignored", where(r));
		rc->failed++;
		return 0;
	}
	if (e < 0) {
		lfs_err("recovery: cannot finish the conversion of d/%s to format 2: %s", where(r),
		        strerror(-e));
		rc->failed++;
		return e;
	}
	if (completed)
		rc->completed++;
	else
		rc->rolled_back++;
	lfs_info("recovery: the interrupted conversion of d/%s to format 2 was %s", where(r),
	         completed ? "finished" : "dropped (nothing had changed)");
	return 0;
}

/* A directory renamed onto an empty one (fs/rename_dir.c). */
static int apply_rename_dir(struct lfs_recovery *rc, const struct lfs_journal_record *r)
{
	int fd = lfs_journal_target_open(&r->target, rc->data_dirfd, rc->handle_mount_fd,
					 O_RDONLY | O_DIRECTORY);
	if (fd == -ENOENT || fd == -ESTALE) {
		rc->gone++;
		return 0;
	}
	if (fd < 0) {
		rc->failed++;
		return fd;
	}
	bool completed = false;
	int e = lfs_rename_dir_recover(fd, r->payload, r->payload_len, &completed);
	close(fd);
	if (e == -EINVAL) {
		lfs_err("recovery: unusable rename record for d/%s ignored", where(r));
		rc->failed++;
		return 0;
	}
	if (e < 0) {
		lfs_err("recovery: cannot finish a rename in d/%s: %s", where(r), strerror(-e));
		rc->failed++;
		return e;
	}
	if (completed)
		rc->completed++;
	else
		rc->rolled_back++;
	return 0;
}

static int apply(void *arg, const struct lfs_journal_record *r)
{
	struct lfs_recovery *rc = arg;
	switch (r->kind) {
	case LFS_JK_UPCONVERT:
		return apply_upconvert(rc, r);
	case LFS_JK_TAIL:
		return apply_tail(rc, r);
	case LFS_JK_ROTATE_FILE:
	case LFS_JK_ROTATE_DIR:
		return apply_rotation(rc, r);
	case LFS_JK_RENAME_DIR:
		return apply_rename_dir(rc, r);
	case LFS_JK_OVERWRITE:
		return apply_overwrite(rc, r);
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
	if (r >= 0 && rc->rejected) {
		/* Torn before they were complete (nothing was changed under
		 * them yet), or not written by this vault's daemon. */
		lfs_warn("recovery: %u journal record(s) do not authenticate and were ignored",
		         rc->rejected);
		lfs_journal_clear_rejected(rc->journal, key);
	}
	sodium_memzero(key, sizeof(key));
	return r < 0 ? r : 0;
}

int lfs_recover_vault(struct lfs_vault *v, struct lfs_keyring *kr, struct lfs_recovery *rc)
{
	struct lfs_journal j;
	struct lfs_layout l;
	memset(rc, 0, sizeof(*rc));
	int r = lfs_journal_open(&j, v->dirfd, v->cfg.uuid, false, 0);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	int dfd =
	    openat(v->dirfd, LFS_DATA_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		lfs_journal_close(&j);
		return r;
	}
	lfs_layout_init(&l, v->cfg.cipher, LFS_FILE_V1); /* its cipher: files have their own */
	rc->journal = &j;
	rc->kr = kr;
	rc->layout = &l;
	rc->data_dirfd = dfd;
	rc->handle_mount_fd = dfd; /* any descriptor on the vault's filesystem */
	r = lfs_recover(rc);
	rc->journal = NULL;
	rc->layout = NULL;
	close(dfd);
	lfs_journal_close(&j);
	return r;
}
