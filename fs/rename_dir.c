/* SPDX-License-Identifier: Apache-2.0 */
/* rename(2) of a directory onto an empty directory (docs/FORMAT.md 12.7).
 *
 * POSIX replaces the empty target; the backing rename refuses, because the
 * backing target still holds its .lethefs.dir. Under a journal record:
 *
 *   1. the target D is moved aside to a hidden name T (its parent keeps
 *      no entry D for a moment);
 *   2. the source S is renamed onto D, with no replacement;
 *   3. T's metadata and T itself are removed; the record is cleared.
 *
 * A failure of step 2 puts T back. Recovery (lfs_rename_dir_recover):
 * when D holds the source's directory id, step 2 happened, and what is
 * left of T goes; otherwise T, if it exists and D does not, is put back. */
#define _GNU_SOURCE
#include "rename_dir.h"
#include "dirmeta.h"
#include "dirnames.h"
#include "../cluster/backing.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../journal/target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* Payload: dirid of the source (16) | u16 len | D | u16 len | T. */
static size_t encode(const uint8_t dirid[LFS_DIRID_LEN], const char *d, const char *t, uint8_t *p)
{
	size_t dl = strlen(d), tl = strlen(t), o = LFS_DIRID_LEN;
	memcpy(p, dirid, LFS_DIRID_LEN);
	put_le16(p + o, (uint16_t)dl);
	memcpy(p + o + 2, d, dl);
	o += 2 + dl;
	put_le16(p + o, (uint16_t)tl);
	memcpy(p + o + 2, t, tl);
	return o + 2 + tl;
}

/* A backing entry name of the record: one component, no NUL. */
static int take_name(const uint8_t *p, size_t len, size_t *o, char out[LFS_BACKING_NAME_MAX + 1])
{
	if (*o + 2 > len)
		return -EINVAL;
	size_t n = get_le16(p + *o);
	if (n == 0 || n > LFS_BACKING_NAME_MAX || *o + 2 + n > len)
		return -EINVAL;
	memcpy(out, p + *o + 2, n);
	out[n] = '\0';
	*o += 2 + n;
	if (strlen(out) != n || strchr(out, '/') || !strcmp(out, ".") || !strcmp(out, ".."))
		return -EINVAL;
	return 0;
}

static int decode(const uint8_t *p, size_t len, uint8_t dirid[LFS_DIRID_LEN],
                  char d[LFS_BACKING_NAME_MAX + 1], char t[LFS_BACKING_NAME_MAX + 1])
{
	size_t o = LFS_DIRID_LEN;
	if (len < o)
		return -EINVAL;
	memcpy(dirid, p, LFS_DIRID_LEN);
	int r = take_name(p, len, &o, d);
	if (r == 0)
		r = take_name(p, len, &o, t);
	if (r == 0 && o != len)
		r = -EINVAL;
	/* T is one of lethefs's hidden temporaries, never a user's name. */
	if (r == 0 && strncmp(t, LFS_TMP_PREFIX, strlen(LFS_TMP_PREFIX)) != 0)
		r = -EINVAL;
	return r;
}

/* Whether the directory dirfd/name holds nothing but lethefs metadata. */
static int empty_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    lfs_classify_entry(de->d_name) != LFS_ENTRY_META)
			r = -ENOTEMPTY;
	closedir(d);
	return r;
}

/* Removes the (checked empty) hidden directory dirfd/t. */
static int remove_tmp(int dirfd, const char *t)
{
	int fd = openat(dirfd, t, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = lfs_empty_backing_dir(fd);
	close(fd);
	if (r == 0 && unlinkat(dirfd, t, AT_REMOVEDIR) < 0)
		r = -errno;
	return r;
}

static bool holds_dirid(int dirfd, const char *name, const uint8_t dirid[LFS_DIRID_LEN])
{
	int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct lfs_dirmeta m;
	bool same = lfs_dirmeta_load(fd, &m) == 0 && !memcmp(m.dirid, dirid, LFS_DIRID_LEN);
	close(fd);
	return same;
}

int lfs_rename_over_empty_dir(struct lfs_fs *fs, int pfd, const char *s, int npfd, const char *d)
{
	struct stat sst, dst;
	if (fstatat(pfd, s, &sst, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(npfd, d, &dst, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* The kernel checked the types; only directory onto directory. */
	if (!S_ISDIR(sst.st_mode) || !S_ISDIR(dst.st_mode))
		return -ENOTEMPTY;
	int r = empty_dir(npfd, d);
	if (r < 0)
		return r;
	int sfd = openat(pfd, s, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	struct lfs_dirmeta sm;
	r = lfs_dirmeta_load(sfd, &sm);
	close(sfd);
	if (r < 0)
		return r;
	char t[64];
	snprintf(t, sizeof(t), LFS_TMP_PREFIX "%08x%08x", randombytes_random(),
	         randombytes_random());
	struct lfs_journal_record *rec = calloc(1, sizeof(*rec));
	uint8_t *key = sodium_malloc(LFS_JOURNAL_KEY_LEN);
	unsigned slot = 0;
	bool journaled = false;
	r = rec && key ? 0 : -ENOMEM;
	if (r == 0 && fs->journal) {
		r = lfs_keyring_copy_journal_key(fs->kr, key);
		if (r == 0)
			r = lfs_journal_target_of(npfd, fs->data_path ? fs->data_path : "",
			                          fs->handle_mount_fd >= 0, &rec->target);
		if (r == 0) {
			rec->kind = LFS_JK_RENAME_DIR;
			rec->payload_len = (uint32_t)encode(sm.dirid, d, t, rec->payload);
			r = lfs_journal_begin(fs->journal, key, rec, true, &slot);
			journaled = r == 0;
		}
	}
	if (key)
		sodium_free(key);
	free(rec);
	if (r < 0)
		return r;
	/* Without RENAME_NOREPLACE (GlusterFS) a directory is renamed when
	 * the target name is free (cluster/backing.h). */
	int e2 = 0;
	if ((r = lfs_rename_noreplace_any(npfd, d, npfd, t, false)) < 0) {
		/* nothing moved */
	} else if ((r = lfs_rename_noreplace_any(pfd, s, npfd, d, false)) < 0) {
		if ((e2 = lfs_rename_noreplace_any(npfd, t, npfd, d, false)) < 0)
			lfs_err("rename: cannot put back directory %s (left as %s): %s", d, t,
			        strerror(-e2));
	} else {
		/* pfd and npfd are the inodes' O_PATH descriptors. */
		int se = lfs_fsync_dir(npfd);
		if (se == 0 && pfd != npfd)
			se = lfs_fsync_dir(pfd);
		if (se < 0)
			lfs_warn("rename: cannot sync a directory: %s", strerror(-se));
		int e = remove_tmp(npfd, t);
		if (e < 0) {
			/* Done for the user; the record stays so that the next
			 * recovery removes what is left of the old target. */
			lfs_warn("rename: the replaced directory is left as %s until the next "
			         "recovery: %s",
			         t, strerror(-e));
			if (journaled)
				lfs_journal_keep(fs->journal, slot);
			return 0;
		}
	}
	if (journaled)
		lfs_journal_end(fs->journal, slot);
	return r;
}

int lfs_rename_dir_recover(int npfd, const uint8_t *payload, size_t len, bool *completed)
{
	uint8_t dirid[LFS_DIRID_LEN];
	char d[LFS_BACKING_NAME_MAX + 1], t[LFS_BACKING_NAME_MAX + 1];
	if (decode(payload, len, dirid, d, t) < 0)
		return -EINVAL;
	struct stat st;
	*completed = holds_dirid(npfd, d, dirid);
	if (!*completed && fstatat(npfd, d, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
	    fstatat(npfd, t, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Step 2 never happened: the target comes back. */
		int e = lfs_rename_noreplace_any(npfd, t, npfd, d, false);
		if (e < 0)
			return e;
		return lfs_fsync_dir(npfd);
	}
	int r = remove_tmp(npfd, t);
	if (r == 0)
		r = lfs_fsync_dir(npfd);
	return r;
}
