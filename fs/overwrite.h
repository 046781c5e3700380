/* SPDX-License-Identifier: Apache-2.0 */
/* Blocks rewritten in place, safe against a torn write (docs/FORMAT.md
 * 12.8).
 *
 * A process killed during a pwrite(2) can leave it cut at a page boundary:
 * the kernel copies page by page and stops at the next page once a fatal
 * signal is pending (a kill -9 during a 4,136-byte pwrite cut it at the
 * 4,096-byte boundary 151 times in 400). A stored block is 4,136 (or
 * 4,124) bytes, so it always spans a page boundary, and a block cut there
 * is half new and half old: it authenticates under no key, and the data it
 * held, which the application may have synced long ago, is lost.
 *
 * So blocks that already exist are never rewritten bare: the new sealed
 * blocks first go into a journal record (LFS_JK_OVERWRITE, in a large slot,
 * as bulk), then in place, then the record is cleared. The record is not
 * synced: what it guards against is a killed daemon, whose writes the
 * kernel keeps in the page cache. Recovery, before any other record, puts
 * the record's copy of every block that does not authenticate on disk back
 * in place, after opening that copy under the file's key (the bulk is not
 * covered by the record's MAC; a copy that does not open is not used).
 *
 * Pure content logic on descriptors and buffers: no FUSE. */
#ifndef LETHEFS_OVERWRITE_H
#define LETHEFS_OVERWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content.h"
#include "../journal/journal.h"
#include "../keymgmt/keyring.h"

/* Payload of a LFS_JK_OVERWRITE record (the blocks are its bulk). */
#define LFS_OVERWRITE_PAYLOAD_LEN 64u

struct lfs_overwrite {
	/* The file's header as on disk, and the header the new blocks are
	 * sealed under: the same, except while a rotation converts the file
	 * (then the new blocks carry the new header's id and epoch). Only
	 * their file ids and epochs are recorded; flags, version and cipher
	 * are taken from the disk at recovery. */
	struct lfs_file_header disk_h, seal_h;
	uint64_t final_block; /* the file's last block (sealed final) */
	uint64_t first_block; /* the first block rewritten */
	uint32_t count;       /* blocks rewritten */
	uint32_t last_len;    /* stored length of the last of them */
};

/* Where records go: the journal (NULL: plain writes, for views without
 * one), its MAC key, the target the records name, and the keyring (to put
 * blocks back when a write fails half way). kept is set when a record had
 * to stay in the journal (a write that failed and could not be repaired, a
 * record that could not be cleared): the file must then take no other
 * update before the next recovery, which would otherwise find two records
 * for its blocks. */
struct lfs_overwriter {
	struct lfs_journal *journal;
	const uint8_t *key;
	const struct lfs_journal_target *target;
	struct lfs_keyring *kr;
	bool kept;
	/* The blocks hold bytes an fsync made durable that the write leaves
	 * as they were (fs/durable.h): each record is synced before its
	 * blocks are written, and the file before the record is cleared. */
	bool durable;
	int sync_err; /* that sync's errno, for the file's next fsync */
};

size_t lfs_overwrite_encode(const struct lfs_overwrite *o, uint8_t p[LFS_OVERWRITE_PAYLOAD_LEN]);
/* -EINVAL unless the payload is well-formed and bulk_len is exactly what
 * its blocks take. */
int lfs_overwrite_decode(const uint8_t *p, size_t len, size_t bulk_len, const struct lfs_layout *l,
                         struct lfs_overwrite *o);

/* Writes the stored blocks in disk (len bytes: whole stored blocks from
 * block first_block on, the last one possibly shorter when it is the
 * file's last) in place in fd, each run of them under one record. o's
 * first_block, count and last_len are filled in per run. When a write
 * fails, every block it may have cut is put back (old or new, each
 * authentic) before the error is returned: a failed write costs only its
 * own data. */
int lfs_overwrite_write(struct lfs_overwriter *w, const struct lfs_layout *l, int fd,
                        struct lfs_overwrite *o, uint64_t first_block, const uint8_t *disk,
                        size_t len);

/* Recovery of one record (l gives the cipher; the block offsets are those
 * of the file's header version): puts back every block of the record that does
 * not authenticate in fd (under the disk header or the sealing one) from
 * the record's copy, when that copy opens under the sealing header, and
 * makes it durable. *repaired counts the blocks written, *lost those that
 * neither the disk nor the record could give. -ESTALE when fd is another
 * file (another id or epoch in its header), -EINVAL for a malformed
 * record, -EIO when the file's header does not authenticate. */
int lfs_overwrite_recover(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                          const struct lfs_journal_record *r, unsigned *repaired, unsigned *lost);

#endif
