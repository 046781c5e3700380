/* SPDX-License-Identifier: Apache-2.0 */
/* A format-1 file with contents brought to format 2 (upconvert.h): its
 * blocks move (a version-2 header is longer) and are sealed again (their
 * associated data names the version), so the new image is built whole in a
 * temporary file first, then copied over the file in place under a
 * journal record (kind 6):
 *
 *   1. the temporary file: header, every block re-sealed, holes kept;
 *      synced, and its length and hash taken;
 *   2. the record (synced): both headers, the file's times, the temporary
 *      file's name, length and hash;
 *   3. the copy over the file from offset 0, the new length, fdatasync;
 *   4. times, backing mode and owner; the record cleared, the temporary
 *      file removed.
 *
 * Recovery: the file still begins with its old header and the temporary
 * file is not intact: nothing was copied, the conversion is dropped;
 * otherwise, with the temporary file intact, step 3 and 4 are done again
 * (the copy is idempotent). The copy having begun (the new header is the
 * first thing written) without an intact temporary file is the one loss
 * (the backing-store writer removed it): -EIO. */
#define _GNU_SOURCE
#include "upconvert.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../fs/obj2.h"
#include "../journal/target.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#define CHUNK        (1u << 20)
#define CHUNK_BLOCKS 128u

void lfs_up_payload_encode(const struct lfs_up_payload *p, uint8_t out[LFS_UP_PAYLOAD_LEN])
{
	uint8_t *o = out;
	memcpy(o, p->old_hdr, LFS_FILE_HDR_V1_LEN);
	o += LFS_FILE_HDR_V1_LEN;
	memcpy(o, p->new_hdr, LFS_FILE_HDR_V2_LEN);
	o += LFS_FILE_HDR_V2_LEN;
	put_le64(o, (uint64_t)p->atime.tv_sec);
	put_le32(o + 8, (uint32_t)p->atime.tv_nsec);
	put_le64(o + 12, (uint64_t)p->mtime.tv_sec);
	put_le32(o + 20, (uint32_t)p->mtime.tv_nsec);
	put_le64(o + 24, p->tmp_len);
	memcpy(o + 32, p->tmp_hash, 32);
	memcpy(o + 64, p->tmp_name, LFS_UP_TMP_NAME_LEN);
}

static bool hex_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int lfs_up_payload_decode(const uint8_t *in, size_t len, struct lfs_up_payload *p)
{
	if (len != LFS_UP_PAYLOAD_LEN)
		return -EINVAL;
	const uint8_t *i = in;
	memcpy(p->old_hdr, i, LFS_FILE_HDR_V1_LEN);
	i += LFS_FILE_HDR_V1_LEN;
	memcpy(p->new_hdr, i, LFS_FILE_HDR_V2_LEN);
	i += LFS_FILE_HDR_V2_LEN;
	p->atime.tv_sec = (time_t)get_le64(i);
	p->atime.tv_nsec = (long)get_le32(i + 8);
	p->mtime.tv_sec = (time_t)get_le64(i + 12);
	p->mtime.tv_nsec = (long)get_le32(i + 20);
	p->tmp_len = get_le64(i + 24);
	memcpy(p->tmp_hash, i + 32, 32);
	memcpy(p->tmp_name, i + 64, LFS_UP_TMP_NAME_LEN);
	p->tmp_name[LFS_UP_TMP_NAME_LEN] = '\0';
	const size_t pl = strlen(LFS_TMP_PREFIX);
	if (p->atime.tv_nsec >= 1000000000L || p->mtime.tv_nsec >= 1000000000L ||
	    memcmp(p->tmp_name, LFS_TMP_PREFIX, pl) != 0 ||
	    !hex_digits(p->tmp_name + pl, LFS_UP_TMP_NAME_LEN - pl) ||
	    p->tmp_len < LFS_FILE_HDR_V2_LEN || p->tmp_len > (uint64_t)INT64_MAX / 2)
		return -EINVAL;
	return 0;
}

/* BLAKE2b-256 of the first len bytes of fd (they must all be there). */
static int hash_file(int fd, uint64_t len, uint8_t out[32])
{
	uint8_t *buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	int r = 0;
	for (uint64_t off = 0; r == 0 && off < len;) {
		size_t want = len - off < CHUNK ? (size_t)(len - off) : CHUNK, got = 0;
		r = lfs_pread_full(fd, buf, want, (off_t)off, &got);
		if (r == 0 && got != want)
			r = -EIO;
		if (r == 0)
			crypto_generichash_update(&st, buf, got);
		off += got;
	}
	crypto_generichash_final(&st, out, 32);
	free(buf);
	return r;
}

/* Copies len bytes of src over dst from offset 0, cuts dst there and
 * syncs it. A copy a kill tears (fs/overwrite.h) is redone whole from the
 * temporary file by the kind-6 record's recovery, which is why these
 * in-place writes need no block records (FORMAT.md 12.9). */
static int copy_over(int src, int dst, uint64_t len)
{
	uint8_t *buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	for (uint64_t off = 0; r == 0 && off < len;) {
		size_t want = len - off < CHUNK ? (size_t)(len - off) : CHUNK, got = 0;
		r = lfs_pread_full(src, buf, want, (off_t)off, &got);
		if (r == 0 && got != want)
			r = -EIO;
		if (r == 0)
			r = lfs_pwrite_full(dst, buf, got, (off_t)off);
		off += got;
	}
	free(buf);
	if (r == 0 && ftruncate(dst, (off_t)len) < 0)
		r = -errno;
	if (r == 0 && fdatasync(dst) < 0)
		r = -errno;
	return r;
}

struct keys {
	struct lfs_aead_key old_k, new_k;
};

static int take_keys(struct lfs_keyring *kr, enum lfs_cipher_id cipher,
                     const struct lfs_file_header *oh, const struct lfs_file_header *nh,
                     const struct lfs_irec *rec, struct keys *k, uint8_t raw[LFS_FILE_HDR_MAX])
{
	const struct lfs_epoch_keys *e;
	int r = lfs_keyring_get(kr, oh->epoch, &e);
	if (r < 0)
		return r;
	r = lfs_file_key(&k->old_k, cipher, e->content, oh->file_id);
	lfs_keyring_put(kr);
	if (r < 0)
		return r;
	if ((r = lfs_keyring_get(kr, nh->epoch, &e)) == 0) {
		r = lfs_file_key(&k->new_k, cipher, e->content, nh->file_id);
		int n = r == 0 ? lfs_header_encode(nh, e, rec, raw) : 0;
		if (n < 0)
			r = n;
		lfs_keyring_put(kr);
	}
	if (r < 0)
		lfs_aead_key_wipe(&k->old_k);
	return r;
}

/* Step 1: the new image into tfd. */
static int build_image(struct lfs_keyring *kr, enum lfs_cipher_id cipher, int fd, int tfd,
                       uint64_t size, const struct lfs_file_header *oh,
                       const struct lfs_file_header *nh, const struct lfs_irec *rec)
{
	struct lfs_layout ol, nl;
	lfs_layout_init(&ol, cipher, LFS_FILE_V1);
	lfs_layout_init(&nl, cipher, LFS_FILE_V2);
	struct keys k;
	uint8_t raw[LFS_FILE_HDR_MAX];
	int r = take_keys(kr, cipher, oh, nh, rec, &k, raw);
	if (r < 0)
		return r;
	r = lfs_pwrite_full(tfd, raw, nl.hdr_len, 0);
	uint8_t *in = malloc(CHUNK_BLOCKS * ol.block_disk);
	uint8_t *out = malloc(CHUNK_BLOCKS * nl.block_disk);
	uint8_t *plain = sodium_malloc(LFS_BLOCK_SIZE);
	if (r == 0 && (!in || !out || !plain))
		r = -ENOMEM;
	uint64_t nblocks = size ? (size - 1) / LFS_BLOCK_SIZE + 1 : 0;
	uint64_t old_backing = lfs_backing_size(&ol, size);
	for (uint64_t b0 = 0; r == 0 && b0 < nblocks; b0 += CHUNK_BLOCKS) {
		uint64_t nb = nblocks - b0 < CHUNK_BLOCKS ? nblocks - b0 : CHUNK_BLOCKS;
		uint64_t from = lfs_block_offset(&ol, b0);
		uint64_t to = lfs_block_offset(&ol, b0 + nb) < old_backing
		                  ? lfs_block_offset(&ol, b0 + nb)
		                  : old_backing;
		size_t got = 0;
		r = lfs_pread_full(fd, in, (size_t)(to - from), (off_t)from, &got);
		if (r == 0 && got != to - from)
			r = -EIO;
		/* Runs of blocks between holes, each written in one pwrite at
		 * its new place. */
		size_t used = 0;
		uint64_t run = b0;
		for (uint64_t i = 0; r == 0 && i < nb; i++) {
			uint64_t b = b0 + i;
			size_t at = (size_t)(i * ol.block_disk);
			size_t len = got - at < ol.block_disk ? got - at : ol.block_disk;
			bool final = b == nblocks - 1;
			/* A hole of a sparse file stays one (left unwritten). */
			if ((oh->flags & LFS_HDR_FLAG_SPARSE) && !final && len == ol.block_disk &&
			    sodium_is_zero(in + at, len)) {
				if (used)
					r = lfs_pwrite_full(tfd, out, used,
					                    (off_t)lfs_block_offset(&nl, run));
				used = 0;
				run = b + 1;
				continue;
			}
			int n = lfs_block_open(&ol, &k.old_k, oh, b, final, in + at, len, plain);
			if (n < 0 || (!final && n != (int)LFS_BLOCK_SIZE)) {
				r = -EIO;
				break;
			}
			randombytes_buf(out + used, nl.nonce_len);
			r = lfs_block_seal(&nl, &k.new_k, nh, b, final, plain, (size_t)n,
			                   out + used);
			used += (size_t)n + nl.overhead;
		}
		if (r == 0 && used)
			r = lfs_pwrite_full(tfd, out, used, (off_t)lfs_block_offset(&nl, run));
	}
	if (r == 0 && ftruncate(tfd, (off_t)lfs_backing_size(&nl, size)) < 0)
		r = -errno;
	if (r == 0 && fsync(tfd) < 0)
		r = -errno;
	sodium_free(plain);
	free(in);
	free(out);
	lfs_aead_key_wipe(&k.old_k);
	lfs_aead_key_wipe(&k.new_k);
	return r;
}

/* Step 4 and the end of recovery. */
static void finish(int fd, const struct lfs_up_payload *p)
{
	struct timespec ts[2] = {p->atime, p->mtime};
	if (futimens(fd, ts) < 0)
		lfs_warn("conversion: cannot keep the times of a file: %s", strerror(errno));
	lfs_up_backing_attrs(fd, false);
}

static int write_record(const struct lfs_up_env *env, int fd, const struct lfs_up_payload *p,
                        unsigned *slot)
{
	struct lfs_journal_record *rec = calloc(1, sizeof(*rec));
	uint8_t *key = sodium_malloc(LFS_JOURNAL_KEY_LEN);
	int r = rec && key ? 0 : -ENOMEM;
	if (r == 0)
		r = lfs_keyring_copy_journal_key(env->kr, key);
	if (r == 0)
		r = lfs_journal_target_of(fd, env->data_path ? env->data_path : "", env->handles,
		                          &rec->target);
	if (r == 0) {
		rec->kind = LFS_JK_UPCONVERT;
		rec->payload_len = LFS_UP_PAYLOAD_LEN;
		lfs_up_payload_encode(p, rec->payload);
		r = lfs_journal_begin(env->journal, key, rec, true, slot);
	}
	if (key)
		sodium_free(key);
	free(rec);
	return r;
}

int lfs_up_file(const struct lfs_up_env *env, int fd, const struct lfs_file_header *old_h,
                uint32_t epoch, struct lfs_file_header *h, struct lfs_irec *rec)
{
	struct stat st;
	struct lfs_layout ol;
	uint64_t size;
	struct lfs_up_payload p;
	memset(&p, 0, sizeof(p));
	if (!env->journal)
		return -EROFS;
	if (old_h->version != LFS_FILE_V1 || fstat(fd, &st) < 0)
		return old_h->version != LFS_FILE_V1 ? -EINVAL : -errno;
	lfs_layout_init(&ol, env->cipher, LFS_FILE_V1);
	if (st.st_size == 0 || !lfs_plain_size(&ol, (uint64_t)st.st_size, &size))
		return -EIO; /* empty: lfs_up_empty_file; malformed: fsck's */
	int r = lfs_up_record(&st, rec);
	size_t got = 0;
	if (r == 0)
		r = lfs_pread_full(fd, p.old_hdr, LFS_FILE_HDR_V1_LEN, 0, &got);
	if (r == 0 && got != LFS_FILE_HDR_V1_LEN)
		r = -EIO;
	if (r < 0)
		return r;
	lfs_header_new(h, env->cipher, epoch, LFS_FILE_V2);
	h->flags = old_h->flags;
	lfs_obj2_tmp_name(p.tmp_name);
	int tfd = openat(env->treefd, p.tmp_name,
	                 O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tfd < 0)
		return -errno;
	r = build_image(env->kr, env->cipher, fd, tfd, size, old_h, h, rec);
	struct lfs_layout nl;
	lfs_layout_init(&nl, env->cipher, LFS_FILE_V2);
	p.tmp_len = lfs_backing_size(&nl, size);
	p.atime = st.st_atim;
	p.mtime = st.st_mtim;
	if (r == 0)
		r = hash_file(tfd, p.tmp_len, p.tmp_hash);
	got = 0;
	if (r == 0)
		r = lfs_pread_full(tfd, p.new_hdr, LFS_FILE_HDR_V2_LEN, 0, &got);
	if (r == 0 && got != LFS_FILE_HDR_V2_LEN)
		r = -EIO;
	/* The copy needs a little more room than the file has: reserved now,
	 * so that a full disk fails here, before anything changed. */
	if (r == 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)p.tmp_len) < 0 &&
	    (errno == ENOSPC || errno == EDQUOT))
		r = -errno;
	unsigned slot = 0;
	if (r == 0)
		r = write_record(env, fd, &p, &slot);
	if (r < 0) {
		close(tfd);
		unlinkat(env->treefd, p.tmp_name, 0);
		return r;
	}
	r = copy_over(tfd, fd, p.tmp_len);
	close(tfd);
	if (r < 0) {
		/* Half copied: the record finishes it at the next recovery. */
		lfs_journal_keep(env->journal, slot);
		return r;
	}
	finish(fd, &p);
	lfs_journal_end(env->journal, slot);
	unlinkat(env->treefd, p.tmp_name, 0);
	return 0;
}

/* Parses and authenticates one of the record's headers. */
static int record_header(struct lfs_keyring *kr, enum lfs_cipher_id cipher, const uint8_t *raw,
                         size_t len, unsigned version, struct lfs_file_header *h)
{
	if (lfs_header_parse(raw, len, h) < 0 || h->version != version || h->cipher != cipher)
		return -EINVAL;
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(kr, h->epoch, &k);
	if (r < 0)
		return r == -EIO ? -EINVAL : r;
	struct lfs_irec rec;
	r = lfs_header_verify(raw, h, k, &rec);
	lfs_keyring_put(kr);
	if (r == 0 && version == LFS_FILE_V2 && rec.type != LFS_IREC_REG)
		r = -EINVAL;
	return r < 0 ? -EINVAL : 0;
}

int lfs_up_apply_file(enum lfs_cipher_id cipher, struct lfs_keyring *kr, int treefd, int fd,
                      const uint8_t *payload, size_t len, bool *completed)
{
	struct lfs_up_payload p;
	struct lfs_file_header oh, nh;
	*completed = false;
	int r = lfs_up_payload_decode(payload, len, &p);
	if (r == 0)
		r = record_header(kr, cipher, p.old_hdr, LFS_FILE_HDR_V1_LEN, LFS_FILE_V1, &oh);
	if (r == 0)
		r = record_header(kr, cipher, p.new_hdr, LFS_FILE_HDR_V2_LEN, LFS_FILE_V2, &nh);
	if (r == 0 && sodium_memcmp(oh.file_id, nh.file_id, LFS_FILE_ID_LEN) == 0)
		r = -EINVAL;
	if (r < 0)
		return r;
	uint8_t cur[LFS_FILE_HDR_V2_LEN];
	size_t got = 0;
	if ((r = lfs_pread_full(fd, cur, sizeof(cur), 0, &got)) < 0)
		return r;
	bool begun = got == sizeof(cur) && memcmp(cur, p.new_hdr, sizeof(cur)) == 0;
	if (!begun &&
	    (got < LFS_FILE_HDR_V1_LEN || memcmp(cur, p.old_hdr, LFS_FILE_HDR_V1_LEN) != 0))
		return -ESTALE;
	int tfd = lfs_open_regular(treefd, p.tmp_name);
	struct stat tst;
	uint8_t h[32];
	bool intact = tfd >= 0 && fstat(tfd, &tst) == 0 && S_ISREG(tst.st_mode) &&
	              (uint64_t)tst.st_size == p.tmp_len && hash_file(tfd, p.tmp_len, h) == 0 &&
	              sodium_memcmp(h, p.tmp_hash, 32) == 0;
	if (!intact) {
		if (tfd >= 0)
			close(tfd);
		if (begun)
			return -EIO;
		unlinkat(treefd, p.tmp_name, 0); /* nothing was copied */
		return 0;
	}
	r = copy_over(tfd, fd, p.tmp_len);
	close(tfd);
	if (r < 0)
		return r;
	finish(fd, &p);
	unlinkat(treefd, p.tmp_name, 0);
	*completed = true;
	return 0;
}
