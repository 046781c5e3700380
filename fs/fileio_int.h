/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to fs/fileio*.c: one operation's view of a file. */
#ifndef LETHEFS_FILEIO_INT_H
#define LETHEFS_FILEIO_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "fs.h"

#define BS ((uint64_t)LFS_BLOCK_SIZE)

/* Everything one operation needs about the file, gathered once. */
struct io {
	struct lfs_fs *fs;
	struct lfs_inode *inode;
	const struct lfs_layout *l; /* &lay */
	struct lfs_layout lay;      /* this file's: its header's version */
	int fd;
	uint64_t backing;                  /* backing file size */
	uint64_t dev, ino;                 /* the backing file's, from io_stat */
	uint64_t size;                     /* plaintext size */
	const struct lfs_epoch_keys *keys; /* held from the keyring */
	struct lfs_aead_key key;
	/* Fresh nonces drawn in batches: one generator call per 64 blocks
	 * rather than per block. Each is handed out once. */
	uint8_t nonces[64 * LFS_AEAD_NONCE_MAX];
	size_t nonces_left;
	/* A block's stored bytes already read by this operation (a growth's
	 * old last block): read_block_as takes them from here instead of
	 * reading them again, one backing call (a network round trip on a
	 * cluster engine) less per growth. NULL: none. */
	const uint8_t *known_disk;
	uint64_t known_block;
	size_t known_len;
};

static inline uint64_t last_block(uint64_t size)
{
	return (size - 1) / BS;
}

int io_stat(struct io *io);
void io_release_keys(struct io *io);
/* Shared by fileio.c, fileio_read.c and fileio_size.c: the file keys of
 * an epoch, an io over an inode's open backing file, the cached header
 * dropped (another host may have replaced it), and a new size made known
 * to readers. */
int io_take_keys(struct io *io, uint32_t epoch);
int io_begin(struct io *io, struct lfs_fs *fs, struct lfs_inode *inode, int fd);
void io_forget_header(struct lfs_inode *inode);
void io_publish_size(struct lfs_inode *inode, uint64_t size);
int io_open_header(struct io *io, bool *exists);
int io_create_header(struct io *io);
int io_encode_header(struct io *io, uint8_t out[LFS_FILE_HDR_MAX]);
int io_write_header(struct io *io);
void io_report_corrupt(struct io *io, uint64_t block);
int read_block_as(struct io *io, uint64_t b, bool final, uint8_t *plain, uint8_t *scratch,
                  bool report);
int read_block(struct io *io, uint64_t b, uint8_t *plain, uint8_t *scratch);
int seal_block(struct io *io, uint64_t b, bool final, const uint8_t *plain, size_t len,
               uint8_t *out);
int io_write_blocks(struct io *io, const char *buf, size_t size, uint64_t off);
/* fileio_seal.c: count whole blocks from block first (plaintext in
 * plain, BS bytes each), sealed into out on the sealing pool's threads
 * and this one; block final_block is sealed as the file's last. */
int seal_whole_blocks(struct io *io, uint64_t first, size_t count, const uint8_t *plain,
                      uint64_t final_block, uint8_t *out);
int seal_range(struct io *io, const char *buf, size_t size, uint64_t off, uint8_t *out,
               uint64_t new_size);

/* fileio_tail.c: changes of the last block or of the length, each under a
 * journal record (fs/tail.h). */
int tail_grow(struct io *io, uint64_t new_size, const char *buf, size_t size, uint64_t off);
int tail_shrink(struct io *io, uint64_t new_size);

#endif
