/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "record.h"
#include "redir.h"
#include "refile.h"
#include "../common/fileutil.h"
#include "../journal/target.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

int lfs_rot_record_begin(struct lfs_fs *fs, uint8_t kind, int fd, const char *rel,
			 const uint8_t *old_img, const uint8_t *new_img, size_t img_len,
			 unsigned *slot)
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
		rec->payload_len = (uint32_t)(2 * img_len);
		memcpy(rec->payload, old_img, img_len);
		memcpy(rec->payload + img_len, new_img, img_len);
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

/* Parses a header of the record and checks its MAC under its epoch. */
static int record_header(struct lfs_keyring *kr, const struct lfs_layout *l, const uint8_t *raw,
			 struct lfs_file_header *h)
{
	if (lfs_header_parse(raw, LFS_FILE_HDR_LEN, h) < 0 || h->cipher != l->cipher ||
	    lfs_epoch_is_staging(h->epoch))
		return -EINVAL;
	const struct lfs_epoch_keys *k;
	int e = lfs_keyring_get(kr, h->epoch, &k);
	if (e < 0)
		return e;
	e = lfs_header_verify(raw, k->hdr_mac) < 0 ? -EINVAL : 0;
	lfs_keyring_put(kr);
	return e;
}

int lfs_rot_apply_file(const struct lfs_layout *l, struct lfs_keyring *kr,
		       struct lfs_overwriter *w, int fd, const uint8_t *payload, size_t len)
{
	if (len != LFS_ROT_FILE_PAYLOAD)
		return -EINVAL;
	const uint8_t *old_raw = payload, *new_raw = payload + LFS_FILE_HDR_LEN;
	struct lfs_file_header oh, nh;
	int e = record_header(kr, l, old_raw, &oh);
	if (e == 0)
		e = record_header(kr, l, new_raw, &nh);
	/* The conversion changes the file id and the epoch, nothing else. */
	if (e == 0 && (oh.flags != nh.flags || oh.version != nh.version ||
		       sodium_memcmp(oh.file_id, nh.file_id, LFS_FILE_ID_LEN) == 0))
		e = -EINVAL;
	if (e < 0)
		return e;
	uint8_t cur[LFS_FILE_HDR_LEN];
	size_t got = 0;
	if ((e = lfs_pread_full(fd, cur, sizeof(cur), 0, &got)) < 0)
		return e;
	if (got == sizeof(cur) && memcmp(cur, new_raw, sizeof(cur)) == 0)
		return 0; /* the new header is written last: done */
	if (got != sizeof(cur) || memcmp(cur, old_raw, sizeof(cur)) != 0)
		return -ESTALE;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	e = lfs_refile(l, kr, w, fd, &oh, &nh, true, NULL, NULL, NULL);
	/* Contents did not change: keep the times the user sees. */
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (e == 0)
		futimens(fd, ts);
	return e;
}

int lfs_rot_apply_dir(struct lfs_keyring *kr, int dirfd, const uint8_t *payload, size_t len)
{
	if (len != LFS_ROT_DIR_PAYLOAD)
		return -EINVAL;
	struct lfs_dirmeta om, nm, cur;
	if (lfs_dirmeta_decode(payload, LFS_DIRMETA_LEN, &om) < 0 ||
	    lfs_dirmeta_decode(payload + LFS_DIRMETA_LEN, LFS_DIRMETA_LEN, &nm) < 0 ||
	    memcmp(om.dirid, nm.dirid, sizeof(om.dirid)) != 0 || lfs_epoch_is_staging(om.epoch) ||
	    lfs_epoch_is_staging(nm.epoch))
		return -EINVAL;
	if (lfs_dirmeta_load(dirfd, &cur) < 0 || memcmp(cur.dirid, om.dirid, sizeof(om.dirid)) != 0)
		return -ESTALE;
	if (cur.epoch == nm.epoch)
		return 0; /* .lethefs.dir is replaced last: done */
	return lfs_redir_convert(kr, dirfd, &om, &nm, NULL, NULL);
}
