/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "dirnames.h"
#include "../cluster/rangelock.h"
#include "../common/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* A .lethefs.dir read again (its cached copy was dropped, or the inode was
 * never looked up): version 2 must authenticate (its record is cached
 * again), version 1 is refused under an epoch of format 2 and for a
 * directory known to be of format 2. Called with dir->meta_lock. */
static int load_checked(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd)
{
	uint8_t raw[LFS_DIRMETA_MAX];
	size_t len = 0;
	struct lfs_dirmeta m;
	int r = lfs_dirmeta_read(dirfd, raw, &len, &m);
	if (r < 0)
		return r;
	const struct lfs_epoch_keys *k;
	if ((r = lfs_keyring_get(fs->kr, m.epoch, &k)) < 0)
		return r;
	struct lfs_irec rec;
	if (m.version == 2) {
		r = lfs_dirmeta_open(raw, len, k, &rec) < 0 || rec.type != LFS_IREC_DIR ? -EIO : 0;
	} else {
		r = (k->flags & LFS_EPOCH_FORMAT2) || dir->fmt == 2 ? -EIO : 0;
	}
	lfs_keyring_put(fs->kr);
	if (r < 0)
		return r;
	if (m.version == 2) {
		dir->rec = rec;
		dir->have_rec = true;
		dir->fmt = 2;
	}
	dir->dirmeta = m;
	dir->have_dirmeta = true;
	return 0;
}

int lfs_dir_meta(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd, struct lfs_dirmeta *out)
{
	int r = 0;
	pthread_mutex_lock(&dir->meta_lock);
	if (!dir->have_dirmeta)
		r = load_checked(fs, dir, dirfd);
	if (r == 0)
		*out = dir->dirmeta;
	pthread_mutex_unlock(&dir->meta_lock);
	return r;
}

bool lfs_dir_meta_forget(struct lfs_inode *dir, int dirfd)
{
	struct lfs_dirmeta now;
	int r = lfs_dirmeta_load(dirfd, &now);
	pthread_mutex_lock(&dir->meta_lock);
	bool changed = !dir->have_dirmeta || r < 0 || now.epoch != dir->dirmeta.epoch ||
	               memcmp(now.dirid, dir->dirmeta.dirid, sizeof(now.dirid)) != 0;
	/* Not taken as it is: the next lfs_dir_meta reads it again checked
	 * (a version-2 one authenticated, a version-1 one refused where
	 * format 2 must be), so a forget cannot let an unauthenticated one in. */
	dir->have_dirmeta = false;
	pthread_mutex_unlock(&dir->meta_lock);
	return changed;
}

bool lfs_dir_meta_reload(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd)
{
	pthread_mutex_lock(&dir->meta_lock);
	bool had = dir->have_dirmeta;
	struct lfs_dirmeta old = dir->dirmeta;
	dir->have_dirmeta = false;
	int r = load_checked(fs, dir, dirfd);
	bool changed = !had || r < 0 || old.epoch != dir->dirmeta.epoch ||
	               memcmp(old.dirid, dir->dirmeta.dirid, sizeof(old.dirid)) != 0;
	pthread_mutex_unlock(&dir->meta_lock);
	return changed;
}

bool lfs_fs_rotating(struct lfs_fs *fs)
{
	uint32_t ep[LFS_MAX_EPOCHS], cur;
	return lfs_keyring_epochs(fs->kr, ep, LFS_MAX_EPOCHS, &cur) > 1;
}

static int name_lock(struct lfs_fs *fs, struct lfs_inode *dir)
{
	int dfd = lfs_inode_pin(fs, dir);
	if (dfd < 0)
		return -1;
	int fd = lfs_open_regular(dfd, LFS_DIRMETA_NAME);
	if (fd >= 0 && lfs_range_lock(fd, false, 0, 1, true) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		lfs_dir_meta_forget(dir, dfd);
	lfs_inode_unpin(fs, dir);
	return fd;
}

int lfs_dir_name_lock(struct lfs_fs *fs, struct lfs_inode *dir)
{
	if (!fs->shared || !lfs_fs_rotating(fs))
		return -1;
	return name_lock(fs, dir);
}

int lfs_dir_name_lock_now(struct lfs_fs *fs, struct lfs_inode *dir)
{
	if (!fs->shared)
		return -1;
	lfs_keyring_refresh(fs->kr);
	return name_lock(fs, dir);
}

void lfs_dir_name_unlock(int lockfd)
{
	if (lockfd >= 0)
		close(lockfd); /* releases the lock */
}

/* A directory whose conversion to a new epoch was left half done on the
 * live mount (lfs_dirmeta.alt_epoch): a name that exists under the other
 * epoch is that one, so that lookups find it, creating it again fails with
 * EEXIST and renaming onto it replaces it. */
static void alt_name(struct lfs_fs *fs, int dirfd, const struct lfs_dirmeta *m, const char *name,
                     struct lfs_bname *out)
{
	struct stat st;
	struct lfs_bname b;
	const struct lfs_epoch_keys *k;
	if (fstatat(dirfd, out->name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    lfs_keyring_get(fs->kr, m->alt_epoch, &k) < 0)
		return;
	int r = lfs_name_encrypt(k->name_mac, k->name_enc, m->dirid, name, strlen(name), b.enc);
	lfs_keyring_put(fs->kr);
	if (r < 0)
		return;
	b.is_long = lfs_backing_name(b.enc, b.name, b.sidecar);
	if (fstatat(dirfd, b.name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		*out = b;
}

int lfs_bname_make(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd, const char *name,
                   struct lfs_bname *out)
{
	struct lfs_dirmeta m;
	const struct lfs_epoch_keys *k;
	int r = lfs_dir_meta(fs, dir, dirfd, &m);
	if (r < 0)
		return r;
	r = lfs_keyring_get(fs->kr, m.epoch, &k);
	if (r == -EIO && fs->shared && lfs_dir_meta_reload(fs, dir, dirfd) &&
	    (r = lfs_dir_meta(fs, dir, dirfd, &m)) == 0)
		r = lfs_keyring_get(fs->kr, m.epoch, &k);
	if (r < 0)
		return r;
	r = lfs_name_encrypt(k->name_mac, k->name_enc, m.dirid, name, strlen(name), out->enc);
	lfs_keyring_put(fs->kr);
	if (r < 0)
		return r;
	out->is_long = lfs_backing_name(out->enc, out->name, out->sidecar);
	if (m.alt_epoch)
		alt_name(fs, dirfd, &m, name, out);
	return 0;
}

int lfs_bname_for_new(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd, const char *name,
                      struct lfs_bname *out)
{
	int r = lfs_bname_make(fs, dir, dirfd, name, out);
	return r < 0 ? r : lfs_bname_store_sidecar(dirfd, out);
}

int lfs_bname_store_sidecar(int dirfd, const struct lfs_bname *b)
{
	if (!b->is_long)
		return 0;
	char tmp[LFS_BACKING_NAME_MAX + 32];
	snprintf(tmp, sizeof(tmp), LFS_TMP_PREFIX "%08x", randombytes_random());
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	int r = lfs_write_all(fd, b->enc, strlen(b->enc));
	/* Durable before the entry can exist: a long-named entry whose sidecar
	 * was lost in a crash would have no name at all. */
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat(dirfd, tmp, dirfd, b->sidecar) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

void lfs_bname_drop_sidecar(int dirfd, const struct lfs_bname *b)
{
	if (b->is_long)
		unlinkat(dirfd, b->sidecar, 0);
}

static int read_sidecar(int dirfd, const char *backing, char *enc, size_t *len)
{
	char sidecar[LFS_BACKING_NAME_MAX + 1];
	unsigned char *data;
	lfs_sidecar_for_long(backing, sidecar);
	int r = lfs_read_small_file(dirfd, sidecar, LFS_ENCNAME_MAX - 1, &data, len);
	if (r < 0)
		return -EBADMSG;
	memcpy(enc, data, *len);
	enc[*len] = '\0';
	free(data);
	return lfs_long_name_matches(backing, enc, *len) ? 0 : -EBADMSG;
}

int lfs_entry_name(struct lfs_fs *fs, int dirfd, const struct lfs_dirmeta *m, const char *backing,
                   char out[LFS_NAME_MAX + 1])
{
	char enc[LFS_ENCNAME_MAX];
	const char *src = backing;
	size_t len = strlen(backing);
	switch (lfs_classify_entry(backing)) {
	case LFS_ENTRY_META:
		return -ENOENT;
	case LFS_ENTRY_INVALID:
		return -EBADMSG;
	case LFS_ENTRY_LONG: {
		int r = read_sidecar(dirfd, backing, enc, &len);
		if (r < 0)
			return r;
		src = enc;
		break;
	}
	case LFS_ENTRY_NAME:
		break;
	}
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(fs->kr, m->epoch, &k);
	if (r < 0)
		return r;
	size_t out_len;
	r = lfs_name_decrypt(k->name_mac, k->name_enc, m->dirid, src, len, out, &out_len);
	lfs_keyring_put(fs->kr);
	/* Half converted on the live mount: the names moved already. */
	if (r == -EBADMSG && m->alt_epoch && lfs_keyring_get(fs->kr, m->alt_epoch, &k) == 0) {
		r = lfs_name_decrypt(k->name_mac, k->name_enc, m->dirid, src, len, out, &out_len);
		lfs_keyring_put(fs->kr);
	}
	return r == -EINVAL ? -EBADMSG : r;
}

int lfs_empty_backing_dir(int dirfd)
{
	int err = 0;
	DIR *d = lfs_opendir_fd(dirfd, &err);
	if (!d)
		return err;
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (lfs_classify_entry(de->d_name) != LFS_ENTRY_META)
			r = -ENOTEMPTY;
	}
	if (r == 0) {
		rewinddir(d);
		while ((de = readdir(d)) != NULL)
			if (lfs_classify_entry(de->d_name) == LFS_ENTRY_META &&
			    unlinkat(dirfd, de->d_name, 0) < 0 && errno == EISDIR)
				unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
	return r;
}
