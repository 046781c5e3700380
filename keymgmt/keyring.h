/* SPDX-License-Identifier: Apache-2.0 */
/* The keyring: the one object that holds every key in the process.
 *
 * It can be empty (locked), hold the data keys of one or more epochs
 * (several during a rotation), and every encrypt/decrypt asks it for the
 * keys of the epoch it needs. Asking while locked gives -EACCES; asking for
 * an epoch that was destroyed gives -EIO. Secrets live in sodium_malloc'd
 * memory (guard pages, mlock'd) and are wiped on lock.
 *
 * On disk (VAULT/lethefs.keyring) the data keys are sealed as one AEAD blob
 * under a key derived from the master key, so that changing the master key
 * (rekey) re-wraps them without touching any file. */
#ifndef LETHEFS_KEYRING_H
#define LETHEFS_KEYRING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cipher.h"
#include "keyslots.h"

#define LFS_MAX_EPOCHS        64
#define LFS_KEYRING_FILE_NAME "lethefs.keyring"
#define LFS_KEYRING_HDR_LEN   32
#define LFS_KEYRING_ENTRY_LEN 40
/* Body entries: up to LFS_MAX_EPOCHS data epochs plus the optional audit
 * key entry (epoch id 0, docs/FORMAT.md 4.2). */
#define LFS_KEYRING_MAX_ENTRIES (LFS_MAX_EPOCHS + 1)
#define LFS_KEYRING_MAX_FILE_LEN                                                                   \
	(LFS_KEYRING_HDR_LEN + 24 + 8 + LFS_KEYRING_MAX_ENTRIES * LFS_KEYRING_ENTRY_LEN + 16)

/* Epoch flags (the keyring entry's flags, docs/FORMAT.md 4.2; a staging
 * key's from its key file). FORMAT2: objects under this epoch are of
 * format 2 (their type, mode and owner in an authenticated inode record);
 * a format-1 object claiming it is refused. The vault is of format 2 when
 * its current epoch is. */
#define LFS_EPOCH_FORMAT2 0x1u
#define LFS_EPOCH_FLAGS   LFS_EPOCH_FORMAT2

/* Keys of one data-key epoch, each derived for one purpose. */
struct lfs_epoch_keys {
	uint32_t epoch;
	uint32_t flags; /* LFS_EPOCH_* */
	uint8_t data_key[32];
	uint8_t content[32];
	uint8_t hdr_mac[32];
	uint8_t name_mac[32];
	uint8_t name_enc[32];
	uint8_t link[32];
	uint8_t xattr_name_mac[32];
	uint8_t xattr_name_enc[32];
	uint8_t xattr_value[32];
	uint8_t inode[32]; /* format 2: seals inode records */
	uint8_t iattr[32]; /* format 2: seals inode attributes (backing xattr) */
};

/* Staging directories (docs/STAGING.md) look like extra epochs to the fs:
 * ids with the top bit set name a staging key, which is kept in its own
 * table beside the data-key epochs and never sealed into the keyring file
 * (each is wrapped in VAULT/staging/ID.key). Rotation skips these ids. */
#define LFS_STAGING_ID_BIT 0x80000000u
static inline int lfs_epoch_is_staging(uint32_t epoch)
{
	return (epoch & LFS_STAGING_ID_BIT) != 0;
}
#define LFS_MAX_STAGING 256

struct lfs_keyring_secrets {
	uint8_t master[LFS_MASTER_KEY_LEN];
	/* The audit key, when the keyring stores one (since the first rekey):
	 * it outlives master key changes so that older audit entries still
	 * verify. Absent: the audit key is derived from the master key. */
	bool has_audit_key;
	uint8_t audit_key[32];
	/* Authenticates the vault journal's records (journal/journal.h). */
	uint8_t journal_key[32];
	struct lfs_epoch_keys epochs[LFS_MAX_EPOCHS];
	struct lfs_epoch_keys staging[LFS_MAX_STAGING];
};

/* Shared mode (docs/SHARED.md): asked to read lethefs.keyring again when
 * an epoch is not in the ring (another host rotated). Returns > 0 when
 * the ring changed, 0 when not, a negative errno. */
typedef int (*lfs_keyring_refresh_fn)(void *arg);

struct lfs_keyring {
	pthread_rwlock_t lock;
	lfs_keyring_refresh_fn refresh; /* NULL: none (set before use) */
	void *refresh_arg;
	uint8_t uuid[LFS_UUID_LEN];
	enum lfs_cipher_id cipher;
	bool unlocked;
	uint32_t current_epoch;
	unsigned nepochs;
	struct lfs_keyring_secrets *sec; /* NULL while locked */
	/* Bumped on every lock and unlock so that caches of derived per-file
	 * keys can tell they are stale. */
	uint64_t generation;
	unsigned nstaging; /* entries used in sec->staging */
};

void lfs_keyring_init(struct lfs_keyring *kr, const uint8_t uuid[LFS_UUID_LEN],
                      enum lfs_cipher_id cipher);
void lfs_keyring_destroy(struct lfs_keyring *kr);

/* A new vault: random master key and a first data-key epoch (1), of
 * format 2 (LFS_EPOCH_FORMAT2) or 1. */
int lfs_keyring_generate(struct lfs_keyring *kr, int format);
/* Unlock: master key plus the sealed keyring file. -EKEYREJECTED when the
 * blob does not authenticate under this master key, -EINVAL if malformed. */
int lfs_keyring_unlock(struct lfs_keyring *kr, const uint8_t master[LFS_MASTER_KEY_LEN],
                       const uint8_t *file, size_t len);
/* Seals the keyring for disk. out must hold LFS_KEYRING_MAX_FILE_LEN. */
int lfs_keyring_seal(struct lfs_keyring *kr, uint8_t *out, size_t *len);
/* Wipes every key. Afterwards lfs_keyring_get returns -EACCES. */
void lfs_keyring_lock(struct lfs_keyring *kr);

/* Moves the keys of src (freshly unlocked, same vault) into dst, which the
 * filesystem keeps using: a live keyring is never re-initialised. src is
 * left locked. -EINVAL if they belong to different vaults. */
int lfs_keyring_take(struct lfs_keyring *dst, struct lfs_keyring *src);
bool lfs_keyring_is_unlocked(struct lfs_keyring *kr);

/* Read-locks the keyring and returns the keys of the given epoch (0 means
 * the current one). Must be paired with lfs_keyring_put when it returned 0.
 * An unknown data epoch is looked for once more after kr->refresh, unless
 * the calling thread already holds the ring (the refresh needs it alone). */
int lfs_keyring_get(struct lfs_keyring *kr, uint32_t epoch, const struct lfs_epoch_keys **out);
void lfs_keyring_put(struct lfs_keyring *kr);
/* Shared mode: reads the ring's file again now (kr->refresh), as an
 * unknown epoch would. > 0 when it changed, 0 when not or without a
 * refresh, a negative errno. Never while this thread holds the ring. */
int lfs_keyring_refresh(struct lfs_keyring *kr);
/* Copies the master key out (for keyslot changes). Caller wipes it. */
int lfs_keyring_copy_master(struct lfs_keyring *kr, uint8_t out[LFS_MASTER_KEY_LEN]);

/* Rotation (docs/ROTATION.md). Staging ids (lfs_epoch_is_staging) are
 * never chosen, rotated or retired here. */
/* Adds a random data key under a fresh epoch id (one above the highest
 * data epoch) and makes it current. The caller seals and stores the ring
 * before anything uses the new key. -ENOSPC when the ring is full. Every
 * new epoch is of format 2: a rotation of a format-1 vault upgrades it
 * (docs/FORMAT.md section 14.7). */
int lfs_keyring_add_epoch(struct lfs_keyring *kr, uint32_t *epoch);
/* Makes an existing epoch current (undoing add_epoch when the store fails). */
int lfs_keyring_set_current(struct lfs_keyring *kr, uint32_t epoch);
/* Removes an epoch and wipes its keys. -EBUSY for the current epoch,
 * -ENOENT when absent. Waits for in-flight users (write lock). */
int lfs_keyring_drop_epoch(struct lfs_keyring *kr, uint32_t epoch);
/* Lists the data epochs (not staging ones). Returns how many, at most max,
 * or -EACCES when locked. */
int lfs_keyring_epochs(struct lfs_keyring *kr, uint32_t *out, unsigned max, uint32_t *current);
/* Replaces the master key (rekey). The caller re-seals and stores. */
int lfs_keyring_set_master(struct lfs_keyring *kr, const uint8_t master[LFS_MASTER_KEY_LEN]);
/* Staging keys: adds the 32-byte random key of staging id (derived
 * subkeys as for an epoch); -EACCES locked, -ENOSPC when the table is full,
 * -EINVAL for an id without LFS_STAGING_ID_BIT. Dropping wipes the key
 * under the write lock, so no operation is using it when this returns;
 * afterwards lfs_keyring_get(kr, id) gives -EIO. */
int lfs_keyring_add_staging(struct lfs_keyring *kr, uint32_t id, const uint8_t key[32],
                            uint32_t flags);
void lfs_keyring_drop_staging(struct lfs_keyring *kr, uint32_t id);
/* The vault's format: 2 when the current epoch is of format 2, else 1;
 * -EACCES when locked. */
int lfs_keyring_format(struct lfs_keyring *kr);
/* The last step of an offline upgrade: every data epoch becomes of format
 * 2, so that no format-1 object is accepted any more. The caller seals
 * and stores the ring. */
int lfs_keyring_set_format2(struct lfs_keyring *kr);
/* Whether a data epoch of format 1 (no LFS_EPOCH_FORMAT2) is in the
 * ring: a format-1 vault, or one that a rotation is upgrading until it
 * retires the old epochs. False while locked. */
bool lfs_keyring_has_format1(struct lfs_keyring *kr);
/* The newest data epoch of format 1 in the ring: 0, -ENOENT when there is
 * none, -EACCES while locked. */
int lfs_keyring_format1_epoch(struct lfs_keyring *kr, uint32_t *epoch);
/* Whether the keys of epoch (or staging id) are in the ring now. */
bool lfs_keyring_has(struct lfs_keyring *kr, uint32_t epoch);

/* The stored audit key (rekey keeps the audit key the vault used so far).
 * copy: -ENOENT when none is stored (derive it from the master key),
 * -EACCES when locked. set: stored from now on, sealed with the ring. */
int lfs_keyring_copy_audit_key(struct lfs_keyring *kr, uint8_t out[32]);
int lfs_keyring_set_audit_key(struct lfs_keyring *kr, const uint8_t key[32]);

/* The journal's record key (derived from the master key). The first form
 * is for callers that hold the keyring (between lfs_keyring_get and
 * lfs_keyring_put) and returns NULL when locked; the copy takes the lock
 * itself (-EACCES locked) and the caller wipes out. */
const uint8_t *lfs_keyring_journal_key(struct lfs_keyring *kr);
int lfs_keyring_copy_journal_key(struct lfs_keyring *kr, uint8_t out[32]);

/* Takes the data epochs, the current epoch and the audit key of a keyring
 * file sealed under this ring's master key (keymgmt/keyring_merge.c): epochs
 * the file has and the ring lacks are added, epochs the ring has and the
 * file lacks (retired by another host) are wiped. *changed tells whether
 * anything did. -EKEYREJECTED when the file is not sealed under the master
 * key, -EINVAL when malformed, -EACCES when locked. */
int lfs_keyring_merge(struct lfs_keyring *kr, const uint8_t *file, size_t len, bool *changed);

/* Parses only the public header of a keyring file (no key needed).
 * *nentries counts the body's entries: the data epochs plus the audit key
 * entry when there is one (which only the sealed body tells). */
int lfs_keyring_peek(const uint8_t *file, size_t len, uint8_t uuid[LFS_UUID_LEN],
                     unsigned *nentries);

#endif
