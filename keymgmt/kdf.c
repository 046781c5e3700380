/* SPDX-License-Identifier: Apache-2.0 */
#include "kdf.h"

#include <sodium.h>

void lfs_kdf_derive(uint8_t out[LFS_KEY_LEN], const uint8_t root[LFS_KEY_LEN], uint64_t subkey_id,
                    const char ctx[8])
{
	crypto_kdf_derive_from_key(out, LFS_KEY_LEN, subkey_id, ctx, root);
}

void lfs_kdf_file_key(uint8_t out[LFS_KEY_LEN], const uint8_t content_root[LFS_KEY_LEN],
                      const uint8_t file_id[16])
{
	static const uint8_t label[] = "lethefs file key v1";
	crypto_generichash_state st;
	crypto_generichash_init(&st, content_root, LFS_KEY_LEN, LFS_KEY_LEN);
	crypto_generichash_update(&st, label, sizeof(label));
	crypto_generichash_update(&st, file_id, 16);
	crypto_generichash_final(&st, out, LFS_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
}
