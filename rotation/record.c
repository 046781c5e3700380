/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "record.h"
#include "redir.h"
#include "refile.h"
#include "upconvert.h"
#include "../common/fileutil.h"
#include "../journal/target.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

int lfs_rot_record_begin(struct lfs_fs *fs, uint8_t kind, int fd, const char *rel,
                         const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
                         size_t new_len, unsigned *slot)
{
	if (!fs->journal)
		return -EROFS;
	struct lfs_journal_record *rec = calloc(1, sizeof(*rec));
	uint8_t *key = sodium_malloc(LFS_JOURNAL_KEY_LEN);
	int e = rec && key ? 0 : -ENOMEM;
	if (e == 0)
		e = lfs_keyring_copy_journal_key(fs->kr, key);
	if (e == 0)
		e = lfs_journal_target_of(fd, fs->data_path ? fs->data_path : "",
		                          fs->handle_mount_fd >= 0, &rec->target);
	if (e == 0) {
		/* A path too long for the record: the handle names it. */
		(void)rel;
		rec->kind = kind;
		rec->payload_len = (uint32_t)(old_len + new_len);
		memcpy(rec->payload, old_img, old_len);
		memcpy(rec->payload + old_len, new_img, new_len);
		e = lfs_journal_begin(fs->journal, key, rec, true, slot);
	}
	if (key)
		sodium_free(key);
	free(rec);
	return e;
}

void lfs_rot_record_end(struct lfs_fs *fs, unsigned slot)
{
	/* A record left behind is applied again at the next recovery and
	 * finds the object converted: harmless. */
	lfs_journal_end(fs->journal, slot);
}

/* Parses a header of the record and authenticates it under its epoch. */
static int record_header(struct lfs_keyring *kr, enum lfs_cipher_id cipher, const uint8_t *raw,
                         size_t len, struct lfs_file_header *h)
{
	if (lfs_header_parse(raw, len, h) < 0 || lfs_header_len(h->version) != len ||
	    h->cipher != cipher || lfs_epoch_is_staging(h->epoch))
		return -EINVAL;
	const struct lfs_epoch_keys *k;
	int e = lfs_keyring_get(kr, h->epoch, &k);
	if (e < 0)
		return e;
	struct lfs_irec rec;
	e = lfs_header_verify(raw, h, k, &rec) < 0 ? -EINVAL : 0;
	lfs_keyring_put(kr);
	return e;
}

int lfs_rot_apply_file(enum lfs_cipher_id cipher, struct lfs_keyring *kr, struct lfs_overwriter *w,
                       int fd, const uint8_t *payload, size_t len)
{
	size_t img = len / 2;
	if (len % 2 || (img != LFS_FILE_HDR_V1_LEN && img != LFS_FILE_HDR_V2_LEN))
		return -EINVAL;
	const uint8_t *old_raw = payload, *new_raw = payload + img;
	struct lfs_file_header oh, nh;
	struct lfs_layout l;
	int e = record_header(kr, cipher, old_raw, img, &oh);
	if (e == 0)
		e = record_header(kr, cipher, new_raw, img, &nh);
	/* The conversion changes the file id and the epoch, nothing else. */
	/* (The inode attribute's flag may go: it comes back after, FORMAT.md
	 * 14.9.) */
	if (e == 0 && ((oh.flags != nh.flags && (oh.flags & ~LFS_HDR_FLAG_IATTR) != nh.flags) ||
	               oh.version != nh.version ||
	               sodium_memcmp(oh.file_id, nh.file_id, LFS_FILE_ID_LEN) == 0))
		e = -EINVAL;
	if (e < 0)
		return e;
	uint8_t cur[LFS_FILE_HDR_MAX];
	size_t got = 0;
	if ((e = lfs_pread_full(fd, cur, img, 0, &got)) < 0)
		return e;
	if (got == img && memcmp(cur, new_raw, img) == 0)
		return 0; /* the new header is written last: done */
	/* ... or it is, with the inode attribute's flag set after it
	 * (FORMAT.md 14.9): the same first 32 bytes but for that flag. (The
	 * mount authenticates it, as any header, before using it.) */
	if (got == img && img == LFS_FILE_HDR_V2_LEN && memcmp(cur, new_raw, 6) == 0 &&
	    memcmp(cur + 8, new_raw + 8, 24) == 0 &&
	    (unsigned)(cur[6] | cur[7] << 8) == (new_raw[6] | new_raw[7] << 8 | LFS_HDR_FLAG_IATTR))
		return 0;
	if (got != img || memcmp(cur, old_raw, img) != 0)
		return -ESTALE;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	lfs_layout_init(&l, cipher, oh.version);
	e = lfs_refile(&l, kr, w, fd, &oh, &nh, new_raw, true, NULL, NULL, NULL);
	/* Contents did not change: keep the times the user sees. */
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (e == 0)
		futimens(fd, ts);
	return e;
}

/* The lengths of a directory record's two images. */
static int dir_images(size_t len, size_t *old_len)
{
	if (len == 2 * LFS_DIRMETA_V1_LEN || len == LFS_DIRMETA_V1_LEN + LFS_DIRMETA_V2_LEN)
		*old_len = LFS_DIRMETA_V1_LEN;
	else if (len == 2 * LFS_DIRMETA_V2_LEN)
		*old_len = LFS_DIRMETA_V2_LEN;
	else
		return -EINVAL;
	return 0;
}

int lfs_rot_apply_dir(struct lfs_keyring *kr, int dirfd, const uint8_t *payload, size_t len)
{
	size_t old_len = 0;
	struct lfs_dirmeta om, nm, cur;
	if (dir_images(len, &old_len) < 0 || lfs_dirmeta_decode(payload, old_len, &om) < 0 ||
	    lfs_dirmeta_decode(payload + old_len, len - old_len, &nm) < 0 ||
	    memcmp(om.dirid, nm.dirid, sizeof(om.dirid)) != 0 || lfs_epoch_is_staging(om.epoch) ||
	    lfs_epoch_is_staging(nm.epoch) || nm.version < om.version)
		return -EINVAL;
	/* A new image of version 2 must authenticate: it is written as is. */
	const struct lfs_epoch_keys *k;
	int e = 0;
	if (nm.version == 2) {
		struct lfs_irec rec;
		if ((e = lfs_keyring_get(kr, nm.epoch, &k)) < 0)
			return e;
		e = lfs_dirmeta_open(payload + old_len, len - old_len, k, &rec) < 0 ||
		            rec.type != LFS_IREC_DIR
		        ? -EINVAL
		        : 0;
		lfs_keyring_put(kr);
		if (e < 0)
			return e;
	}
	if (lfs_dirmeta_load(dirfd, &cur) < 0 || memcmp(cur.dirid, om.dirid, sizeof(om.dirid)) != 0)
		return -ESTALE;
	if (cur.epoch == nm.epoch && cur.version == nm.version)
		e = 0; /* .lethefs.dir is replaced last: done */
	else
		e = lfs_redir_convert(kr, dirfd, &om, &nm, payload + old_len, len - old_len, NULL,
		                      NULL);
	/* Toward format 2: the backing directory's mode and owner are the
	 * record's now (idempotent, as is the rest). */
	if (e == 0 && om.version == 1 && nm.version == 2)
		lfs_up_backing_attrs(dirfd, true);
	return e;
}
