/* SPDX-License-Identifier: Apache-2.0 */
/* Format-1 objects brought to format 2 (docs/FORMAT.md 14.7), one at a
 * time: by `lethefs upgrade` (offline, each object under its own epoch)
 * and by a rotation of a format-1 vault (online, toward the rotation's new
 * epoch, which is of format 2). Each conversion is one atomic step or runs
 * under a journal record (kind 6, LFS_JK_UPCONVERT):
 *
 *   an empty regular file     its version-2 header, one pwrite (same inode)
 *   a directory               .lethefs.dir replaced by version 2 (same inode)
 *   a symlink, FIFO, socket,  a regular backing file of format 2 built whole
 *   device node               under a hidden name, then renamed over it (a
 *                             new inode: other hard links of it keep theirs)
 *   a file with contents      its format-2 image written whole to a hidden
 *                             temporary file in the tree root, synced, then
 *                             under a record copied over the file in place
 *                             (same inode: hard links and open handles stay)
 *
 * The record of a converted object is the backing object's type, mode,
 * owner, group and device number; afterwards the backing object is 0600
 * (directories 0700) and belongs to the process (the daemon). Times are
 * kept. No FUSE and no inode table here: the caller updates its inodes. */
#ifndef LETHEFS_ROTATION_UPCONVERT_H
#define LETHEFS_ROTATION_UPCONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../fs/content.h"
#include "../fs/dirmeta.h"
#include "../fs/irec.h"
#include "../journal/journal.h"
#include "../keymgmt/keyring.h"

/* The record of a format-1 object: its backing stat's type, permission
 * bits, owner, group and device number. */
int lfs_up_record(const struct stat *st, struct lfs_irec *rec);

/* Gives up the backing object's mode and owner (they are in the record
 * now): 0600 (0700 for a directory), the process's uid and gid. */
void lfs_up_backing_attrs(int fd, bool dir);

/* An empty format-1 file, open read-write on fd (st its stat), gets a
 * version-2 header under epoch (one pwrite). h and rec receive the new
 * header and record. -ENOTEMPTY when it is not empty. */
int lfs_up_empty_file(struct lfs_keyring *kr, enum lfs_cipher_id cipher, int fd,
                      const struct stat *st, uint32_t epoch, struct lfs_file_header *h,
                      struct lfs_irec *rec);

/* What lfs_up_node made: the new backing object's record and header. */
struct lfs_up_made {
	struct lfs_irec rec;
	struct lfs_file_header h;
};

/* A backing symlink, FIFO, socket or device node dirfd/name becomes a
 * regular backing file of format 2 under epoch (a symlink's target
 * decrypted under any live epoch, a long one read from the link store in
 * treefd, whose sidecar goes when this was its last name). 1 when
 * converted (made, if not NULL, receives the new object's record and
 * header), 0 when it is a staging marker (left alone), or -errno. */
int lfs_up_node(struct lfs_keyring *kr, enum lfs_cipher_id cipher, int treefd, int dirfd,
                const char *name, uint32_t epoch, struct lfs_up_made *made);

/* The version-2 .lethefs.dir image of the directory open on dfd under
 * new_m (its public part: the directory id kept, the epoch to be), with
 * the backing directory's record. Returns its length. */
int lfs_up_dir_image(struct lfs_keyring *kr, int dfd, const struct lfs_dirmeta *new_m,
                     uint8_t out[LFS_DIRMETA_MAX]);
/* The upgrade's conversion of a directory open on dfd (O_RDONLY): its
 * .lethefs.dir replaced by version 2 under the same epoch, then the
 * backing directory's attributes given up. 0 also when already done. */
int lfs_up_dir(struct lfs_keyring *kr, int dfd);

/* Where the conversion of a file with contents runs. */
struct lfs_up_env {
	struct lfs_keyring *kr;
	enum lfs_cipher_id cipher;
	struct lfs_journal *journal; /* the vault's */
	int treefd;                  /* the tree root (d/): the temporary file */
	const char *data_path;       /* d/'s canonical path (records' targets) */
	bool handles;                /* records name their target by handle */
};

/* A format-1 file with contents, open read-write on fd (its header
 * authenticated as old_h), converted to format 2 under epoch. The caller
 * excludes every other writer (offline; or the inode's io_lock). h and rec
 * receive the new header and record. -EIO when a block does not
 * authenticate (nothing changed then). */
int lfs_up_file(const struct lfs_up_env *env, int fd, const struct lfs_file_header *old_h,
                uint32_t epoch, struct lfs_file_header *h, struct lfs_irec *rec);

/* Recovery of a LFS_JK_UPCONVERT record on the file open read-write on fd
 * (treefd: the tree root holding the temporary file). *completed tells
 * whether the file is now of format 2 (else it was left as it was).
 * -ESTALE when the file is another one, -EINVAL when the record is
 * unusable, -EIO when the copy had begun and the temporary file is gone or
 * altered. */
int lfs_up_apply_file(enum lfs_cipher_id cipher, struct lfs_keyring *kr, int treefd, int fd,
                      const uint8_t *payload, size_t len, bool *completed);

/* Removes the temporary files of conversions that no journal record needs
 * any more (after a recovery that applied every record): regular files
 * named ".lethefs.tmp.*" in the tree root open on treefd (O_PATH or a
 * directory descriptor). Returns how many. */
int lfs_up_sweep_temps(int treefd);

/* Encoding of the payload, exposed for the unit tests and the fuzz
 * target. */
#define LFS_UP_TMP_NAME_LEN 29 /* ".lethefs.tmp." and 16 hex digits */
#define LFS_UP_PAYLOAD_LEN                                                                         \
	(LFS_FILE_HDR_V1_LEN + LFS_FILE_HDR_V2_LEN + 2 * 12 + 8 + 32 + LFS_UP_TMP_NAME_LEN)
struct lfs_up_payload {
	uint8_t old_hdr[LFS_FILE_HDR_V1_LEN];
	uint8_t new_hdr[LFS_FILE_HDR_V2_LEN];
	struct timespec atime, mtime;
	uint64_t tmp_len;     /* the temporary file's length: the file's after */
	uint8_t tmp_hash[32]; /* BLAKE2b-256 of the temporary file's bytes */
	char tmp_name[32];    /* LFS_UP_TMP_NAME_LEN characters and a NUL */
};
void lfs_up_payload_encode(const struct lfs_up_payload *p, uint8_t out[LFS_UP_PAYLOAD_LEN]);
int lfs_up_payload_decode(const uint8_t *in, size_t len, struct lfs_up_payload *p);

#endif
