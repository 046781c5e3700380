/* SPDX-License-Identifier: Apache-2.0 */
/* Inode attributes on the backing store (FORMAT.md 14.9; the value itself:
 * iattr.h), and the report of a refused or degraded object. Separate from
 * attr.h so that the I/O path (fileio.c) can check an attribute without
 * depending on the loader. No FUSE here. */
#ifndef LETHEFS_ATTR_IATTR_H
#define LETHEFS_ATTR_IATTR_H

#include <stdint.h>
#include <sys/stat.h>

#include "fs.h"

/* Logs and audits ("tamper", once per object per mount) that the backing
 * object open on fd is refused, and why. */
void lfs_attr_report(struct lfs_fs *fs, int fd, const struct stat *st, const char *why);
/* The same with another outcome ("degraded": served in a fail-safe view). */
void lfs_attr_report_as(struct lfs_fs *fs, int fd, const struct stat *st, const char *why,
                        const char *outcome);

/* Reads the attribute of the regular backing file open on fd (any kind of
 * descriptor): 1 found (rec, bind), 0 none, -EIO when it is there but
 * unusable (*why says why), -EACCES locked, another negative errno. */
int lfs_iattr_read(struct lfs_fs *fs, int fd, struct lfs_irec *rec, uint8_t bind[12],
                   const char **why);
/* The same for fd just opened as dirfd/name (a lookup): read by name where
 * the kernel can (attr_iattr.c, read_raw), else by fd. */
int lfs_iattr_read_at(struct lfs_fs *fs, int fd, int dirfd, const char *name, struct lfs_irec *rec,
                      uint8_t bind[12], const char **why);
/* The record of a file whose header h (authentic, flagged, sealing the
 * record hrec) is on fd: its attribute when bound to h (1); hrec when there
 * is none (0, *why says so: the header's record is kept in step with the
 * attribute, FORMAT.md 14.9); -EIO when it is unusable or another file's
 * (*why). */
int lfs_iattr_for_header(struct lfs_fs *fs, int fd, const struct lfs_file_header *h,
                         const struct lfs_irec *hrec, struct lfs_irec *rec, const char **why);
/* io_open_header's step for the authentic flagged header h just read from
 * fd: the inode's record must be the attribute bound to h (loaded now when
 * the inode has none), else -EIO. Called with in's meta_lock. */
int lfs_iattr_take_header(struct lfs_fs *fs, struct lfs_inode *in, int fd,
                          const struct lfs_file_header *h, const struct lfs_irec *hrec);
/* Removes the attribute of a file whose header has no flag (where it means
 * nothing: a crash's leftover, or planted). Errors are ignored. */
void lfs_iattr_drop(int fd);
/* Seals rec under epoch's attribute key, bound to file_id, and sets it on
 * fd: one setxattr, which replaces the old value atomically. */
int lfs_iattr_write(struct lfs_fs *fs, int fd, uint32_t epoch, const uint8_t *file_id,
                    const struct lfs_irec *rec);
/* Before an operation acts on in's mode, owner or contents: when in's
 * record came from an attribute that no header read has confirmed yet,
 * reads the header and compares its file id with the attribute's binding.
 * A header without the flag is the record then (a stray attribute is
 * ignored); a flagged header of another file id is -EIO, logged. Takes
 * in's io_lock shared: the caller must not hold it. */
int lfs_attr_bind(struct lfs_fs *fs, struct lfs_inode *in, int fd);
/* lfs_attr_store of a file served from its attribute: one setxattr under
 * the epoch and file id of its (bound) header. */
int lfs_iattr_store(struct lfs_fs *fs, struct lfs_inode *in, int ifd, const struct lfs_irec *rec);
/* Gives the format-2 file open read-write on fd, whose header on disk is
 * h (without the flag) holding rec, its attribute, then the flag: the
 * attribute first, so that a crash leaves either the header (unflagged,
 * authoritative) or the pair. h gets the flag. */
int lfs_iattr_adopt(struct lfs_fs *fs, int fd, struct lfs_file_header *h,
                    const struct lfs_irec *rec);

#endif
