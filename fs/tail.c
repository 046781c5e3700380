/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "tail.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#define TAIL_FIXED 56u

size_t lfs_tail_encode(const struct lfs_tail *t, uint8_t *p)
{
	memcpy(p, t->file_id, LFS_FILE_ID_LEN);
	put_le64(p + 16, t->old_backing);
	put_le64(p + 24, t->new_backing);
	put_le64(p + 32, t->check_block);
	put_le64(p + 40, t->pivot_block);
	put_le32(p + 48, t->old_pivot_len);
	put_le32(p + 52, t->new_pivot_len);
	memcpy(p + TAIL_FIXED, t->old_pivot, t->old_pivot_len);
	memcpy(p + TAIL_FIXED + t->old_pivot_len, t->new_pivot, t->new_pivot_len);
	return TAIL_FIXED + t->old_pivot_len + t->new_pivot_len;
}

int lfs_tail_decode(const uint8_t *p, size_t len, const struct lfs_layout *l, struct lfs_tail *t)
{
	if (len < TAIL_FIXED)
		return -EINVAL;
	memcpy(t->file_id, p, LFS_FILE_ID_LEN);
	t->old_backing = get_le64(p + 16);
	t->new_backing = get_le64(p + 24);
	t->check_block = get_le64(p + 32);
	t->pivot_block = get_le64(p + 40);
	t->old_pivot_len = get_le32(p + 48);
	t->new_pivot_len = get_le32(p + 52);
	if (t->old_pivot_len > l->block_disk || t->new_pivot_len > l->block_disk ||
	    len != TAIL_FIXED + (size_t)t->old_pivot_len + t->new_pivot_len)
		return -EINVAL;
	uint64_t plain;
	/* Both lengths must be lengths of well-formed files, the pivot inside
	 * them, and the check block the last block of the new length. */
	if (!lfs_plain_size(l, t->old_backing, &plain) ||
	    !lfs_plain_size(l, t->new_backing, &plain))
		return -EINVAL;
	if (t->pivot_block == LFS_TAIL_NONE) {
		if (t->old_pivot_len || t->new_pivot_len)
			return -EINVAL;
	} else {
		uint64_t at = lfs_block_offset(l, t->pivot_block);
		if (t->pivot_block > (UINT64_MAX - l->hdr_len) / l->block_disk ||
		    at + t->new_pivot_len > t->new_backing || t->new_pivot_len <= l->overhead ||
		    (t->old_pivot_len &&
		     (t->old_pivot_len <= l->overhead || at + t->old_pivot_len > t->old_backing)))
			return -EINVAL;
	}
	if (t->check_block != LFS_TAIL_NONE) {
		if (t->new_backing <= t->old_backing || plain == 0 ||
		    t->check_block != (plain - 1) / LFS_BLOCK_SIZE)
			return -EINVAL;
	}
	t->old_pivot = p + TAIL_FIXED;
	t->new_pivot = p + TAIL_FIXED + t->old_pivot_len;
	return 0;
}

int lfs_tail_layout(int fd, enum lfs_cipher_id cipher, struct lfs_layout *l)
{
	uint8_t head[5];
	size_t got = 0;
	int r = lfs_pread_full(fd, head, sizeof(head), 0, &got);
	if (r < 0)
		return r;
	lfs_layout_init(l, cipher,
	                lfs_header_version(head, got) == LFS_FILE_V2 ? LFS_FILE_V2 : LFS_FILE_V1);
	return 0;
}

/* Reads the header: -ENOENT when the file is too short to have one. */
static int read_header(const struct lfs_layout *l, int fd, uint8_t raw[LFS_FILE_HDR_MAX],
                       struct lfs_file_header *h)
{
	size_t got;
	int r = lfs_pread_full(fd, raw, l->hdr_len, 0, &got);
	if (r < 0)
		return r;
	if (got < l->hdr_len)
		return -ENOENT;
	if (lfs_header_parse(raw, got, h) < 0 || h->cipher != l->cipher || h->version != l->version)
		return -EINVAL;
	return 0;
}

/* Whether the check block is on disk, sealed as the last block under the
 * file's (authenticated) header. */
static int check_block_ok(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                          const struct lfs_file_header *h, const struct lfs_tail *t, bool *ok)
{
	*ok = false;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < t->new_backing)
		return 0;
	uint64_t at = lfs_block_offset(l, t->check_block);
	size_t len = (size_t)(t->new_backing - at);
	uint8_t *disk = malloc(len);
	uint8_t *plain = sodium_malloc(LFS_BLOCK_SIZE);
	const struct lfs_epoch_keys *e;
	int r = disk && plain ? 0 : -ENOMEM;
	size_t got = 0;
	if (r == 0)
		r = lfs_pread_full(fd, disk, len, (off_t)at, &got);
	if (r == 0 && got == len && (r = lfs_keyring_get(kr, h->epoch, &e)) == 0) {
		struct lfs_aead_key k;
		lfs_file_key(&k, l->cipher, e->content, h->file_id);
		lfs_keyring_put(kr);
		*ok = lfs_block_open(l, &k, h, t->check_block, true, disk, len, plain) >= 0;
		if (*ok)
			r = lfs_tail_body_ok(l, &k, h, fd, t, ok);
		lfs_aead_key_wipe(&k);
	}
	free(disk);
	sodium_free(plain);
	return r;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int lfs_tail_body_ok(const struct lfs_layout *l, const struct lfs_aead_key *k,
                     const struct lfs_file_header *h, int fd, const struct lfs_tail *t, bool *ok)
{
	*ok = true;
	/* Nothing to check, or no way back: a growth whose record lacks the
	 * old pivot (kept only for -o powersafe and appends, fs/fileio_tail.c)
	 * cannot be undone once its pivot may be written; what it wrote is
	 * kept as it is. */
	if (t->check_block == LFS_TAIL_NONE ||
	    (t->pivot_block != LFS_TAIL_NONE && t->old_pivot_len == 0))
		return 0;
	uint64_t first = t->pivot_block == LFS_TAIL_NONE ? 0 : t->pivot_block + 1;
	if (first >= t->check_block)
		return 0;
	uint8_t *disk = malloc(l->block_disk);
	uint8_t *plain = sodium_malloc(LFS_BLOCK_SIZE);
	int r = disk && plain ? 0 : -ENOMEM;
	bool holes = (h->flags & LFS_HDR_FLAG_SPARSE) != 0;
	for (uint64_t b = first; r == 0 && *ok && b < t->check_block; b++) {
		/* Blocks wholly inside a hole read as zeros: skipped, a hole
		 * at a time (a growth by truncate may leave terabytes). */
		off_t at = (off_t)lfs_block_offset(l, b);
		off_t data = holes ? lseek(fd, at, SEEK_DATA) : -1;
		if (data > at && (uint64_t)data - l->hdr_len >= (b + 1) * l->block_disk) {
			b = ((uint64_t)data - l->hdr_len) / l->block_disk - 1;
			continue;
		}
		size_t got = 0;
		r = lfs_pread_full(fd, disk, l->block_disk, at, &got);
		if (r == 0)
			*ok = got == l->block_disk &&
			      ((holes && all_zero(disk, got)) ||
			       lfs_block_open(l, k, h, b, false, disk, got, plain) >= 0);
	}
	free(disk);
	sodium_free(plain);
	return r;
}

int lfs_tail_undo(int fd, const struct lfs_layout *l, const struct lfs_tail *t)
{
	if (ftruncate(fd, (off_t)t->old_backing) < 0)
		return -errno;
	if (t->old_pivot_len)
		return lfs_pwrite_full(fd, t->old_pivot, t->old_pivot_len,
		                       (off_t)lfs_block_offset(l, t->pivot_block));
	return 0;
}

static int redo(int fd, const struct lfs_layout *l, const struct lfs_tail *t)
{
	if (ftruncate(fd, (off_t)t->new_backing) < 0)
		return -errno;
	if (t->new_pivot_len)
		return lfs_pwrite_full(fd, t->new_pivot, t->new_pivot_len,
		                       (off_t)lfs_block_offset(l, t->pivot_block));
	return 0;
}

int lfs_tail_recover(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                     const struct lfs_tail *t, bool *completed)
{
	uint8_t raw[LFS_FILE_HDR_MAX];
	struct lfs_file_header h;
	struct lfs_irec rec;
	int r = read_header(l, fd, raw, &h);
	bool have_header = r == 0;
	if (r < 0 && r != -ENOENT && r != -EINVAL)
		return r;
	r = 0;
	/* A header that parses names the file; another file id is another
	 * file (the path or handle found something else). A header that
	 * does not parse is only acceptable for a new file whose first write
	 * was cut short (old length 0): it is then cut back to nothing. */
	if (have_header && sodium_memcmp(h.file_id, t->file_id, LFS_FILE_ID_LEN) != 0)
		return -ESTALE;
	if (have_header) {
		const struct lfs_epoch_keys *e;
		if ((r = lfs_keyring_get(kr, h.epoch, &e)) < 0)
			return r;
		r = lfs_header_verify(raw, &h, e, &rec);
		lfs_keyring_put(kr);
		if (r < 0)
			have_header = false;
	}
	if (!have_header && t->old_backing != 0)
		return -EIO;

	bool done = true;
	if (t->check_block != LFS_TAIL_NONE) {
		done = false;
		if (have_header && (r = check_block_ok(l, kr, fd, &h, t, &done)) < 0)
			return r;
	}
	if (done) {
		r = redo(fd, l, t);
		/* A redo that cannot be written (a full disk) is undone
		 * instead where the old state can be rebuilt. */
		if (r < 0 && t->new_backing >= t->old_backing) {
			done = false;
			r = lfs_tail_undo(fd, l, t);
		}
	} else {
		r = lfs_tail_undo(fd, l, t);
	}
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	*completed = done;
	return r;
}
