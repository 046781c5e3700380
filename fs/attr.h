/* SPDX-License-Identifier: Apache-2.0 */
/* Where an object's type, mode, owner and group come from (docs/FORMAT.md
 * section 14). A format-2 object carries them in its authenticated inode
 * record (irec.h): the header of a regular backing file, or .lethefs.dir of
 * a backing directory; the backing object's own mode and owner mean
 * nothing. A format-1 object's are its backing object's, as they always
 * were; it is accepted only where format 1 is still allowed: under an epoch
 * that is not of format 2 (its own, or its directory's when it has none of
 * its own). Everything else is refused with EIO, logged and audited once
 * ("tamper"): a record that does not authenticate, a backing object whose
 * type disagrees with its record, a format-1 object where only format 2 may
 * be.
 *
 * The record is read once per inode (at lookup) and cached in the inode,
 * so that getattr and the kernel's permission checks cost no backing read.
 * No FUSE here. */
#ifndef LETHEFS_ATTR_H
#define LETHEFS_ATTR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "attr_iattr.h"
#include "fs.h"

/* Where a lookup found the object it loads: the directory's descriptor
 * and the backing name fd was opened by (an inode attribute is then read
 * by name, attr_iattr.c). */
struct lfs_attr_at {
	int dirfd;
	const char *name;
};

/* Decides the format of inode in and loads what it needs (format 2: its
 * record, and its header or .lethefs.dir), unless already loaded. For a
 * lookup, before the reply names the inode. parent (open on pfd) is the
 * directory it was found in; NULL for the root, and for callers outside the
 * FUSE requests, which then do not check a format-1 object that has no
 * epoch of its own against its directory. bname: the backing name in pfd
 * that fd was just opened by, or NULL. fd is the inode's descriptor
 * (O_PATH), st its backing stat. Returns 0, -EIO when the object is
 * refused, -EACCES when locked, other negative errnos from I/O. */
int lfs_attr_load(struct lfs_fs *fs, struct lfs_inode *parent, int pfd, const char *bname,
                  struct lfs_inode *in, int fd, const struct stat *st);

/* fsck's view of the backing object open on fd (O_PATH; st its stat),
 * found in a directory with metadata pm (NULL: the root): the checks of a
 * lookup, without an inode. *fmt receives its format, *rec a format-2
 * object's record; -EIO with the reason in why when a mount would refuse
 * it (nothing is logged or audited). -EACCES when locked. */
int lfs_attr_check(struct lfs_fs *fs, const struct lfs_dirmeta *pm, int fd, const struct stat *st,
                   uint8_t *fmt, struct lfs_irec *rec, char *why, size_t whylen);

/* The plaintext view of in from its backing stat st (fd: its descriptor),
 * taken after mark (lfs_times_mark, fs/heldtimes.h: a rotation's
 * conversion may have ended since): sizes, and in format 2 the record's
 * type, mode, owner, group and device number. Reloads a record that was
 * dropped (after a recovery). */
int lfs_attr_stat(struct lfs_fs *fs, struct lfs_inode *in, int fd, struct stat *st, uint64_t mark);
/* lfs_attr_stat, with rfd a readable descriptor of the same object that a
 * record read again goes through (a create's own: no open of its own). */
int lfs_attr_stat_rfd(struct lfs_fs *fs, struct lfs_inode *in, int fd, int rfd, struct stat *st,
                      uint64_t mark);

/* The plaintext size of the regular backing file dirfd/name of backing
 * size backing, from its header's version (for a quota). */
uint64_t lfs_backing_plain_size(struct lfs_fs *fs, int dirfd, const char *name, uint64_t backing);

/* Whether objects created under stage_id (0: the current epoch) are of
 * format 2: 1, 0, or -EACCES when locked. */
int lfs_attr_new_format2(struct lfs_fs *fs, uint32_t stage_id);

/* Format 2: the record of in becomes rec (setattr), with one write: the
 * header rewritten in place (a regular backing file, under in's exclusive
 * io_lock, which the caller holds) or .lethefs.dir replaced. The backing
 * object's access and modification times are kept (a change of mode or
 * owner is not a change of contents). ifd: in's descriptor. */
int lfs_attr_store(struct lfs_fs *fs, struct lfs_inode *in, int ifd, const struct lfs_irec *rec);

/* Format 2: changes the record's permission bits (mode >= 0), owner (uid
 * != -1) and group (gid != -1) with lfs_attr_store, under in's io_lock
 * (exclusive). Format 1: -ENOTSUP (the caller changes the backing object). */
int lfs_attr_change(struct lfs_fs *fs, struct lfs_inode *in, int ifd, int mode, uid_t uid,
                    gid_t gid);

/* The plaintext stat of in (fstat of its descriptor, then lfs_attr_stat). */
int lfs_attr_fstat(struct lfs_fs *fs, struct lfs_inode *in, int ifd, struct stat *st);
/* Whether in's format (and, format 2, its record) is loaded (meta_lock
 * held). */
bool lfs_attr_loaded(const struct lfs_inode *in);

#endif
