/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "redir.h"
#include "../fs/dirnames.h"
#include "../fs/longlink.h"
#include "../cluster/backing.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* The full encoding of a backing entry (reading a long name's sidecar).
 * -ENOENT for entries that are not names. */
static int entry_enc(int dirfd, const char *backing, char *enc, size_t cap, size_t *len)
{
	switch (lfs_classify_entry(backing)) {
	case LFS_ENTRY_NAME:
		*len = strlen(backing);
		if (*len >= cap)
			return -EINVAL;
		memcpy(enc, backing, *len + 1);
		return 0;
	case LFS_ENTRY_LONG: {
		char side[LFS_BACKING_NAME_MAX + 1];
		lfs_sidecar_for_long(backing, side);
		int fd = openat(dirfd, side, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -EIO;
		int r = lfs_read_all(fd, enc, cap - 1, len);
		close(fd);
		if (r < 0)
			return r;
		enc[*len] = '\0';
		return lfs_long_name_matches(backing, enc, *len) ? 0 : -EIO;
	}
	default:
		return -ENOENT;
	}
}

static int decrypt_with(struct lfs_keyring *kr, uint32_t epoch, const struct lfs_dirmeta *m,
                        const char *enc, size_t len, char *out, size_t *out_len)
{
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(kr, epoch, &k);
	if (r < 0)
		return r;
	r = lfs_name_decrypt(k->name_mac, k->name_enc, m->dirid, enc, len, out, out_len);
	lfs_keyring_put(kr);
	return r;
}

/* Moves one entry from its old-epoch backing name to the new one. */
static int move_entry(struct lfs_keyring *kr, int dirfd, const struct lfs_dirmeta *new_m,
                      const char *backing, const char *plain, size_t plen)
{
	const struct lfs_epoch_keys *k;
	struct lfs_bname b;
	int r = lfs_keyring_get(kr, new_m->epoch, &k);
	if (r < 0)
		return r;
	r = lfs_name_encrypt(k->name_mac, k->name_enc, new_m->dirid, plain, plen, b.enc);
	lfs_keyring_put(kr);
	if (r < 0)
		return r;
	b.is_long = lfs_backing_name(b.enc, b.name, b.sidecar);
	if ((r = lfs_bname_store_sidecar(dirfd, &b)) < 0)
		return r;
	/* resume: a link + unlink cut short by a crash is finished when the
	 * conversion runs again (backing filesystems without the flag). */
	if ((r = lfs_rename_noreplace_any(dirfd, backing, dirfd, b.name, true)) < 0)
		return r;
	if (lfs_classify_entry(backing) == LFS_ENTRY_LONG) {
		char side[LFS_BACKING_NAME_MAX + 1];
		lfs_sidecar_for_long(backing, side);
		unlinkat(dirfd, side, 0);
	}
	return 0;
}

/* One scan over the directory. Renaming while reading may make readdir
 * skip or repeat entries, so the caller scans until a scan renames none. */
static int scan(struct lfs_keyring *kr, int dirfd, const struct lfs_dirmeta *old_m,
                const struct lfs_dirmeta *new_m, bool do_move, unsigned *moved, unsigned *skipped)
{
	int err = 0;
	DIR *d = lfs_opendir_fd(dirfd, &err);
	if (!d)
		return err;
	char enc[LFS_ENCNAME_MAX + 1], plain[LFS_NAME_MAX + 1];
	struct dirent *de;
	int r = 0;
	*moved = *skipped = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		size_t len, plen;
		if (entry_enc(dirfd, de->d_name, enc, sizeof(enc), &len) < 0)
			continue;
		int n = decrypt_with(kr, new_m->epoch, new_m, enc, len, plain, &plen);
		if (n == 0)
			continue;
		if (n == -EACCES) {
			r = n;
			break;
		}
		n = decrypt_with(kr, old_m->epoch, old_m, enc, len, plain, &plen);
		if (n < 0) {
			(*skipped)++;
			continue;
		}
		(*moved)++;
		if (do_move)
			r = move_entry(kr, dirfd, new_m, de->d_name, plain, plen);
	}
	sodium_memzero(plain, sizeof(plain));
	closedir(d);
	return r;
}

int lfs_redir_convert(struct lfs_keyring *kr, int dirfd, const struct lfs_dirmeta *old_m,
                      const struct lfs_dirmeta *new_m, const uint8_t *new_img, size_t new_len,
                      unsigned *renamed, unsigned *skipped)
{
	unsigned moved = 0, total = 0, skipped_here = 0;
	int r;
	/* Both counters are optional: the crash replay passes none. */
	if (!skipped)
		skipped = &skipped_here;
	for (int round = 0; round < 16; round++) {
		if ((r = scan(kr, dirfd, old_m, new_m, true, &moved, skipped)) < 0)
			return r;
		total += moved;
		if (moved == 0)
			break;
	}
	if (moved)
		return -EAGAIN; /* something keeps adding old names: retry later */
	if (renamed)
		*renamed = total;
	/* .lethefs.dir is replaced, never edited: a temporary name that
	 * listings hide, fsync, rename over, fsync the directory. */
	return lfs_dirmeta_replace(dirfd, new_img, new_len);
}

int lfs_redir_undo(struct lfs_keyring *kr, int dirfd, const struct lfs_dirmeta *old_m,
                   const struct lfs_dirmeta *new_m)
{
	struct lfs_dirmeta cur;
	int r = lfs_dirmeta_load(dirfd, &cur);
	if (r < 0)
		return r;
	if (memcmp(cur.dirid, old_m->dirid, sizeof(cur.dirid)) != 0 || cur.epoch != old_m->epoch)
		return -ESTALE; /* .lethefs.dir was replaced: only forward now */
	/* The same scans with the two epochs swapped: every name that
	 * authenticates under the new epoch goes back to its old one. */
	unsigned moved = 0, skipped = 0;
	for (int round = 0; round < 16; round++) {
		if ((r = scan(kr, dirfd, new_m, old_m, true, &moved, &skipped)) < 0)
			return r;
		if (moved == 0)
			return 0;
	}
	return -EAGAIN;
}

int lfs_relink(struct lfs_keyring *kr, int treefd, int dirfd, const char *name)
{
	char tmp[32];
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	char *enc = malloc(LFS_LINK_ENC_MAX + 1);
	char *plain = sodium_malloc(LFS_LINK_ENC_MAX + 1), *out = NULL;
	if (!enc || !plain) {
		free(enc);
		sodium_free(plain);
		return -ENOMEM;
	}
	ssize_t len = lfs_link_read(treefd, dirfd, name, enc);
	uint32_t epoch = 0, cur = 0;
	int r = len < 0 ? (int)len : lfs_link_decrypt_any(kr, enc, (size_t)len, plain, &epoch);
	size_t plen = r >= 0 ? (size_t)r : 0;
	const struct lfs_epoch_keys *k = NULL;
	if (r >= 0 && (r = lfs_keyring_get(kr, 0, &k)) == 0) {
		cur = k->epoch;
		if (epoch != cur && (out = malloc(lfs_link_encoded_len(plen) + 1)) != NULL)
			r = lfs_link_encrypt(k->link, plain, plen, out);
		lfs_keyring_put(kr);
		if (epoch != cur && !out)
			r = -ENOMEM;
	}
	if (r >= 0 && epoch != cur) {
		/* A long target's old sidecar goes once the new link replaced it
		 * (other hard links of it, if any, keep theirs). */
		char old_hash[LFS_LONGLINK_HASH + 1];
		bool drop_old = lfs_link_last_long(dirfd, name, old_hash);
		snprintf(tmp, sizeof(tmp), LFS_TMP_PREFIX "%08x", randombytes_random());
		r = lfs_link_make(treefd, dirfd, tmp, out, plen);
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		if (r == 0 &&
		    (fchownat(dirfd, tmp, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		     utimensat(dirfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0))
			r = -errno;
		if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
			r = -errno;
		if (r < 0) {
			char h[LFS_LONGLINK_HASH + 1];
			if (lfs_link_last_long(dirfd, tmp, h))
				lfs_link_drop(treefd, h);
			unlinkat(dirfd, tmp, 0);
		} else {
			if (drop_old)
				lfs_link_drop(treefd, old_hash);
			r = 1;
		}
	} else if (r >= 0) {
		r = 0;
	}
	free(enc);
	sodium_free(plain); /* wipes */
	free(out);
	return r == -EBADMSG ? -EIO : r;
}
