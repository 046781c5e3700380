/* SPDX-License-Identifier: Apache-2.0 */
/* Symbolic link targets whose encoding does not fit in a backing symlink
 * (targets of 3,032 to 4,095 bytes; FORMAT.md section 8.1). Their encoding
 * is kept in a sidecar file in the root of the symlink's tree,
 * <tree root>/.lethefs.link.<hash> (a file, so the root's link count is
 * unchanged), and the backing symlink holds a
 * fixed-length reference "lethefs-longlink:<hash>:<length>". Hard links
 * share the reference and so the sidecar; it is removed when the last
 * name of the symlink goes. No FUSE here. */
#ifndef LETHEFS_LONGLINK_H
#define LETHEFS_LONGLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "names.h"

#define LFS_LONGLINK_PREFIX "lethefs-longlink:"
#define LFS_LONGLINK_FILE   ".lethefs.link."
#define LFS_LONGLINK_HASH   43 /* base64url of a 32-byte BLAKE2b */
/* prefix (17) + hash (43) + ':' + 4 decimal digits: 65 bytes, a length no
 * inline encoding has (unpadded base64 is never 1 mod 4 long). */
#define LFS_LONGLINK_REF_LEN 65
#define LFS_LINK_TARGET_MAX  4095 /* PATH_MAX - 1, as ext4 */
/* Longest encoding: that of a 4,095-byte target. */
#define LFS_LINK_ENC_MAX 5514
/* Longest encoding kept inline in the backing symlink (PATH_MAX - 1). */
#define LFS_LINK_INLINE_MAX 4095

/* The encoding of backing symlink dirfd/name (name "" with an O_PATH
 * descriptor of the symlink itself), read inline or from its sidecar in
 * the tree root treefd. enc holds LFS_LINK_ENC_MAX + 1 bytes; the
 * result is its length, -EIO for a bad reference or sidecar, or -errno. */
ssize_t lfs_link_read(int treefd, int dirfd, const char *name, char *enc);
/* Creates backing symlink dirfd/name for encoding enc of a plain_len-byte
 * target: inline when it fits, else sidecar first (durably), then the
 * reference. */
int lfs_link_make(int treefd, int dirfd, const char *name, const char *enc, size_t plain_len);
/* Before removing or replacing backing entry dirfd/name: when it is the
 * last name of a long symlink, gives its sidecar's hash (44 bytes) so that
 * lfs_link_drop can remove it once the entry is gone. */
bool lfs_link_last_long(int dirfd, const char *name, char hash[LFS_LONGLINK_HASH + 1]);
void lfs_link_drop(int treefd, const char hash[LFS_LONGLINK_HASH + 1]);
/* Whether a backing target is a long-link reference; its hash and the
 * plaintext length it names. */
bool lfs_longlink_parse(const char *ref, size_t len, char hash[LFS_LONGLINK_HASH + 1],
                        size_t *plain_len);
/* Removes every sidecar of the tree root treefd: once no format-1 symlink
 * may be left (an upgraded vault), none is referenced. Returns how many. */
int lfs_link_sweep_store(int treefd);
/* The plaintext st_size of a long-link backing symlink (fd: O_PATH of the
 * symlink), after lfs_stat_to_plain; other objects are left alone. */
void lfs_link_fix_size(int fd, struct stat *st);

#endif
