/* SPDX-License-Identifier: Apache-2.0 */
/* A vault on disk: VAULT/lethefs.conf (settings), VAULT/lethefs.keyslots
 * (master key wrapped per slot), VAULT/lethefs.keyring (data keys sealed
 * under the master key) and VAULT/d/ (the encrypted tree). */
#ifndef LETHEFS_VAULT_H
#define LETHEFS_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "keyring.h"
#include "keyslots.h"

#define LFS_DATA_DIR_NAME "d"

struct lfs_vault {
	char *path;
	int dirfd; /* the vault directory, O_RDONLY */
	struct lfs_vault_config cfg;
	struct lfs_keyslots slots;
	/* The keyring (authenticated) says format 2 but lethefs.conf still
	 * says 1: an upgrade whose last step a crash interrupted. cfg.format
	 * is 2 already; lfs_vault_store_format writes the file. */
	bool format_stale;
};

struct lfs_kdf_params {
	uint64_t opslimit;
	uint64_t memlimit;
};

/* Defaults: about one second and 256 MiB of Argon2id on a small server. */
#define LFS_KDF_DEFAULT_OPS 3ULL
#define LFS_KDF_DEFAULT_MEM (256ULL << 20)

/* Error classes the CLI maps to exit codes. */
enum lfs_vault_error {
	LFS_VAULT_OK = 0,
	LFS_VAULT_MISSING = 1, /* no such directory, or not a vault */
	LFS_VAULT_CORRUPT = 2, /* a vault file is malformed */
	LFS_VAULT_SYSTEM = 3,  /* I/O error, out of memory */
};

/* Opens the public parts (config, keyslots). No secret needed. */
enum lfs_vault_error lfs_vault_open(const char *path, struct lfs_vault *v, char *err,
                                    size_t errlen);
void lfs_vault_close(struct lfs_vault *v);
/* The same for expiring staging directories without any key (lethefs
 * shred-expired): only [vault] and [staging] of the config must be right
 * (an error elsewhere is described in v->cfg.skipped), and the keyslot
 * file is not needed (v->slots is zero when it is unusable). */
enum lfs_vault_error lfs_vault_open_for_staging(const char *path, struct lfs_vault *v, char *err,
                                                size_t errlen);

/* Tries the secret against every keyslot and unlocks kr (which this
 * initialises). -EKEYREJECTED for a wrong secret; -EINVAL when the keyring
 * file is corrupt or does not belong to this config, or when the config
 * claims format 2 for a keyring of format 1 (docs/FORMAT.md 14.7: the
 * keyring, which is authenticated, says which format a vault is). */
int lfs_vault_unlock(struct lfs_vault *v, const void *secret, size_t len, struct lfs_keyring *kr,
                     int *slot);

/* Unlocks kr with a master key given directly (a recovery key) instead of
 * a slot's secret. The key is checked by authenticating the keyring file
 * under it: -EKEYREJECTED for a wrong key, -EINVAL when the keyring file is
 * missing or malformed. */
int lfs_vault_unlock_master(struct lfs_vault *v, const uint8_t master[LFS_MASTER_KEY_LEN],
                            struct lfs_keyring *kr);

/* Keyslot changes (keymgmt/vault_slots.c). A change is: lock, reload,
 * modify v->slots' copy, store, unlock. The lock is an exclusive flock on
 * VAULT/lethefs.lock and a byte-range lock on its byte 0 (which cluster
 * filesystems enforce across hosts), so two changers, on one host or two,
 * cannot both read the old file and each write back a version missing the
 * other's slot. Shared-mode rotations hold it while they change
 * lethefs.keyring. */
#define LFS_LOCK_FILE_NAME "lethefs.lock"
/* Returns the lock's descriptor, or -errno. waiting() is called once if
 * another process holds the lock (to tell a user why nothing happens). */
int lfs_vault_lock_slots(struct lfs_vault *v, void (*waiting)(void));
void lfs_vault_unlock_slots(int lockfd);
/* Re-reads lethefs.keyslots into v->slots: call it under the lock, right
 * before modifying. -EINVAL if the file is malformed or from another vault. */
int lfs_vault_reload_slots(struct lfs_vault *v);
/* Atomically replaces lethefs.keyslots with ks (temporary file, fsync,
 * rename, fsync of the directory) and copies ks into v->slots. Temporary
 * files left by a change that was killed are removed first. */
int lfs_vault_store_slots(struct lfs_vault *v, const struct lfs_keyslots *ks);

/* Rekey (cli/cmd_rekey.c) commits a new master key across two files
 * under one journal record (docs/FORMAT.md section 12): the record holds
 * ring (the keyring sealed under the new master) and is itself sealed under
 * a key of the new master, and is synced; then lethefs.keyslots is replaced
 * by ks (slots wrapping the new master); then lethefs.keyring by ring; then
 * the record is cleared. Killed before the keyslots' rename: the old slots
 * and keyring stand, and the record, which does not authenticate under the
 * old master, is cleared by the next recovery. Killed after it: the next
 * unlock finds that the keyring does not open under the slots' master and
 * installs the one in the record (lfs_vault_finish_rekey). Call under the
 * slot lock. Vaults rekeyed by older versions used lethefs.keyring.new
 * instead; an unlock still finishes such a rename. */
#define LFS_KEYRING_NEW_FILE_NAME LFS_KEYRING_FILE_NAME ".new"
int lfs_vault_store_rekey(struct lfs_vault *v, const uint8_t *ring, size_t ring_len,
                          const struct lfs_keyslots *ks,
                          const uint8_t new_master[LFS_MASTER_KEY_LEN]);
/* Installs the keyring of an interrupted rekey from the journal when it
 * opens under master. -EKEYREJECTED when there is none. */
int lfs_vault_finish_rekey(struct lfs_vault *v, const uint8_t master[LFS_MASTER_KEY_LEN]);
/* Removes a lethefs.keyring.new (and temporaries) left by a rekey that was
 * killed before it replaced the keyslots. Call under the slot lock, after
 * the current keyring opened (so that the .new is known to be stale). */
void lfs_vault_remove_stale_rekey(struct lfs_vault *v);

/* Writes the metadata of the new, empty data directory open on dirfd
 * (names under kr's current epoch): the filesystem's business
 * (lfs_dirmeta_create_root). */
typedef int (*lfs_vault_root_fn)(int dirfd, struct lfs_keyring *kr);

/* Creates a vault of the given format (1 or 2) in path (absent or an empty
 * directory). Its data directory is made first, its metadata written by
 * make_root. */
int lfs_vault_create(const char *path, int format, enum lfs_cipher_id cipher,
                     enum lfs_slot_type slot_type, const void *secret, size_t len,
                     const struct lfs_kdf_params *kdf, lfs_vault_root_fn make_root, char *err,
                     size_t errlen);

/* Sets [vault] format in lethefs.conf to v->cfg.format, keeping every other
 * byte of the file (atomic replacement). */
int lfs_vault_store_format(struct lfs_vault *v);

#endif
