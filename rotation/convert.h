/* SPDX-License-Identifier: Apache-2.0 */
/* The conversion of one object to the rotation's target epoch, each under
 * that object's io_lock and journalled (rotjournal.h): a regular file
 * (convert_file.c, with refile.c), a directory's names (convert_dir.c,
 * with redir.c), a symlink or special file (convert_node.c), and xattrs
 * (convert_xattrs.c). */
#ifndef LETHEFS_ROTATION_CONVERT_H
#define LETHEFS_ROTATION_CONVERT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "state.h"

/* Reads and authenticates a file header of either version (rec receives a
 * version-2 header's record); -ENODATA for a format-1 empty file. *plain
 * is the file's plaintext size. */
int lfs_rot_read_header(struct lfs_fs *fs, int fd, uint8_t raw[LFS_FILE_HDR_MAX],
                        struct lfs_file_header *h, struct lfs_irec *rec, uint64_t *plain);
/* Whether the rotation's target epoch is of format 2 (so that format-1
 * objects are converted as they are met: rotation/upconvert.h). */
bool lfs_rot_target_format2(struct walk *w);
/* The regular file dirfd/name (rel: its path below d/). */
int lfs_rot_convert_file(struct walk *w, int dirfd, const char *name, const char *rel);

/* The steps of a file's conversion, for batches (batch.h). A file open for
 * its conversion: held in the inode table, its io_lock taken exclusively,
 * open read-write, its old header read and authenticated. */
struct lfs_rot_file {
	struct lfs_inode *in;
	int ifd, fd;
	struct stat st; /* before the conversion: its times are put back */
	uint8_t old_raw[LFS_FILE_HDR_MAX];
	struct lfs_file_header oh;
	struct lfs_irec rec;
	uint64_t plain;
};
/* 0: open and under an older epoch; 1: nothing to do (emptied, removed or
 * renamed away, or under the
 * target already); -EBUSY: try_lock and someone holds its io_lock (nothing
 * taken); other negative errno. Nothing is held unless 0 is returned. */
int lfs_rot_file_open(struct walk *w, int dirfd, const char *name, bool try_lock,
                      struct lfs_rot_file *f);
void lfs_rot_file_close(struct walk *w, struct lfs_rot_file *f);
/* Converts it alone, under a record of its own. */
int lfs_rot_file_convert(struct walk *w, struct lfs_rot_file *f, const char *rel);
/* Whether it changes format (format 1 toward a format-2 epoch): alone. */
bool lfs_rot_file_upconverts(struct walk *w, const struct lfs_rot_file *f);
/* Its new header (new file id, the target epoch, its flags and record):
 * its length, or a negative errno. */
int lfs_rot_file_new_header(struct walk *w, const struct lfs_rot_file *f,
                            struct lfs_file_header *nh, uint8_t new_raw[LFS_FILE_HDR_MAX]);
/* Converted and durable: times put back, header cached, counted. */
void lfs_rot_file_done(struct walk *w, struct lfs_rot_file *f, const struct lfs_file_header *nh,
                       const char *rel);
/* A conversion that failed half way (not by a lock), settled on the live
 * mount: 1 finished from its record, 0 undone (under its old header
 * again), or a negative errno (neither: the record must stay). */
int lfs_rot_file_settle(struct walk *w, struct lfs_rot_file *f, const struct lfs_file_header *nh,
                        const uint8_t *new_raw);
/* Left half converted under its record: no other change until recovery. */
void lfs_rot_file_broken(struct lfs_rot_file *f);
/* Whether the directory open on fd, met as parentfd/name (NULL: the root),
 * was removed or is no longer under that name since (an rmdir renames it
 * to a hidden name before it empties and removes it). */
bool lfs_rot_dir_vanished(int fd, int parentfd, const char *name);
/* The inode of the directory parentfd/name (NULL: the root) that the walk
 * has open on dfd; NULL with errno ENOENT when the name is another object's
 * now (renamed away, or exchanged). */
struct lfs_inode *lfs_rot_hold_dir(struct lfs_fs *fs, int parentfd, const char *name, int dfd);
/* The directory parentfd/name (NULL: the root), open on walkfd; *epoch is
 * its epoch after. */
int lfs_rot_convert_dir(struct walk *w, int parentfd, const char *name, int walkfd, const char *rel,
                        uint32_t *epoch);
/* The symlink (or, toward a format-2 epoch, the special file) dirfd/name
 * of directory dir (convert_node.c). */
int lfs_rot_convert_link(struct walk *w, struct lfs_inode *dir, int dirfd, const char *name);
/* Whether the rotation upgrades a format-1 vault (its target is of format
 * 2, and a format-1 epoch is still in the ring): format-1 objects met in
 * directories of format 2 were moved there meanwhile and are converted. */
bool lfs_rot_upgrading(struct walk *w);
/* Replaces the format-1 symlink or node dirfd/name by its conversion (up:
 * a format-2 object, else a symlink under the current epoch), its inode,
 * if the kernel knows it, moved onto the new object. The caller holds the
 * directory's io_lock exclusively. *forget: the inode could not follow,
 * the caller makes the kernel forget the name once it let go of the
 * directory. 1 converted, 0 nothing to do, or -errno. */
int lfs_rot_replace_node(struct walk *w, int treefd, int dirfd, const char *name, bool up,
                         bool *forget);
/* The empty format-1 file dirfd/name (st: its stat) becomes of format 2
 * in place; its inode, if the kernel knows it, follows. Takes the file's
 * io_lock: the caller holds no file's. */
int lfs_rot_up_empty(struct walk *w, int dfd, const char *name, const struct stat *st);
/* Gives the directory in, open on dfd, the access and modification times
 * it had before its entries moved (held since, fs/heldtimes.h). */
void lfs_rot_keep_times(struct lfs_inode *in, int dfd);
/* The xattrs of proc (a /proc/self/fd path): how many are (or, counting,
 * would be) converted, or -errno. */
int lfs_rot_convert_xattrs(struct walk *w, const char *proc, bool count_only);

#endif
