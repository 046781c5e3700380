/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "overwrite.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* Payload: disk file id (16), disk epoch (4), sealing file id (16), sealing
 * epoch (4), first block (8), count (4), last block's length (4), final
 * block (8). */
size_t lfs_overwrite_encode(const struct lfs_overwrite *o, uint8_t p[LFS_OVERWRITE_PAYLOAD_LEN])
{
	memcpy(p, o->disk_h.file_id, LFS_FILE_ID_LEN);
	put_le32(p + 16, o->disk_h.epoch);
	memcpy(p + 20, o->seal_h.file_id, LFS_FILE_ID_LEN);
	put_le32(p + 36, o->seal_h.epoch);
	put_le64(p + 40, o->first_block);
	put_le32(p + 48, o->count);
	put_le32(p + 52, o->last_len);
	put_le64(p + 56, o->final_block);
	return LFS_OVERWRITE_PAYLOAD_LEN;
}

int lfs_overwrite_decode(const uint8_t *p, size_t len, size_t bulk_len, const struct lfs_layout *l,
                         struct lfs_overwrite *o)
{
	if (len != LFS_OVERWRITE_PAYLOAD_LEN)
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	memcpy(o->disk_h.file_id, p, LFS_FILE_ID_LEN);
	o->disk_h.epoch = get_le32(p + 16);
	memcpy(o->seal_h.file_id, p + 20, LFS_FILE_ID_LEN);
	o->seal_h.epoch = get_le32(p + 36);
	o->first_block = get_le64(p + 40);
	o->count = get_le32(p + 48);
	o->last_len = get_le32(p + 52);
	o->final_block = get_le64(p + 56);
	uint64_t last = o->first_block + o->count - 1;
	if (o->disk_h.epoch == 0 || o->seal_h.epoch == 0 || o->count == 0 ||
	    o->count > LFS_JOURNAL_LARGE_LEN / l->block_disk || last < o->first_block ||
	    last > o->final_block || o->last_len <= l->overhead || o->last_len > l->block_disk ||
	    (o->last_len < l->block_disk && last != o->final_block) ||
	    bulk_len != (size_t)(o->count - 1) * l->block_disk + o->last_len)
		return -EINVAL;
	return 0;
}

/* Blocks per record: as many as a large slot holds beside the target. */
static size_t run_blocks(const struct lfs_overwriter *w, const struct lfs_layout *l)
{
	size_t room = LFS_JOURNAL_BULK_ROOM(w->target->path_len, LFS_OVERWRITE_PAYLOAD_LEN);
	return room / l->block_disk;
}

static int repair_run(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                      const struct lfs_overwrite *o, const uint8_t *bulk, unsigned *repaired,
                      unsigned *lost);

static int write_run(struct lfs_overwriter *w, const struct lfs_layout *l,
                     struct lfs_journal_record *rec, int fd, const struct lfs_overwrite *o,
                     const uint8_t *disk, size_t len, off_t at)
{
	rec->payload_len = (uint32_t)lfs_overwrite_encode(o, rec->payload);
	rec->bulk = disk;
	rec->bulk_len = (uint32_t)len;
	unsigned slot;
	int r = lfs_journal_begin(w->journal, w->key, rec, w->durable, &slot);
	if (r < 0)
		return r;
	r = lfs_pwrite_full(fd, disk, len, at);
	/* A sync that fails is the disk's error, not the write's: the
	 * blocks are whole and new, and the file's next fsync reports it, as
	 * the kernel reports a failed writeback (fs/durable.h). */
	if (r == 0 && w->durable && fdatasync(fd) < 0)
		w->sync_err = errno;
	if (r < 0) {
		/* Part of the run may be new and one block cut: put back what
		 * does not authenticate, as recovery would. Only if that
		 * fails too does the record stay for the next recovery. */
		unsigned repaired = 0, lost = 0;
		int e = repair_run(l, w->kr, fd, o, disk, &repaired, &lost);
		/* With the durable order the repaired blocks must be on disk
		 * before the synced record that can mend them goes. */
		if (e == 0 && repaired && w->durable && fdatasync(fd) < 0)
			e = -errno;
		if (e < 0 || lost || lfs_journal_end(w->journal, slot) < 0) {
			lfs_journal_keep(w->journal, slot);
			w->kept = true;
		}
		return r;
	}
	/* Written: a record that cannot be cleared stays (applying it again
	 * changes nothing) and the file waits for the next recovery. */
	if (lfs_journal_end(w->journal, slot) < 0)
		w->kept = true;
	return 0;
}

int lfs_overwrite_write(struct lfs_overwriter *w, const struct lfs_layout *l, int fd,
                        struct lfs_overwrite *o, uint64_t first_block, const uint8_t *disk,
                        size_t len)
{
	off_t at = (off_t)lfs_block_offset(l, first_block);
	/* No journal (an offline view), or one of lethefs 0.2 that still held
	 * records at this mount and so was not made anew with large slots:
	 * plain writes, as before, until the next mount remakes it. */
	if (!w || !w->journal || w->journal->fd < 0 || w->journal->nlarge == 0)
		return lfs_pwrite_full(fd, disk, len, at);
	struct lfs_journal_record *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rec->kind = LFS_JK_OVERWRITE;
	rec->target = *w->target;
	size_t per_run = run_blocks(w, l) * l->block_disk;
	int r = 0;
	uint64_t b = first_block;
	for (size_t done = 0; r == 0 && done < len;) {
		size_t n = len - done < per_run ? len - done : per_run;
		o->first_block = b;
		o->count = (uint32_t)((n + l->block_disk - 1) / l->block_disk);
		o->last_len = (uint32_t)(n - (size_t)(o->count - 1) * l->block_disk);
		r = write_run(w, l, rec, fd, o, disk + done, n, at + (off_t)done);
		done += n;
		b += o->count;
	}
	free(rec);
	return r;
}

/* --- recovery --------------------------------------------------------------- */

struct keys {
	struct lfs_file_header disk_h, seal_h;
	struct lfs_aead_key disk_k, seal_k;
};

static int file_key(const struct lfs_layout *l, struct lfs_keyring *kr,
                    const struct lfs_file_header *h, struct lfs_aead_key *k)
{
	const struct lfs_epoch_keys *e;
	int r = lfs_keyring_get(kr, h->epoch, &e);
	if (r < 0)
		return r;
	r = lfs_file_key(k, l->cipher, e->content, h->file_id);
	lfs_keyring_put(kr);
	return r;
}

/* The file's header must be the record's disk header, and authentic. */
static int take_keys(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                     const struct lfs_overwrite *o, struct keys *k)
{
	uint8_t raw[LFS_FILE_HDR_MAX];
	size_t got;
	int r = lfs_pread_full(fd, raw, l->hdr_len, 0, &got);
	if (r < 0)
		return r;
	if (got != l->hdr_len || lfs_header_parse(raw, got, &k->disk_h) < 0 ||
	    k->disk_h.cipher != l->cipher || k->disk_h.version != l->version)
		return -ESTALE;
	if (sodium_memcmp(k->disk_h.file_id, o->disk_h.file_id, LFS_FILE_ID_LEN) != 0 ||
	    k->disk_h.epoch != o->disk_h.epoch)
		return -ESTALE;
	const struct lfs_epoch_keys *e;
	if ((r = lfs_keyring_get(kr, k->disk_h.epoch, &e)) < 0)
		return r;
	struct lfs_irec rec;
	r = lfs_header_verify(raw, &k->disk_h, e, &rec) < 0 ? -EIO : 0;
	sodium_memzero(&rec, sizeof(rec));
	lfs_keyring_put(kr);
	if (r < 0)
		return r;
	k->seal_h = k->disk_h;
	memcpy(k->seal_h.file_id, o->seal_h.file_id, LFS_FILE_ID_LEN);
	k->seal_h.epoch = o->seal_h.epoch;
	if ((r = file_key(l, kr, &k->disk_h, &k->disk_k)) < 0)
		return r;
	if ((r = file_key(l, kr, &k->seal_h, &k->seal_k)) < 0)
		lfs_aead_key_wipe(&k->disk_k);
	return r;
}

/* Whether a stored block authenticates as block b under either header, or
 * is a hole of a sparse file (zeros, not the last block). */
static bool block_ok(const struct lfs_layout *l, const struct keys *k, uint64_t b, bool final,
                     const uint8_t *in, size_t len, uint8_t *plain)
{
	if ((k->disk_h.flags & LFS_HDR_FLAG_SPARSE) && !final && len == l->block_disk &&
	    sodium_is_zero(in, len))
		return true;
	return lfs_block_open(l, &k->disk_k, &k->disk_h, b, final, in, len, plain) >= 0 ||
	       lfs_block_open(l, &k->seal_k, &k->seal_h, b, final, in, len, plain) >= 0;
}

static int repair(const struct lfs_layout *l, const struct keys *k, int fd,
                  const struct lfs_overwrite *o, const uint8_t *bulk, unsigned *repaired,
                  unsigned *lost)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint8_t *disk = malloc(l->block_disk);
	uint8_t *plain = sodium_malloc(LFS_BLOCK_SIZE);
	int r = disk && plain ? 0 : -ENOMEM;
	for (uint32_t i = 0; r == 0 && i < o->count; i++) {
		uint64_t b = o->first_block + i;
		bool final = b == o->final_block;
		size_t len = i + 1 == o->count ? o->last_len : l->block_disk;
		const uint8_t *copy = bulk + (size_t)i * l->block_disk;
		off_t at = (off_t)lfs_block_offset(l, b);
		size_t got;
		if ((uint64_t)st.st_size < (uint64_t)at + len)
			continue; /* not there (cut since): nothing to repair */
		if ((r = lfs_pread_full(fd, disk, len, at, &got)) < 0)
			break;
		if (got == len && block_ok(l, k, b, final, disk, len, plain))
			continue;
		/* Shared mode: another host may have moved the file's end since
		 * (an append re-sealed the recorded last block as a full one):
		 * a block authentic where the file ends now is left alone. */
		if (final && (uint64_t)st.st_size != (uint64_t)at + len) {
			uint64_t room = (uint64_t)st.st_size - (uint64_t)at;
			bool now_final = room <= l->block_disk;
			size_t now_len = now_final ? (size_t)room : l->block_disk;
			if (now_len > len &&
			    (r = lfs_pread_full(fd, disk, now_len, at, &got)) == 0 &&
			    got == now_len && block_ok(l, k, b, now_final, disk, now_len, plain))
				continue;
			if (r < 0)
				break;
		}
		if (lfs_block_open(l, &k->seal_k, &k->seal_h, b, final, copy, len, plain) < 0) {
			(*lost)++;
			continue;
		}
		if ((r = lfs_pwrite_full(fd, copy, len, at)) == 0)
			(*repaired)++;
	}
	if (plain)
		sodium_free(plain);
	free(disk);
	if (r == 0 && *repaired && fdatasync(fd) < 0)
		r = -errno;
	return r;
}

static int repair_run(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                      const struct lfs_overwrite *o, const uint8_t *bulk, unsigned *repaired,
                      unsigned *lost)
{
	*repaired = *lost = 0;
	if (!kr)
		return -EINVAL;
	struct keys k;
	int e = take_keys(l, kr, fd, o, &k);
	if (e < 0)
		return e;
	e = repair(l, &k, fd, o, bulk, repaired, lost);
	lfs_aead_key_wipe(&k.disk_k);
	lfs_aead_key_wipe(&k.seal_k);
	return e;
}

int lfs_overwrite_recover(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                          const struct lfs_journal_record *r, unsigned *repaired, unsigned *lost)
{
	*repaired = *lost = 0;
	/* Block offsets are those of the file's header version, which the
	 * record does not name: it is read from the file (a file of another
	 * version than the record's blocks is another file: its header then
	 * does not match the record's). */
	uint8_t head[5];
	size_t got = 0;
	int e = lfs_pread_full(fd, head, sizeof(head), 0, &got);
	if (e < 0)
		return e;
	int v = lfs_header_version(head, got);
	if (v < 0)
		return -ESTALE;
	struct lfs_layout fl;
	lfs_layout_init(&fl, l->cipher, (unsigned)v);
	struct lfs_overwrite o;
	if (lfs_overwrite_decode(r->payload, r->payload_len, r->bulk_len, &fl, &o) < 0)
		return -EINVAL;
	return repair_run(&fl, kr, fd, &o, r->bulk, repaired, lost);
}
