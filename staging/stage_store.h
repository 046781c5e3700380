/* SPDX-License-Identifier: Apache-2.0 */
/* Staging directories on disk (docs/STAGING.md, FORMAT.md section 11).
 * Everything here works without any key except wrapping and unwrapping:
 * finding what expired, destroying a key, removing ciphertext.
 *
 *   VAULT/staging/index       a cache of what is live (text, no secrets)
 *   VAULT/staging/ID.key      one staging key wrapped under the master key
 *   VAULT/staging/ID.exp      its retention record (stage_exp.h)
 *   VAULT/staging/ID/         the staging directory's backing tree
 *   VAULT/staging/.lethefs.tmp.ID/  a tree being built (not committed)
 *   VAULT/staging/ID -> marker   an adoption not committed: the marker that
 *                             the commit exchanges with the directory
 *   VAULT/staging/clock       the staging clock's mark (stage_clock.h)
 *   marker in VAULT/d/...     a symlink "lethefs-staging:ID" where the user
 *                             sees the directory
 * ID is 8 lowercase hex digits with the top bit set. No FUSE here. */
#ifndef LETHEFS_STAGE_STORE_H
#define LETHEFS_STAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../keymgmt/keyring.h"

#define LFS_STAGING_DIR_NAME    "staging"
#define LFS_STAGING_INDEX_NAME  "index"
#define LFS_STAGING_MARK        "lethefs-staging:"
#define LFS_STAGING_MARK_LEN    16
#define LFS_STAGE_KEY_FILE_LEN  88
#define LFS_STAGE_HIDDEN_PREFIX ".lethefs.tmp."
/* Inside a directory being adopted: its .lethefs.dir under the staging
 * id, put in place right after the commit (FORMAT.md 12.7). A lethefs
 * metadata name (FORMAT.md 1): never shown, removed by rmdir. */
#define LFS_STAGE_META_PENDING ".lethefs.tmp.staging"
/* Key file flags (bytes 12-15, authenticated with the key). NEEDS_EXP:
 * the directory must have an authentic retention record; without one it
 * is shredded. Key files of older versions have no flag and take their
 * expiry from the index once (FORMAT.md 11.2). FORMAT2: the directory's
 * objects are of format 2 (docs/FORMAT.md 14.6). A reader refuses the
 * unknown bits. */
#define LFS_STAGE_KEY_NEEDS_EXP   1u
#define LFS_STAGE_KEY_FORMAT2     2u
#define LFS_STAGE_KEY_FLAGS_KNOWN (LFS_STAGE_KEY_NEEDS_EXP | LFS_STAGE_KEY_FORMAT2)

/* One staging directory. The index file holds the first five fields;
 * the rest live in memory only. */
struct lfs_stage_entry {
	uint32_t id;
	int64_t created; /* staging clock, Unix seconds */
	int64_t expires; /* staging clock, Unix seconds; 0 = shred now */
	uint64_t quota;  /* plaintext bytes; 0 = none */
	uint64_t used;   /* plaintext bytes written (persisted lazily) */
	char *label;     /* in memory only: the path or name the user gave */
	uint32_t owner;  /* creator's uid (LFS_STAGE_OWNER_UNKNOWN) */
	/* The retention record was checked under the key (verified), or its
	 * key file does not open under the master key (damaged: served as
	 * EIO, still shredded at its expiry). */
	bool verified, damaged;
	bool shred_failed; /* the key could not be overwritten (audited once) */
	int64_t retry_at;  /* when to try that shred again (or, shared: the asking host's grace) */
	const char *why;   /* a reason to shred that is not the time, or NULL */
	int64_t unsynced;  /* shared mode: this host's share of used not yet stored */
};

struct lfs_stage_index {
	size_t n, cap;
	struct lfs_stage_entry *e;
};

/* Opens VAULT/staging (creating it when create). -ENOENT if absent. */
int lfs_stage_dir_open(int vault_dirfd, bool create);

/* The index. A missing index is an empty one. Malformed: -EINVAL. */
int lfs_stage_index_parse(const char *text, size_t len, struct lfs_stage_index *ix);
int lfs_stage_index_load(int sdirfd, struct lfs_stage_index *ix);
/* Atomic replacement: temporary file, fsync, rename, fsync of the dir. */
int lfs_stage_index_store(int sdirfd, const struct lfs_stage_index *ix);
int lfs_stage_index_add(struct lfs_stage_index *ix, const struct lfs_stage_entry *e);
struct lfs_stage_entry *lfs_stage_index_find(struct lfs_stage_index *ix, uint32_t id);
void lfs_stage_index_remove(struct lfs_stage_index *ix, uint32_t id);
void lfs_stage_index_free(struct lfs_stage_index *ix);

/* "8000abcd" <-> id. Parse returns -EINVAL unless exactly 8 hex digits of
 * a staging id. */
void lfs_stage_id_hex(uint32_t id, char out[9]);
int lfs_stage_id_parse(const char *s, size_t len, uint32_t *id);
/* Whether a symlink target is a staging marker; *id is its id. */
bool lfs_stage_marker_id(const char *target, size_t len, uint32_t *id);

/* The keyring's epoch flags (LFS_EPOCH_*) of a key file's flags. */
uint32_t lfs_stage_key_epoch_flags(uint32_t key_flags);

/* Key files. Wrapping (un)seals with a key derived from kr's master key
 * (LFS_KDF_CTX_STAGING); the AD binds bytes 0-15 (magic, id, flags) and
 * the vault uuid. flags reads the header without a key (unverified). */
int lfs_stage_key_wrap(struct lfs_keyring *kr, uint32_t id, uint32_t flags, const uint8_t key[32],
                       uint8_t out[LFS_STAGE_KEY_FILE_LEN]);
int lfs_stage_key_unwrap(struct lfs_keyring *kr, const uint8_t *in, size_t len, uint32_t id,
                         uint8_t key[32], uint32_t *flags);
int lfs_stage_key_flags(const uint8_t *in, size_t len, uint32_t id, uint32_t *flags);
/* An id that nothing in VAULT/staging carries (key, record, tree). */
int lfs_stage_new_id(int sdirfd, uint32_t *id);
/* A random key for id, written to ID.key (O_EXCL, 0400, fsync'd, dir
 * fsync'd) with LFS_STAGE_KEY_NEEDS_EXP, and added to kr. */
int lfs_stage_key_create(int sdirfd, struct lfs_keyring *kr, uint32_t id);
/* Unwraps ID.key into kr. -ENOENT, -EINVAL (malformed), -EKEYREJECTED
 * (does not authenticate), -EACCES (locked). */
int lfs_stage_key_load(int sdirfd, uint32_t id, struct lfs_keyring *kr, uint32_t *flags);
/* Crypto-shredding of one key file: overwrite with random bytes (as its
 * owner after giving itself write permission, or as root), fsync, unlink,
 * fsync the directory. 0 also when it was already gone. A key file that
 * cannot be overwritten is not unlinked either: -EACCES/-EPERM/-EROFS...,
 * and the caller must report a failed shred. */
int lfs_stage_key_destroy(int sdirfd, uint32_t id);

/* Removes VAULT/staging/ID/ (or the tree of that name) and everything
 * below it, counting regular files and their backing bytes. */
int lfs_stage_remove_tree(int sdirfd, uint32_t id, uint64_t *files, uint64_t *bytes);
int lfs_stage_remove_named_tree(int sdirfd, const char *name, uint64_t *files, uint64_t *bytes);
/* Removes the markers in the tree below datafd whose id is dead (a walk of
 * directories, reading only symlinks: no key needed). Returns the count. */
long lfs_stage_sweep_markers(int datafd, bool (*dead)(uint32_t id, void *arg), void *arg);

/* What VAULT/staging holds for each id, read without any key (the
 * staging room's crash recovery starts from this; docs/FORMAT.md 12.7). */
struct lfs_stage_found {
	uint32_t id;
	bool key, exp, tree, hidden_tree;
	bool placeholder; /* something other than a directory named ID: the
	                   * marker of an adoption that did not commit */
};
/* Fills *out (malloc'd) with every id that has a key file, a record or a
 * tree, visible or hidden. */
int lfs_stage_scan(int sdirfd, struct lfs_stage_found **out, size_t *n);

#endif
