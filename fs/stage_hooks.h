/* SPDX-License-Identifier: Apache-2.0 */
/* Staging directories (docs/STAGING.md) as the core FUSE handlers see
 * them: the one interface between fs/ and staging/. The handlers know
 * only that an inode may carry a staging id (inode->stage_id, inherited
 * from the parent at lookup) and call these hooks; the staging room
 * implements them and the daemon connects them (fs->stage). Without hooks
 * (fs->stage NULL) there are no staging directories: markers are not
 * followed and nothing is charged. */
#ifndef LETHEFS_STAGE_HOOKS_H
#define LETHEFS_STAGE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fuse_lowlevel.h>

#include "fs.h"

struct lfs_stage_hooks {
	void *ctx; /* the first argument of every hook */
	/* Whether the backing entry dirfd/backing ("" with an O_PATH
	 * descriptor of it) is a staging marker; *id is its staging id. */
	bool (*is_marker)(void *ctx, int dirfd, const char *backing, uint32_t *id);
	/* Whether staging id is live (not shredded). */
	bool (*live)(void *ctx, uint32_t id);
	/* An O_PATH descriptor of the backing directory of live staging id,
	 * or -ENOENT. */
	int (*open_dir)(void *ctx, uint32_t id);
	/* The one quota charge: delta plaintext bytes to staging id; a
	 * positive delta beyond the quota is -EDQUOT, negative ones pass. */
	int (*charge)(void *ctx, uint32_t id, int64_t delta);
	/* Whether staging id has a quota (its files are opened direct_io so
	 * that EDQUOT reaches write(2)). */
	bool (*has_quota)(void *ctx, uint32_t id);
	/* mkdir of name (backing name backing, mode) in parent, open on pfd:
	 * makes it a staging directory when parent is the staging_root. 1
	 * when it did, 0 when the caller makes an ordinary directory, or
	 * -errno. */
	int (*mkdir)(void *ctx, fuse_req_t req, struct lfs_inode *parent, int pfd, const char *name,
	             const char *backing, mode_t mode);
	/* Whether parent (open on pfd) is the staging_root: nothing but
	 * staging directories may appear directly in it (files, nodes and
	 * links are refused, renames of anything else into it get EXDEV so
	 * that mv copies through mkdir). */
	bool (*in_root)(void *ctx, fuse_req_t req, struct lfs_inode *parent, int pfd);
	/* Appends the names of the user.lethefs.* attributes that inode shows
	 * (NUL-terminated each) to out; returns the bytes added (0 when they
	 * do not fit in cap). */
	size_t (*listxattr)(void *ctx, struct lfs_inode *inode, char *out, size_t cap);
	/* rmdir of the marker of staging id: -ENOTEMPTY unless the staging
	 * directory is empty, else it is shredded (a manual shred, audited
	 * with the request's caller); the caller removes the marker. */
	int (*rmdir)(void *ctx, fuse_req_t req, uint32_t id);
	/* user.lethefs.* attributes: 1 when name is one (the reply is sent),
	 * 0 otherwise. */
	int (*setxattr)(void *ctx, fuse_req_t req, struct lfs_inode *inode, const char *name,
	                const char *value, size_t size);
	int (*getxattr)(void *ctx, fuse_req_t req, struct lfs_inode *inode, const char *name,
	                size_t size);
};

/* The calls the handlers make, each a no-op without hooks. */
static inline bool lfs_stage_hook_is_marker(struct lfs_fs *fs, int dirfd, const char *backing,
                                            uint32_t *id)
{
	return fs->stage && fs->stage->is_marker(fs->stage->ctx, dirfd, backing, id);
}

static inline bool lfs_stage_hook_live(struct lfs_fs *fs, uint32_t id)
{
	return fs->stage && fs->stage->live(fs->stage->ctx, id);
}

/* Whether parent is the staging_root (false without hooks). */
static inline bool lfs_stage_hook_in_root(struct lfs_fs *fs, fuse_req_t req,
                                          struct lfs_inode *parent, int pfd)
{
	return fs->stage && fs->stage->in_root(fs->stage->ctx, req, parent, pfd);
}

/* Charges delta to the staging directory inode is in (0 when none). */
static inline int lfs_stage_hook_charge(struct lfs_fs *fs, struct lfs_inode *inode, int64_t delta)
{
	if (!inode->stage_id || !fs->stage)
		return 0;
	return fs->stage->charge(fs->stage->ctx, inode->stage_id, delta);
}

#endif
