/* SPDX-License-Identifier: Apache-2.0 */
/* Format-1 objects without contents to copy brought to format 2
 * (upconvert.h): empty files, symlinks and special files, directories. */
#define _GNU_SOURCE
#include "upconvert.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../fs/fs.h"
#include "../fs/longlink.h"
#include "../fs/obj2.h"
#include "../fs/symlink.h"
#include "../staging/stage_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

int lfs_up_record(const struct stat *st, struct lfs_irec *rec)
{
	return lfs_irec_make(rec, st->st_mode & (S_IFMT | 07777), st->st_uid, st->st_gid,
	                     st->st_rdev);
}

void lfs_up_backing_attrs(int fd, bool dir)
{
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(fd, proc);
	if (chmod(proc, dir ? 0700 : 0600) < 0 || chown(proc, geteuid(), getegid()) < 0)
		lfs_warn("cannot give up the backing mode and owner of %s: %s", proc,
		         strerror(errno));
}

/* Writes a format-2 object into the empty file open on fd under epoch. */
static int write_obj(struct lfs_keyring *kr, enum lfs_cipher_id cipher, int fd, uint32_t epoch,
                     const struct lfs_irec *rec, const char *content, size_t len,
                     struct lfs_file_header *h)
{
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(kr, epoch, &k);
	if (r < 0)
		return r;
	r = lfs_obj2_write(fd, cipher, k, rec, content, len, 0, h);
	lfs_keyring_put(kr);
	return r;
}

int lfs_up_empty_file(struct lfs_keyring *kr, enum lfs_cipher_id cipher, int fd,
                      const struct stat *st, uint32_t epoch, struct lfs_file_header *h,
                      struct lfs_irec *rec)
{
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	if (st->st_size != 0)
		return -ENOTEMPTY;
	int r = lfs_up_record(st, rec);
	if (r == 0)
		r = write_obj(kr, cipher, fd, epoch, rec, NULL, 0, h);
	if (r < 0)
		return r;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (futimens(fd, ts) < 0)
		lfs_warn("conversion: cannot keep the times of an empty file: %s", strerror(errno));
	lfs_up_backing_attrs(fd, false);
	return 0;
}

/* A symlink's target, decrypted under any live epoch (a long one from the
 * link store): into plain (LFS_LINK_ENC_MAX + 1 bytes), its length. */
static ssize_t link_target(struct lfs_keyring *kr, int treefd, int dirfd, const char *name,
                           char *plain)
{
	char *enc = malloc(LFS_LINK_ENC_MAX + 1);
	if (!enc)
		return -ENOMEM;
	ssize_t n = lfs_link_read(treefd, dirfd, name, enc);
	uint32_t epoch;
	if (n >= 0)
		n = lfs_link_decrypt_any(kr, enc, (size_t)n, plain, &epoch);
	free(enc);
	return n == -EBADMSG ? -EIO : n;
}

int lfs_up_node(struct lfs_keyring *kr, enum lfs_cipher_id cipher, int treefd, int dirfd,
                const char *name, uint32_t epoch, struct lfs_up_made *made)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		return -EINVAL;
	char *plain = NULL;
	ssize_t len = 0;
	char hash[LFS_LONGLINK_HASH + 1];
	bool drop = false;
	if (S_ISLNK(st.st_mode)) {
		char ref[LFS_STAGING_MARK_LEN + 16];
		ssize_t n = readlinkat(dirfd, name, ref, sizeof(ref));
		uint32_t id;
		if (n > 0 && lfs_stage_marker_id(ref, (size_t)n, &id))
			return 0; /* a staging directory's marker: not an object */
		plain = sodium_malloc(LFS_LINK_ENC_MAX + 1);
		len = plain ? link_target(kr, treefd, dirfd, name, plain) : -ENOMEM;
		if (len < 0 || len > LFS_LINK_TARGET_MAX) {
			sodium_free(plain);
			return len < 0 ? (int)len : -EIO;
		}
		drop = lfs_link_last_long(dirfd, name, hash);
	}
	struct lfs_irec rec;
	struct lfs_file_header h;
	char tmp[LFS_OBJ2_TMP_LEN];
	lfs_obj2_tmp_name(tmp);
	int r = lfs_up_record(&st, &rec);
	int fd = r < 0
	             ? -1
	             : openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (r == 0 && fd < 0)
		r = -errno;
	if (r == 0)
		r = write_obj(kr, cipher, fd, epoch, &rec, plain, (size_t)len, &h);
	sodium_free(plain); /* wipes */
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (r == 0 && futimens(fd, ts) < 0)
		r = -errno;
	/* Durable before it replaces the node: a crash must leave the old
	 * node or the whole new object under the name. */
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (drop)
		lfs_link_drop(treefd, hash);
	if (made) {
		made->rec = rec;
		made->h = h;
	}
	return 1;
}

int lfs_up_dir_image(struct lfs_keyring *kr, int dfd, const struct lfs_dirmeta *new_m,
                     uint8_t out[LFS_DIRMETA_MAX])
{
	struct stat st;
	struct lfs_irec rec;
	if (fstat(dfd, &st) < 0)
		return -errno;
	int r = lfs_up_record(&st, &rec);
	if (r < 0)
		return r;
	const struct lfs_epoch_keys *k;
	if ((r = lfs_keyring_get(kr, new_m->epoch, &k)) < 0)
		return r;
	struct lfs_dirmeta m = *new_m;
	m.version = 2;
	r = lfs_dirmeta_encode(&m, k, &rec, out);
	lfs_keyring_put(kr);
	return r;
}

int lfs_up_dir(struct lfs_keyring *kr, int dfd)
{
	uint8_t raw[LFS_DIRMETA_MAX];
	struct lfs_dirmeta m;
	int r = lfs_dirmeta_read(dfd, NULL, NULL, &m);
	if (r < 0)
		return r;
	if (m.version == 2)
		return 0;
	struct stat st;
	if (fstat(dfd, &st) < 0)
		return -errno;
	int n = lfs_up_dir_image(kr, dfd, &m, raw);
	if (n < 0)
		return n;
	if ((r = lfs_dirmeta_replace(dfd, raw, (size_t)n)) < 0)
		return r;
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (futimens(dfd, ts) < 0)
		lfs_warn("conversion: cannot keep the times of a directory: %s", strerror(errno));
	lfs_up_backing_attrs(dfd, true);
	return 0;
}

int lfs_up_sweep_temps(int treefd)
{
	int err = 0, n = 0;
	DIR *d = lfs_opendir_fd(treefd, &err);
	if (!d)
		return err;
	struct dirent *de;
	const size_t pl = strlen(LFS_TMP_PREFIX);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (strncmp(de->d_name, LFS_TMP_PREFIX, pl) != 0 ||
		    fstatat(treefd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(treefd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}
