/* SPDX-License-Identifier: Apache-2.0 */
/* Keyslot labels ("Dr. X, lab admin"): VAULT/lethefs.labels, beside the
 * fixed-size keyslot file, which has no room for them (docs/FORMAT.md
 * section 3.4). Labels are not secret but are authenticated: each record
 * carries a MAC under a key derived from the audit key, so that whoever
 * writes the vault directory cannot relabel a slot, and binds the hash of
 * the slot's 128 bytes, so that a label dies with the slot it was written
 * for (a re-wrapped or replaced slot needs its record rewritten; an old
 * copy of the file cannot label a newer slot). */
#ifndef LETHEFS_SLOT_LABELS_H
#define LETHEFS_SLOT_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyslots.h"

#define LFS_LABELS_FILE_NAME "lethefs.labels"
#define LFS_LABEL_MAX        128 /* bytes of UTF-8 */
/* Two per slot: while a change is being committed, the labels of the old
 * and of the new slot bytes are both on disk. */
#define LFS_LABELS_MAX      (2 * LFS_NSLOTS)
#define LFS_LABELS_HDR_LEN  32
#define LFS_LABEL_REC_FIXED (36 + 32) /* a record without its text */
#define LFS_LABELS_FILE_MAX                                                                        \
	(LFS_LABELS_HDR_LEN + LFS_LABELS_MAX * (LFS_LABEL_REC_FIXED + LFS_LABEL_MAX))

struct lfs_slot_label {
	uint8_t slot;
	uint8_t slot_hash[32]; /* BLAKE2b-256 of the slot's 128 bytes */
	char text[LFS_LABEL_MAX + 1];
	bool verified; /* its MAC checked out under the key given */
};

struct lfs_slot_labels {
	unsigned n;
	struct lfs_slot_label rec[LFS_LABELS_MAX];
};

/* A label people can read: 1 to LFS_LABEL_MAX bytes of valid UTF-8 without
 * control characters (C0, DEL, C1). */
bool lfs_label_valid(const char *s, size_t len);

/* The label MAC key: KDF(audit key, 1, LFS_KDF_CTX_LABELS). Caller wipes. */
void lfs_labels_key(uint8_t out[32], const uint8_t audit_key[32]);
/* BLAKE2b-256 of slot idx as lethefs.keyslots stores it. */
void lfs_slot_hash(uint8_t out[32], const struct lfs_keyslots *ks, int idx);

/* Strict decoding of the file; key (may be NULL) checks each record's
 * MAC and sets its verified flag. -EINVAL when malformed or of another
 * vault. */
int lfs_labels_decode(const uint8_t *buf, size_t len, const uint8_t uuid[16], const uint8_t *key,
                      struct lfs_slot_labels *out);
/* Encodes (and MACs) the records; out holds LFS_LABELS_FILE_MAX. Returns
 * the length or -EINVAL for an invalid record. */
int lfs_labels_encode(const struct lfs_slot_labels *l, const uint8_t uuid[16],
                      const uint8_t key[32], uint8_t *out);

/* The file in the vault directory: a missing file is no labels; storing
 * none removes it. Store replaces it atomically. */
int lfs_labels_load(int vault_dirfd, const uint8_t uuid[16], const uint8_t *key,
                    struct lfs_slot_labels *out);
int lfs_labels_store(int vault_dirfd, const uint8_t uuid[16], const uint8_t key[32],
                     const struct lfs_slot_labels *l);

/* The label of slot idx as the keyslots are now: a record for idx whose
 * slot hash matches (verified only, when need_verified). NULL: none. */
const struct lfs_slot_label *lfs_labels_find(const struct lfs_slot_labels *l,
                                             const struct lfs_keyslots *ks, int idx,
                                             bool need_verified);
/* Adds a record (replacing one for the same slot bytes). -ENOSPC full. */
int lfs_labels_put(struct lfs_slot_labels *l, int idx, const uint8_t slot_hash[32],
                   const char *text);

#endif
