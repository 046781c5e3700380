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

/* lfs_replace_file names its temporary ".lethefs.keyslots.tmp.<8 hex>". One
 * that exists while we hold the lock belongs to a change that died. */
static void remove_stale_temporaries(int dirfd)
{
	static const char prefix[] = "." LFS_KEYSLOTS_FILE_NAME ".tmp.";
	int fd = dup(dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, prefix, sizeof(prefix) - 1))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
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
