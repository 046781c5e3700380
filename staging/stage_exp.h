/* SPDX-License-Identifier: Apache-2.0 */
/* The retention record of a staging directory, VAULT/staging/ID.exp
 * (docs/FORMAT.md section 11.3): who made it, when, when it expires and
 * its quota, authenticated with a key derived from the master key. It is
 * the authority for the expiry: a record that is missing or does not
 * authenticate never postpones anything (docs/STAGING.md, "Retention that
 * cannot slip"). Readable without a key (the fields are in the clear), so
 * that `lethefs shred-expired` can act on what it claims. */
#ifndef LETHEFS_STAGE_EXP_H
#define LETHEFS_STAGE_EXP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../keymgmt/keyring.h"

#define LFS_STAGE_EXP_LEN       80
#define LFS_STAGE_OWNER_UNKNOWN 0xffffffffu

struct lfs_stage_exp {
	uint32_t id;
	uint32_t owner; /* uid of the creator, LFS_STAGE_OWNER_UNKNOWN if not known */
	int64_t created, expires;
	uint64_t quota;
};

/* Encodes e. With an unlocked kr the MAC is computed; without (kr NULL or
 * locked) it is left zero, which never authenticates: such a record can
 * only bring an expiry forward (a shred intent written without a key). */
void lfs_stage_exp_encode(struct lfs_keyring *kr, const struct lfs_stage_exp *e,
                          uint8_t out[LFS_STAGE_EXP_LEN]);
/* Parses the fields without checking the MAC: -EINVAL unless the length,
 * magic, id and reserved bytes are right and the times are not negative. */
int lfs_stage_exp_parse(const uint8_t *in, size_t len, uint32_t id, struct lfs_stage_exp *e);
/* Checks the MAC: 0, -EBADMSG, or -EACCES when kr is locked. */
int lfs_stage_exp_verify(struct lfs_keyring *kr, const uint8_t *in, size_t len);

/* The file: written atomically (lfs_replace_file), read whole. load
 * returns -ENOENT when absent; *raw (LFS_STAGE_EXP_LEN bytes) is filled
 * for lfs_stage_exp_verify when the record parses. */
int lfs_stage_exp_store(int sdirfd, struct lfs_keyring *kr, const struct lfs_stage_exp *e);
int lfs_stage_exp_load(int sdirfd, uint32_t id, struct lfs_stage_exp *e,
                       uint8_t raw[LFS_STAGE_EXP_LEN]);
int lfs_stage_exp_remove(int sdirfd, uint32_t id);

#endif
