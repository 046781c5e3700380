/* SPDX-License-Identifier: Apache-2.0 */
/* Read-modify-write of the keyslot file: serialised by a lock file, and
 * written with lfs_replace_file so that a crash leaves the old or the new
 * file, never a mix. */
#define _GNU_SOURCE
#include "vault.h"
#include "../common/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <sodium.h>

int lfs_vault_lock_slots(struct lfs_vault *v, void (*waiting)(void))
{
	int fd =
	    openat(v->dirfd, LFS_LOCK_FILE_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (errno == EWOULDBLOCK && waiting)
		waiting();
	/* The holder is another lethefs command; it finishes in seconds. */
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	return fd;
}

void lfs_vault_unlock_slots(int lockfd)
{
	if (lockfd >= 0)
		close(lockfd); /* closing the only descriptor releases the flock */
}

int lfs_vault_reload_slots(struct lfs_vault *v)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct lfs_keyslots ks;
	int r = lfs_read_small_file(v->dirfd, LFS_KEYSLOTS_FILE_NAME, LFS_KEYSLOTS_FILE_LEN, &buf,
				    &len);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	r = lfs_keyslots_decode(buf, len, &ks);
	free(buf);
	if (r == 0 && sodium_memcmp(ks.uuid, v->cfg.uuid, LFS_UUID_LEN) != 0)
		r = -EINVAL;
	if (r == 0)
		v->slots = ks;
	return r;
}

/* lfs_replace_file names its temporary ".<name>.tmp.<8 hex>". One that
 * exists while we hold the lock belongs to a change that died. */
static void remove_stale_temporaries_of(int dirfd, const char *prefix, size_t plen)
{
	int fd = dup(dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, prefix, plen))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

static void remove_stale_temporaries(int dirfd)
{
	static const char prefix[] = "." LFS_KEYSLOTS_FILE_NAME ".tmp.";
	remove_stale_temporaries_of(dirfd, prefix, sizeof(prefix) - 1);
}

int lfs_vault_store_slots(struct lfs_vault *v, const struct lfs_keyslots *ks)
{
	uint8_t buf[LFS_KEYSLOTS_FILE_LEN];
	if (sodium_memcmp(ks->uuid, v->cfg.uuid, LFS_UUID_LEN) != 0)
		return -EINVAL;
	remove_stale_temporaries(v->dirfd);
	lfs_keyslots_encode(ks, buf);
	int r = lfs_replace_file(v->dirfd, LFS_KEYSLOTS_FILE_NAME, buf, sizeof(buf), 0600);
	if (r == 0)
		v->slots = *ks;
	return r;
}

void lfs_vault_remove_stale_rekey(struct lfs_vault *v)
{
	static const char prefix[] = "." LFS_KEYRING_NEW_FILE_NAME ".tmp.";
	remove_stale_temporaries_of(v->dirfd, prefix, sizeof(prefix) - 1);
	if (unlinkat(v->dirfd, LFS_KEYRING_NEW_FILE_NAME, 0) == 0)
		fsync(v->dirfd);
}

int lfs_vault_store_rekey(struct lfs_vault *v, const uint8_t *ring, size_t ring_len,
			  const struct lfs_keyslots *ks)
{
	int r = lfs_replace_file(v->dirfd, LFS_KEYRING_NEW_FILE_NAME, ring, ring_len, 0600);
	if (r == 0)
		r = lfs_vault_store_slots(v, ks);
	if (r < 0) {
		/* The keyslots still wrap the old master: the .new is garbage. */
		unlinkat(v->dirfd, LFS_KEYRING_NEW_FILE_NAME, 0);
		return r;
	}
	if (renameat(v->dirfd, LFS_KEYRING_NEW_FILE_NAME, v->dirfd, LFS_KEYRING_FILE_NAME) < 0)
		return -errno; /* the next unlock finishes it (keymgmt/vault.c) */
	return fsync(v->dirfd) < 0 ? -errno : 0;
}
