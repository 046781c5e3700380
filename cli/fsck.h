/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs fsck, shared between cmd_fsck.c (the tree walk) and
 * fsck_staging.c (staging directories with their own keys). */
#ifndef LETHEFS_FSCK_H
#define LETHEFS_FSCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../fs/fs.h"
#include "../fs/names.h"
#include "../keymgmt/keyring.h"
#include "../keymgmt/vault.h"
#include "fsck_report.h"

struct fsck {
	struct lfs_fs fs;
	unsigned long dirs, files, links, problems, pending;
	uint64_t bytes;
	bool verbose;
	struct fsck_report rep; /* text or --json lines, progress (fsck_report.h) */
	/* Objects of journal records that a crash left: they are completed at
	 * the next mount (or by --repair), so they are pending, not corrupt. */
	struct fsck_target {
		uint64_t dev, ino;
	} * targets; /* MAX_PENDING */
	unsigned ntargets;
	/* Format 2: the owner every backing object has (d/'s). */
	uid_t owner_uid;
	gid_t owner_gid;
	/* The plaintext path being checked, and the name of the directory
	 * about to be entered (fsck_entry to fsck_enter). */
	char *path;
	size_t path_len, path_cap;
	char next_name[LFS_NAME_MAX + 1];
	/* Set while a staging tree is walked: the only key of its names,
	 * symlinks and xattrs. */
	uint32_t stage_id;
	int stage_tree_fd; /* its VAULT/staging/ID/ (long symlink sidecars) */
	/* The ids of committed staging directories (markers of others are
	 * leftovers of a shred). */
	uint32_t *stage_live;
	size_t nstage_live;
};

/* "CORRUPT <path>: <what>", counted. */
void lfs_fsck_problem(struct fsck *f, const char *path, const char *what);
/* "PENDING <path>: <what>": finished at the next mount. */
void lfs_fsck_pending(struct fsck *f, const char *path, const char *what);
/* Checks every entry of a backing directory, at any depth (fs/treewalk.h);
 * reported paths start with prefix. */
void lfs_fsck_check_dir(struct fsck *f, int dirfd, const char *prefix);
/* VAULT/staging: keys, retention records, the index, each tree with its
 * key (fsck_staging.c). repair first runs what a mount would (finish
 * interrupted shreds and creations, shred what expired), audited. */
void lfs_fsck_staging(struct fsck *f, struct lfs_vault *v, struct lfs_keyring *kr, bool repair);
/* A marker met in the tree: pending when its directory is gone. */
void lfs_fsck_marker(struct fsck *f, uint32_t id, const char *path);

/* Whether the object open at fd is named by a journal record a crash left
 * (its damage is an interrupted update: pending, not corrupt). */
bool lfs_fsck_is_pending(const struct fsck *f, int fd);
/* The checks of one backing object (fsck_objects.c); each reports what it
 * finds under path. */
void lfs_fsck_check_file(struct fsck *f, int dirfd, const char *bname, const char *path);
void lfs_fsck_check_link(struct fsck *f, int dirfd, const char *bname, const char *path);
void lfs_fsck_check_xattrs(struct fsck *f, int dirfd, const char *bname, const char *path);
void lfs_fsck_check_mode(struct fsck *f, const struct stat *st, const char *path);
/* Sets *type to the record's object type (format 2), 0 otherwise. */
void lfs_fsck_check_attrs(struct fsck *f, const struct lfs_dirmeta *pm, int dirfd,
                          const char *bname, const struct stat *st, const char *path,
                          uint8_t *type);
/* A staging marker symlink (checked by its own rules). */
bool lfs_fsck_is_marker(int dirfd, const char *bname, const struct stat *st);

#endif
