/* SPDX-License-Identifier: Apache-2.0 */
/* What the backing filesystem can do, probed at mount rather than assumed
 * (docs/SHARED.md, "Backing filesystems"). Local filesystems (ext4, xfs,
 * btrfs, tmpfs) have everything; network and FUSE-based engines lack some
 * calls, and lethefs uses a fallback for each:
 *
 *   rename_noreplace    renameat2(RENAME_NOREPLACE); else link + unlink
 *                       under a journal record (files) or a plain rename
 *                       that a non-empty target refuses (directories)
 *   handles_persistent  park idle descriptors by file handle; else reopen
 *                       them by parent and name (fs/inode.c), and journal
 *                       records name their objects by path only
 *   fallocate           reserve space before a tail update; else skip it
 *   range_locks         required by -o shared (cross-host locking)
 *   rename_exchange     the commit of an adoption as staging; else three
 *                       renames (staging/stage_create.c)
 *   o_tmpfile, user_xattrs, flock, hard_links
 *                       reported; a missing one makes the matching request
 *                       fail as the backing filesystem does
 *
 * The probe creates and removes a few `.lethefs.probe.<16 hex>` entries in
 * the vault directory. No keys, no FUSE. */
#ifndef LETHEFS_BACKING_H
#define LETHEFS_BACKING_H

#include <stdbool.h>
#include <stddef.h>

#define LFS_PROBE_PREFIX ".lethefs.probe."

struct lfs_backing {
	bool probed;     /* false: not probed (read-only storage): local defaults */
	char fstype[64]; /* as /proc/self/mountinfo names it: ext4, fuse.glusterfs, nfs4 */
	bool network;    /* an engine other hosts may mount too */
	bool rename_noreplace;
	bool rename_exchange;
	bool o_tmpfile;
	bool handles;            /* name_to_handle_at and open_by_handle_at work */
	bool handles_persistent; /* ... also once the kernel has forgotten the inode */
	bool fallocate;
	bool user_xattrs;
	bool range_locks; /* byte-range (OFD) locks conflict between descriptors */
	bool flock;
	bool hard_links;
};

/* Everything a local filesystem has: what code that never probed (unit
 * tests, fsck) assumes, and the behaviour before probing existed. */
void lfs_backing_local(struct lfs_backing *b);

/* Probes the filesystem holding dirfd (the vault directory). Returns 0, or
 * a negative errno when nothing could be created there (read-only
 * storage): b then holds what could be found without writing (type,
 * handles) and local defaults for the rest, with probed false. */
int lfs_backing_probe(int dirfd, struct lfs_backing *b);

/* The filesystem type of dirfd from /proc/self/mountinfo ("?" if not
 * found), and whether such engines are shared between hosts. */
void lfs_backing_fstype(int dirfd, char *out, size_t len);
bool lfs_backing_is_network(const char *fstype);
/* Whether close(2) on this filesystem can never fail (it has no flush
 * method of its own: ext2/3/4, xfs, btrfs, tmpfs), so that a FUSE FLUSH,
 * whose only job here is to pass on such a failure, is not needed. False
 * for anything else, unprobed storage included. */
bool lfs_backing_close_is_silent(const struct lfs_backing *b);
/* Whether large reads of sealed blocks may bypass the backing page cache
 * (O_DIRECT, fs/directread.h): the same local filesystems. */
bool lfs_backing_direct_reads(const struct lfs_backing *b);

/* renameat2(RENAME_NOREPLACE) where the backing filesystem has it, else
 * its fallback: a directory is renamed only when the target name is free
 * (a plain rename would refuse a non-empty target anyway, and lethefs
 * directories are never empty); anything else is linked under the new
 * name (atomic, EEXIST when taken), then unlinked under the old one. With
 * resume, a target that already is the same object (a link + unlink cut
 * short by a crash) just loses the old name, so that the fallback can be
 * repeated (rotation's idempotent renames); without it that is EEXIST, as
 * renameat2 says for two names of one file. Without
 * hard links: an existence check and a plain rename under a lock (a
 * create of the same name by another host in between is replaced). b NULL:
 * local. *two_steps (may be NULL) tells whether link + unlink was used. */
int lfs_backing_rename_noreplace(const struct lfs_backing *b, int olddirfd, const char *old,
                                 int newdirfd, const char *newname, bool resume, bool *two_steps);
/* lfs_backing_rename_noreplace (without resume) for an object the caller
 * has just made under the temporary name old and knows the type of (is_dir:
 * a directory; else a file or other node it created): publishing a new
 * object under its name. The fallback needs no stat of old first (a round
 * trip on a network engine less per created object). */
int lfs_backing_publish(const struct lfs_backing *b, int dirfd, const char *old,
                        const char *newname, bool is_dir);
/* The same without a probe, for rare renames (rotation, staging): tries
 * RENAME_NOREPLACE, and takes the fallback when the filesystem refuses the
 * flag (EINVAL, which renaming an entry to another name in a directory
 * gives for no other reason). */
int lfs_rename_noreplace_any(int olddirfd, const char *old, int newdirfd, const char *newname,
                             bool resume);
/* Whether a rename of a non-directory takes the two-step fallback. */
bool lfs_backing_rename_two_steps(const struct lfs_backing *b);

/* One line per capability ("  rename_noreplace: no (fallback: ...)"), for
 * `lethefs info --backing`. Returns the length or -1 when out is small. */
int lfs_backing_describe(const struct lfs_backing *b, char *out, size_t len);
/* The capabilities as JSON members (no braces), for status --json. */
int lfs_backing_json(const struct lfs_backing *b, char *out, size_t len);

#endif
