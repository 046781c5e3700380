/* Staging directories on disk (docs/STAGING.md, FORMAT.md section 9).
 * Everything here works without any key except wrapping and unwrapping:
 * finding what expired, destroying a key, removing ciphertext.
 *
 *   VAULT/staging/index       the vault-level index (text, no secrets)
 *   VAULT/staging/ID.key      one staging key wrapped under the master key
 *   VAULT/staging/ID/         the staging directory's backing tree
 *   marker in VAULT/d/...     a symlink "lethefs-staging:ID" where the user
 *                             sees the directory
 * ID is 8 lowercase hex digits with the top bit set. No FUSE here. */
#ifndef LETHEFS_STAGE_STORE_H
#define LETHEFS_STAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../keymgmt/keyring.h"

#define LFS_STAGING_DIR_NAME   "staging"
#define LFS_STAGING_INDEX_NAME "index"
#define LFS_STAGING_MARK       "lethefs-staging:"
#define LFS_STAGING_MARK_LEN   16
#define LFS_STAGE_KEY_FILE_LEN 88

struct lfs_stage_entry {
	uint32_t id;
	int64_t created; /* Unix seconds */
	int64_t expires; /* Unix seconds */
	uint64_t quota;  /* plaintext bytes; 0 = none */
	uint64_t used;   /* plaintext bytes written (persisted lazily) */
	char *label;     /* in memory only: the path or name the user gave */
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

/* Key file flags (bytes 12-15, authenticated with the header). FORMAT2:
 * the directory's objects are of format 2 (docs/FORMAT.md 13.6). Bit 0 is
 * reserved; a reader refuses the unknown bits. */
#define LFS_STAGE_KEY_FORMAT2 0x2u
#define LFS_STAGE_KEY_FLAGS   LFS_STAGE_KEY_FORMAT2
/* The keyring's epoch flags (LFS_EPOCH_*) of a key file's flags. */
uint32_t lfs_stage_key_epoch_flags(uint32_t key_flags);

/* Key files. Wrapping (un)seals with a key derived from kr's master key
 * (LFS_KDF_CTX_STAGING); the AD binds the vault uuid, the id and the
 * flags. */
int lfs_stage_key_wrap(struct lfs_keyring *kr, uint32_t id, uint32_t flags, const uint8_t key[32],
                       uint8_t out[LFS_STAGE_KEY_FILE_LEN]);
int lfs_stage_key_unwrap(struct lfs_keyring *kr, const uint8_t *in, size_t len, uint32_t id,
                         uint8_t key[32], uint32_t *flags);
/* Picks a fresh id, a random key, writes ID.key (fsync'd, dir fsync'd) and
 * adds the key to kr. */
int lfs_stage_key_create(int sdirfd, struct lfs_keyring *kr, uint32_t *id);
/* Loads every key of the index into kr; keys that are missing or do not
 * unwrap are reported through *bad (count) and skipped. */
int lfs_stage_keys_load(int sdirfd, const struct lfs_stage_index *ix, struct lfs_keyring *kr,
                        unsigned *bad);
/* Crypto-shredding of one key file: overwrite with random bytes, fsync,
 * unlink, fsync the directory. 0 also when it was already gone. */
int lfs_stage_key_destroy(int sdirfd, uint32_t id);

/* Removes VAULT/staging/ID/ and everything below it, counting regular
 * files and their backing bytes. */
int lfs_stage_remove_tree(int sdirfd, uint32_t id, uint64_t *files, uint64_t *bytes);
/* Removes the markers in the tree below datafd whose id is dead (a walk of
 * directories, reading only symlinks: no key needed). Returns the count. */
long lfs_stage_sweep_markers(int datafd, bool (*dead)(uint32_t id, void *arg), void *arg);
/* Calls fn for every directory VAULT/staging/ID/ whose id has no key file
 * (left by a shred interrupted after its key was destroyed). */
void lfs_stage_for_each_orphan(int sdirfd, void (*fn)(uint32_t id, void *arg), void *arg);

#endif
