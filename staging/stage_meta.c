/* SPDX-License-Identifier: Apache-2.0 */
/* The .lethefs.dir of a staging directory's root (docs/FORMAT.md 12.7).
 *
 * An adopted directory keeps its backing directory, but its names must
 * from then on be bound to a fresh directory id under the staging key.
 * That new .lethefs.dir is written inside the directory under a pending
 * name before the adoption commits (so that a full disk or an I/O error
 * stops the adoption while the directory is still where it was), and the
 * one step after the commit is a rename of the pending file over the old
 * one, which recovery finishes without any key. */
#define _GNU_SOURCE
#include "stage.h"
#include "../fs/dirmeta.h"
#include "../fs/irec.h"
#include "../fs/names.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The record a directory has: its version-2 .lethefs.dir's (opened under
 * the epoch it names), else what its backing directory shows (format 1). */
static int dir_record(struct lfs_keyring *kr, int dirfd, struct lfs_irec *rec)
{
	uint8_t raw[LFS_DIRMETA_MAX];
	size_t len = 0;
	struct lfs_dirmeta m;
	const struct lfs_epoch_keys *k;
	if (lfs_dirmeta_read(dirfd, raw, &len, &m) == 0 && m.version == 2) {
		int r = lfs_keyring_get(kr, m.epoch, &k);
		if (r == 0) {
			r = lfs_dirmeta_open(raw, len, k, rec);
			lfs_keyring_put(kr);
		}
		return r < 0 ? -EIO : 0;
	}
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	return lfs_irec_make(rec, S_IFDIR | (st.st_mode & 07777), st.st_uid, st.st_gid, 0);
}

/* A fresh .lethefs.dir for staging id into buf: its length, or -errno. */
static int encode_meta(struct lfs_keyring *kr, int dirfd, uint32_t id, const struct lfs_irec *rec,
                       uint8_t buf[LFS_DIRMETA_MAX])
{
	struct lfs_dirmeta m;
	struct lfs_irec own;
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(kr, id, &k);
	if (r < 0)
		return r;
	bool v2 = (k->flags & LFS_EPOCH_FORMAT2) != 0;
	lfs_keyring_put(kr);
	if (v2 && !rec) {
		if ((r = dir_record(kr, dirfd, &own)) < 0)
			return r;
		rec = &own;
	}
	if ((r = lfs_keyring_get(kr, id, &k)) < 0)
		return r;
	lfs_dirmeta_new(&m, id, v2 ? 2 : 1);
	int n = lfs_dirmeta_encode(&m, k, rec, buf);
	lfs_keyring_put(kr);
	return n;
}

/* Format 2: the record holds the mode and owner; the backing directory
 * has the fixed ones (docs/FORMAT.md 14). Not fatal: nothing reads them. */
static void fixed_backing(int dirfd, uint32_t id)
{
	if (fchmod(dirfd, 0700) < 0 || (fchown(dirfd, geteuid(), getegid()) < 0 && errno != EPERM))
		lfs_warn("staging %08x: cannot give its backing directory the fixed mode and "
		         "owner: %s",
		         id, strerror(errno));
}

int lfs_staging_write_meta(struct lfs_keyring *kr, int dirfd, uint32_t id,
                           const struct lfs_irec *rec)
{
	uint8_t buf[LFS_DIRMETA_MAX];
	int n = encode_meta(kr, dirfd, id, rec, buf);
	if (n < 0)
		return n;
	int r = lfs_replace_file_via(dirfd, LFS_DIRMETA_NAME, LFS_TMP_PREFIX, buf, (size_t)n, 0400);
	if (r == 0 && buf[4] == 2)
		fixed_backing(dirfd, id);
	return r;
}

int lfs_stage_meta_stage(struct lfs_keyring *kr, int dirfd, uint32_t id)
{
	uint8_t buf[LFS_DIRMETA_MAX];
	int n = encode_meta(kr, dirfd, id, NULL, buf);
	if (n < 0)
		return n;
	/* One of an earlier attempt that a crash cut short is stale. */
	if (unlinkat(dirfd, LFS_STAGE_META_PENDING, 0) < 0 && errno != ENOENT)
		return -errno;
	int fd = openat(dirfd, LFS_STAGE_META_PENDING,
	                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	int r = lfs_write_all(fd, buf, (size_t)n);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, LFS_STAGE_META_PENDING, 0);
	return r;
}

void lfs_stage_meta_discard(int dirfd)
{
	unlinkat(dirfd, LFS_STAGE_META_PENDING, 0);
}

/* The pending file's public part, when it is a regular file holding a
 * well-formed .lethefs.dir of staging id. */
static int pending_meta(int dirfd, uint32_t id, struct lfs_dirmeta *m)
{
	uint8_t buf[LFS_DIRMETA_MAX + 1];
	size_t got = 0;
	/* Not a regular file (a FIFO must not stall recovery): -EINVAL. */
	int fd = lfs_open_regular(dirfd, LFS_STAGE_META_PENDING);
	if (fd < 0)
		return fd == -ELOOP ? -EINVAL : fd;
	int r = lfs_read_all(fd, buf, sizeof(buf), &got);
	close(fd);
	if (r == 0 && (lfs_dirmeta_decode(buf, got, m) < 0 || m->epoch != id))
		r = -EINVAL;
	return r;
}

int lfs_stage_meta_finish(int dirfd, uint32_t id)
{
	struct lfs_dirmeta pm, cur;
	int r = pending_meta(dirfd, id, &pm);
	if (r == -ENOENT)
		return 0;
	if (r == 0 && lfs_dirmeta_load(dirfd, &cur) == 0 && cur.epoch == id)
		r = -EEXIST; /* already under the staging id: nothing to finish */
	if (r == -EINVAL || r == -EEXIST) {
		/* Not ours to put in place (stale, malformed, planted): never
		 * over a .lethefs.dir, and a META name, so removing it loses
		 * nothing. */
		unlinkat(dirfd, LFS_STAGE_META_PENDING, 0);
		return r == -EEXIST ? 0 : r;
	}
	if (r < 0)
		return r;
	if (renameat(dirfd, LFS_STAGE_META_PENDING, dirfd, LFS_DIRMETA_NAME) < 0)
		return -errno;
	if (fsync(dirfd) < 0)
		lfs_warn("staging %08x: cannot sync its directory: %s", id, strerror(errno));
	if (pm.version == 2)
		fixed_backing(dirfd, id);
	return 1;
}
