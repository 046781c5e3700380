/* SPDX-License-Identifier: Apache-2.0 */
/* A depth-first walk of a backing tree of any depth, without recursion:
 * its stack lives on the heap, so a tree thousands of levels deep (any user
 * of the mount can make one, and so can whoever writes the backing store)
 * costs heap, not the caller's thread stack. Only the deepest
 * LFS_TREEWALK_OPEN directories stay open; one above them is closed with
 * its listing position and reopened by name from its nearest open ancestor
 * when the walk comes back to it, so a walk never holds more than that many
 * descriptors. Used by rotation and fsck. No keys, no FUSE. */
#ifndef LETHEFS_TREEWALK_H
#define LETHEFS_TREEWALK_H

#include <stdbool.h>
#include <stddef.h>

#define LFS_TREEWALK_OPEN 32

struct lfs_treewalk;

struct lfs_treewalk_ops {
	/* The directory parentfd/name (name NULL: the walk's root), open on
	 * dfd, is entered; level points to level_size zeroed bytes that stay
	 * with it until leave. 1: list it; 0: skip its contents; negative
	 * errno: skip it (the callee reports it). */
	int (*enter)(void *ctx, struct lfs_treewalk *tw, int parentfd, const char *name, int dfd,
	             void *level);
	/* One entry of the directory on top (never "." or ".."), listed on
	 * dfd. 1: descend into it (a directory); 0: go on. */
	int (*entry)(void *ctx, struct lfs_treewalk *tw, int dfd, const char *name, void *level);
	/* The directory on top is done (also when enter returned 0). */
	void (*leave)(void *ctx, struct lfs_treewalk *tw, void *level);
	/* A directory that could not be reopened (gone meanwhile, or an I/O
	 * error): its rest is skipped. */
	void (*lost)(void *ctx, struct lfs_treewalk *tw, void *level, int err);
	/* Checked before every entry: false stops the walk. NULL: never. */
	bool (*keep_going)(void *ctx);
};

/* Walks the tree below rootfd (itself included, entered with name NULL).
 * Returns 0, or -ENOMEM. */
int lfs_treewalk(int rootfd, const struct lfs_treewalk_ops *ops, void *ctx, size_t level_size);

/* While walking: how deep the directory on top is (the root is 0), and
 * the backing path below the root of the directory on top ("" for the
 * root; may be long: it has no length limit). */
size_t lfs_treewalk_depth(const struct lfs_treewalk *tw);
const char *lfs_treewalk_path(const struct lfs_treewalk *tw);
/* The descriptor of the parent of the directory on top, or -1 when it is
 * closed (too far up) or the top is the root. In leave, the parent has
 * been reopened if it could be (so that the callee can remove the top). */
int lfs_treewalk_parentfd(const struct lfs_treewalk *tw);
/* In entry: the entry's type as the listing gave it (DT_DIR, DT_LNK, ...;
 * DT_UNKNOWN where the filesystem does not say). */
unsigned char lfs_treewalk_entry_type(const struct lfs_treewalk *tw);

#endif
