/* SPDX-License-Identifier: Apache-2.0 */
/* Keyslot labels for the commands that change keyslots (keymgmt/
 * slot_labels.h): every change rewrites lethefs.labels around the new
 * keyslot file, so that each slot keeps its label across a re-wrap
 * (passwd, rekey) and a crash at any point leaves every slot with its
 * label or, at worst, without one, never with another slot's. */
#ifndef LETHEFS_CLI_LABELS_H
#define LETHEFS_CLI_LABELS_H

#include <stdint.h>

#include "../keymgmt/keyring.h"
#include "../keymgmt/slot_labels.h"
#include "../keymgmt/vault.h"

/* The label MAC key of an unlocked keyring (from its audit key). */
int lfs_cli_labels_key(struct lfs_keyring *kr, uint8_t key[32]);

/* The labels of v->slots (verified under key), or none when the file is
 * unreadable or malformed (said on stderr). */
void lfs_cli_labels_load(struct lfs_vault *v, const uint8_t *key, struct lfs_slot_labels *out);

/* Before lethefs.keyslots becomes ks: the labels ks will have (each used
 * slot keeps the verified label of the same slot in v->slots; slot
 * relabel_idx gets relabel_text when that is not NULL) go into *next, and
 * the file is written with the old and the new records together. Returns
 * 0 or -errno (nothing changed). */
int lfs_cli_labels_begin(struct lfs_vault *v, const uint8_t key[32], const struct lfs_keyslots *ks,
                         int relabel_idx, const char *relabel_text, struct lfs_slot_labels *next);
/* After lethefs.keyslots was replaced: only the records of the new slots
 * stay. A failure is only reported (a stale record matches no slot). */
void lfs_cli_labels_finish(struct lfs_vault *v, const uint8_t key[32],
                           const struct lfs_slot_labels *next);

#endif
