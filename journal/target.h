/* SPDX-License-Identifier: Apache-2.0 */
/* Naming the object of a journal record so that recovery finds it again:
 * by file handle when the process may use them (root), else by its path
 * below the vault's data directory; device and inode numbers check what
 * either opened. */
#ifndef LETHEFS_JOURNAL_TARGET_H
#define LETHEFS_JOURNAL_TARGET_H

#include "journal.h"

/* Fills t for the object open on fd (any kind of descriptor, O_PATH
 * included). data_path is the canonical path of the data directory, used to
 * record fd's path relative to it (left empty when fd is not below it).
 * With handles false no file handle is recorded. */
int lfs_journal_target_of(int fd, const char *data_path, bool handles,
                          struct lfs_journal_target *t);
/* The same for a caller that has just stat'ed fd (its st_dev and st_ino):
 * no second stat (on a network engine, one round trip less per record). */
int lfs_journal_target_of_known(int fd, uint64_t dev, uint64_t ino, const char *data_path,
                                bool handles, struct lfs_journal_target *t);

/* Opens the target with flags (O_NOFOLLOW and O_CLOEXEC are added). Tries
 * the handle (through mount_fd, any descriptor on the same filesystem;
 * -1: none), then the path relative to data_dirfd ("" is data_dirfd
 * itself). An object with the recorded device but another inode number is
 * not the target (-ESTALE); on another device (a restored copy of the
 * vault) the caller must check the object's identity itself, which each
 * record kind can (file ids, directory ids). -ENOENT when gone. */
int lfs_journal_target_open(const struct lfs_journal_target *t, int data_dirfd, int mount_fd,
                            int flags);

#endif
