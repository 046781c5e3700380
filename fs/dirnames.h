/* SPDX-License-Identifier: Apache-2.0 */
/* Backing names of directory entries: name encryption bound to a
 * directory's metadata, plus the long-name sidecar files. No FUSE here. */
#ifndef LETHEFS_DIRNAMES_H
#define LETHEFS_DIRNAMES_H

#include <stdbool.h>

#include "fs.h"
#include "names.h"

struct lfs_bname {
	char name[LFS_BACKING_NAME_MAX + 1];    /* what lives in the backing dir */
	char sidecar[LFS_BACKING_NAME_MAX + 1]; /* set when is_long */
	char enc[LFS_ENCNAME_MAX];              /* the full encoding */
	bool is_long;
};

/* The directory's metadata, loaded once (through dirfd, the directory's
 * pinned descriptor) and cached in the inode; a format-2 one authenticated
 * (fs/attr.h), a format-1 one refused where only format 2 may be (-EIO).
 * -EACCES when locked. */
int lfs_dir_meta(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd, struct lfs_dirmeta *out);
/* Drops the cached metadata: the next use reads .lethefs.dir again (shared
 * mode: another host's rotation moves directories to a new epoch). Returns
 * whether the epoch on disk differs from the one cached. */
bool lfs_dir_meta_forget(struct lfs_inode *dir, int dirfd);
/* The same, the metadata read again checked at once (as the next use after
 * a forget would): one read of .lethefs.dir instead of two. On failure
 * nothing stays cached and true is returned. */
bool lfs_dir_meta_reload(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd);
/* Shared mode while a rotation runs (the ring has several data epochs):
 * read-locks the directory's .lethefs.dir across hosts for one name
 * operation, so that the rotation walker, which write-locks it while it
 * renames the entries, never converts the directory under a name computed
 * with the old epoch; the cached metadata is dropped under the lock.
 * Returns the descriptor holding the lock, or -1 when none is needed. */
int lfs_dir_name_lock(struct lfs_fs *fs, struct lfs_inode *dir);
/* The same lock taken whether or not this host knows of a rotation yet,
 * after reading the keyring again: for a listing that met names its
 * cached metadata does not explain (another host may have begun a
 * rotation a moment ago and be converting this very directory). */
int lfs_dir_name_lock_now(struct lfs_fs *fs, struct lfs_inode *dir);
void lfs_dir_name_unlock(int lockfd);
/* Whether the keyring holds several data epochs (a rotation runs). */
bool lfs_fs_rotating(struct lfs_fs *fs);
/* Backing name for plaintext name in dir. -EACCES when locked. In shared
 * mode an epoch the ring no longer has (retired by another host's
 * rotation) makes it read .lethefs.dir again, once. */
int lfs_bname_make(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd, const char *name,
                   struct lfs_bname *out);
/* lfs_bname_make for an entry about to be created (or renamed to): a long
 * name's sidecar is written first, so the entry is never without it. */
int lfs_bname_for_new(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd, const char *name,
                      struct lfs_bname *out);
/* For a long name, (re)writes its sidecar atomically. No-op otherwise. */
int lfs_bname_store_sidecar(int dirfd, const struct lfs_bname *b);
void lfs_bname_drop_sidecar(int dirfd, const struct lfs_bname *b);
/* Plaintext name of a backing entry of a directory with metadata m.
 * -ENOENT for entries that are not user data (metadata, sidecars),
 * -EBADMSG when it does not decrypt. */
int lfs_entry_name(struct lfs_fs *fs, int dirfd, const struct lfs_dirmeta *m, const char *backing,
                   char out[LFS_NAME_MAX + 1]);

/* Whether the backing directory open on dirfd holds nothing but lethefs
 * metadata; if so the metadata is removed so that the directory itself can
 * go. 0, -ENOTEMPTY or -errno. */
int lfs_empty_backing_dir(int dirfd);

#endif
