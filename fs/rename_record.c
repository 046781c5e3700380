/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "rename_record.h"
#include "names.h"
#include "../cluster/backing.h"
#include "../common/bytes.h"
#include "../common/log.h"
#include "../journal/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t lfs_rename_record_encode(const char *newpath, size_t len, uint8_t *p)
{
	put_le32(p, (uint32_t)len);
	memcpy(p + 4, newpath, len);
	return 4 + len;
}

int lfs_rename_record_decode(const uint8_t *p, size_t len, char *newpath, size_t cap)
{
	if (len < 4)
		return -EINVAL;
	uint32_t n = get_le32(p);
	if ((size_t)n != len - 4 || n >= cap || n == 0 ||
	    !lfs_journal_path_ok((const char *)p + 4, n))
		return -EINVAL;
	memcpy(newpath, p + 4, n);
	newpath[n] = '\0';
	return 0;
}

/* The path below d/ of dirfd's entry name, or -ENOENT when dirfd is not
 * below d/ (a staging tree) or the path is too long for a record. */
static int entry_path(struct lfs_fs *fs, int dirfd, const char *name, char *out, size_t cap,
                      size_t *len)
{
	struct lfs_journal_target t;
	int r = lfs_journal_target_of(dirfd, fs->data_path ? fs->data_path : "", false, &t);
	if (r < 0)
		return r;
	struct stat st;
	bool is_root = fstat(dirfd, &st) == 0 && st.st_ino == fs->root.ino;
	if (t.path_len == 0 && !is_root)
		return -ENOENT;
	size_t nl = strlen(name);
	size_t need = t.path_len + (t.path_len ? 1 : 0) + nl;
	if (need >= cap || need > LFS_JOURNAL_PATH_MAX)
		return -ENOENT;
	size_t o = 0;
	memcpy(out, t.path, t.path_len);
	o = t.path_len;
	if (o)
		out[o++] = '/';
	memcpy(out + o, name, nl);
	out[need] = '\0';
	*len = need;
	return 0;
}

/* Writes the record of a two-step rename; *slot_out set when written. */
static int begin(struct lfs_fs *fs, int olddirfd, const char *old, int newdirfd,
                 const char *newname, unsigned *slot, bool *written)
{
	*written = false;
	const uint8_t *key;
	const struct lfs_epoch_keys *k;
	if (!fs->journal || lfs_keyring_get(fs->kr, 0, &k) < 0)
		return 0;
	key = lfs_keyring_journal_key(fs->kr);
	struct lfs_journal_record *rec = calloc(1, sizeof(*rec));
	char *np = malloc(LFS_JOURNAL_PATH_MAX + 1);
	struct stat st;
	size_t nl = 0;
	int r = rec && np ? 0 : -ENOMEM;
	if (r == 0 && fstatat(olddirfd, old, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r == 0 &&
	    entry_path(fs, olddirfd, old, rec->target.path, sizeof(rec->target.path), &nl) == 0) {
		rec->target.path_len = (uint32_t)nl;
		if (entry_path(fs, newdirfd, newname, np, LFS_JOURNAL_PATH_MAX + 1, &nl) == 0) {
			rec->kind = LFS_JK_RENAME;
			rec->target.dev = (uint64_t)st.st_dev;
			rec->target.ino = (uint64_t)st.st_ino;
			rec->payload_len = (uint32_t)lfs_rename_record_encode(np, nl, rec->payload);
			r = lfs_journal_begin(fs->journal, key, rec, false, slot);
			*written = r == 0;
		}
	}
	lfs_keyring_put(fs->kr);
	free(np);
	free(rec);
	return r;
}

int lfs_fs_rename_noreplace(struct lfs_fs *fs, int olddirfd, const char *old, int newdirfd,
                            const char *newname)
{
	if (!lfs_backing_rename_two_steps(fs->backing) || lfs_classify_entry(old) == LFS_ENTRY_META)
		return lfs_backing_rename_noreplace(fs->backing, olddirfd, old, newdirfd, newname,
		                                    false, NULL);
	struct stat st;
	if (fstatat(olddirfd, old, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		return lfs_backing_rename_noreplace(fs->backing, olddirfd, old, newdirfd, newname,
		                                    false, NULL);
	unsigned slot = 0;
	bool journaled = false;
	int r = begin(fs, olddirfd, old, newdirfd, newname, &slot, &journaled);
	if (r < 0)
		return r;
	r = lfs_backing_rename_noreplace(fs->backing, olddirfd, old, newdirfd, newname, false,
	                                 NULL);
	if (journaled && lfs_journal_end(fs->journal, slot) < 0)
		lfs_warn("rename: cannot clear its journal record; the next recovery does");
	return r;
}

int lfs_rename_record_apply(int data_dirfd, const struct lfs_journal_record *r)
{
	char np[LFS_JOURNAL_PATH_MAX + 1];
	if (r->target.path_len == 0 ||
	    lfs_rename_record_decode(r->payload, r->payload_len, np, sizeof(np)) < 0)
		return -EINVAL;
	struct stat a, b;
	if (fstatat(data_dirfd, r->target.path, &a, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(data_dirfd, np, &b, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* one name is gone: nothing left to finish */
	if (S_ISDIR(a.st_mode) || (uint64_t)a.st_ino != r->target.ino || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)
		return 0; /* not the recorded object any more */
	if (unlinkat(data_dirfd, r->target.path, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
