/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-buffer I/O and crash-safe file replacement. All return 0 or a
 * negative errno so that FUSE handlers and the CLI can share them. */
#ifndef LETHEFS_FILEUTIL_H
#define LETHEFS_FILEUTIL_H

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

int lfs_pread_full(int fd, void *buf, size_t len, off_t off, size_t *got);
int lfs_pwrite_full(int fd, const void *buf, size_t len, off_t off);
int lfs_read_all(int fd, void *buf, size_t len, size_t *got);
int lfs_write_all(int fd, const void *buf, size_t len);

/* Opens dirfd/name read-only for a caller that expects a regular file of
 * the vault: never follows a symlink (-ELOOP), never opens anything but a
 * regular file (a FIFO, a device node, a socket, a directory: -EINVAL,
 * refused before any open), never waits for a lease (O_NONBLOCK). Returns
 * the descriptor or -errno. The backing-store writer can plant any type
 * of node under any name (docs/THREAT-MODEL.md). */
int lfs_open_regular(int dirfd, const char *name);
/* The same, opened with flags (O_RDWR, O_APPEND, ...: O_CLOEXEC added). */
int lfs_open_regular_flags(int dirfd, const char *name, int flags);
/* The same, creating the file with mode when absent (never opening a node
 * that appeared under the name meanwhile: O_CREAT|O_EXCL). */
int lfs_open_regular_create(int dirfd, const char *name, int flags, mode_t mode);

/* Reads a whole small file (at most max bytes) relative to dirfd without
 * following symlinks. *out is malloc'd; caller frees. -EFBIG if larger. */
int lfs_read_small_file(int dirfd, const char *name, size_t max, unsigned char **out, size_t *len);

/* opendir() of dirfd itself (a fresh descriptor, so dirfd stays usable).
 * NULL with *err = -errno on failure. */
DIR *lfs_opendir_fd(int dirfd, int *err);

/* Atomically replaces dirfd/name with data: write a temporary file (mode),
 * fsync it, rename it over the target, fsync the directory. A crash at any
 * point leaves either the old or the new content, never a mix. */
/* fsync of the directory dirfd refers to, also when dirfd is an O_PATH
 * descriptor (fsync of which fails with EBADF): 0 or a negative errno. */
int lfs_fsync_dir(int dirfd);
int lfs_replace_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
/* The same with the temporary file named tmp_prefix + 8 hex digits (inside
 * the encrypted tree, a prefix that listings know to hide). */
int lfs_replace_file_via(int dirfd, const char *name, const char *tmp_prefix, const void *data,
                         size_t len, mode_t mode);

#endif
