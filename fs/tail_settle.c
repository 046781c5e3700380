/* SPDX-License-Identifier: Apache-2.0 */
/* Recovery of a tail record when other hosts may have changed the same
 * file after the crash (shared mode, docs/SHARED.md "Crashes"), which is
 * also right when nobody did. */
#define _GNU_SOURCE
#include "tail.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* The file's header, authenticated and naming the record's file, with its
 * per-file key. -ESTALE: another file; -EIO: no valid header. */
static int file_key(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                    const struct lfs_tail *t, struct lfs_file_header *h, struct lfs_aead_key *k)
{
	uint8_t raw[LFS_FILE_HDR_MAX];
	size_t got;
	int r = lfs_pread_full(fd, raw, l->hdr_len, 0, &got);
	if (r < 0)
		return r;
	/* l is of the file's header version (lfs_tail_layout). */
	if (got != l->hdr_len || lfs_header_parse(raw, got, h) < 0 || h->cipher != l->cipher ||
	    h->version != l->version)
		return -EIO;
	if (sodium_memcmp(h->file_id, t->file_id, LFS_FILE_ID_LEN) != 0)
		return -ESTALE;
	const struct lfs_epoch_keys *e;
	if ((r = lfs_keyring_get(kr, h->epoch, &e)) < 0)
		return r;
	struct lfs_irec rec;
	r = lfs_header_verify(raw, h, e, &rec) < 0
	        ? -EIO
	        : lfs_file_key(k, l->cipher, e->content, h->file_id);
	lfs_keyring_put(kr);
	return r;
}

struct view {
	const struct lfs_layout *l;
	const struct lfs_aead_key *k;
	const struct lfs_file_header *h;
	int fd;
	uint64_t plain; /* plaintext size the backing length gives */
	uint8_t *disk, *plain_buf, *out;
};

/* Reads block b as stored; its stored length in *len. */
static int stored_block(struct view *v, uint64_t b, uint64_t cur, size_t *len)
{
	uint64_t at = lfs_block_offset(v->l, b);
	*len = (size_t)(cur - at < v->l->block_disk ? cur - at : v->l->block_disk);
	size_t got;
	int r = lfs_pread_full(v->fd, v->disk, *len, (off_t)at, &got);
	return r < 0 ? r : got == *len ? 0 : -EIO;
}

/* A file whose end authenticates (its last block as the last one): what
 * another host's update of the end first checks, so the only state one
 * could have built on. */
static bool end_is_whole(struct view *v, uint64_t cur)
{
	if (!lfs_plain_size(v->l, cur, &v->plain) || v->plain == 0)
		return false;
	uint64_t last = (v->plain - 1) / LFS_BLOCK_SIZE;
	size_t len;
	return stored_block(v, last, cur, &len) == 0 &&
	       lfs_block_open(v->l, v->k, v->h, last, true, v->disk, len, v->plain_buf) >= 0;
}

/* A sealed pivot from the record, if it is exactly right for block p at
 * its place now (final or not, and that stored length). */
static bool fits(struct view *v, uint64_t p, bool final, size_t len, const uint8_t *c,
                 uint32_t clen)
{
	return clen == len &&
	       lfs_block_open(v->l, v->k, v->h, p, final, c, clen, v->plain_buf) >= 0;
}

/* The update's pivot, sealed for the place it has now. The file's end is
 * whole, so the update either never moved it or went through to its new
 * end (another host may have changed it after that): the blocks between
 * are whole, and only the pivot may still be sealed as it was before
 * (a growth's old last block still final, a cut's new last block already
 * final before the cut). The record's pivot that fits its place is put
 * back; failing that, its plaintext is sealed again, cut or padded with
 * zeros to the length the place implies. */
static int settle_pivot(struct view *v, const struct lfs_tail *t, uint64_t cur, bool *completed)
{
	uint64_t p = t->pivot_block;
	*completed = cur == t->new_backing;
	if (p == LFS_TAIL_NONE || p > (v->plain - 1) / LFS_BLOCK_SIZE)
		return 0; /* no pivot, or cut away since */
	bool final = p == (v->plain - 1) / LFS_BLOCK_SIZE;
	uint64_t at = lfs_block_offset(v->l, p);
	size_t len;
	int r = stored_block(v, p, cur, &len);
	if (r < 0)
		return r;
	if (lfs_block_open(v->l, v->k, v->h, p, final, v->disk, len, v->plain_buf) >= 0)
		return 0; /* right as it is */
	const uint8_t *put = NULL;
	if (fits(v, p, final, len, t->new_pivot, t->new_pivot_len))
		put = t->new_pivot; /* a growth that had not re-sealed its old end */
	else if (fits(v, p, final, len, t->old_pivot, t->old_pivot_len))
		put = t->old_pivot; /* a cut that had not cut: as before it */
	if (!put) {
		int n = -EIO;
		const uint8_t *src[] = {t->new_pivot, t->old_pivot, v->disk};
		const size_t srclen[] = {t->new_pivot_len, t->old_pivot_len, len};
		for (int i = 0; i < 3 && n < 0; i++)
			for (int f = 0; f < 2 && n < 0 && srclen[i]; f++)
				n = lfs_block_open(v->l, v->k, v->h, p, f, src[i], srclen[i],
				                   v->plain_buf);
		if (n < 0)
			return -EIO;
		size_t want = len - v->l->overhead;
		if ((size_t)n < want)
			memset(v->plain_buf + n, 0, want - (size_t)n);
		randombytes_buf(v->out, v->l->nonce_len);
		if ((r = lfs_block_seal(v->l, v->k, v->h, p, final, v->plain_buf, want, v->out)) <
		    0)
			return r;
		put = v->out;
	}
	r = lfs_pwrite_full(v->fd, put, len, (off_t)at);
	if (r == 0 && fdatasync(v->fd) < 0)
		r = -errno;
	*completed = put != t->old_pivot;
	return r;
}

int lfs_tail_recover_any(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                         const struct lfs_tail *t, bool *completed)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	struct lfs_file_header h;
	struct lfs_aead_key k;
	int r = file_key(l, kr, fd, t, &h, &k);
	if (r == -ESTALE)
		return r;
	if (r < 0) /* no valid header: a first write cut short, or worse */
		return lfs_tail_recover(l, kr, fd, t, completed);
	struct view v = {.l = l, .k = &k, .h = &h, .fd = fd};
	bool body = true;
	v.disk = malloc(l->block_disk);
	v.out = malloc(l->block_disk);
	v.plain_buf = sodium_malloc(LFS_BLOCK_SIZE);
	if (!v.disk || !v.out || !v.plain_buf)
		r = -ENOMEM;
	else if (!end_is_whole(&v, (uint64_t)st.st_size))
		r = 1;
	else if ((uint64_t)st.st_size == t->new_backing &&
	         (r = lfs_tail_body_ok(l, &k, &h, fd, t, &body)) == 0 && !body)
		r = 1; /* its end on disk, blocks before it not (a power loss) */
	else if (r == 0)
		r = settle_pivot(&v, t, (uint64_t)st.st_size, completed);
	lfs_aead_key_wipe(&k);
	sodium_free(v.plain_buf);
	free(v.disk);
	free(v.out);
	/* An end that does not authenticate: the update stopped in the middle,
	 * and nobody can have built on that (see above). */
	return r == 1 ? lfs_tail_recover(l, kr, fd, t, completed) : r;
}
