/* SPDX-License-Identifier: Apache-2.0 */
/* Symlink targets under the keyring's epochs (symlink.h). */
#include "symlink.h"
#include "names.h"

#include <errno.h>

int lfs_link_decrypt_any(struct lfs_keyring *kr, const char *enc, size_t enc_len, char *out,
                         uint32_t *epoch)
{
	uint32_t epochs[LFS_MAX_EPOCHS], cur = 0;
	int n = lfs_keyring_epochs(kr, epochs, LFS_MAX_EPOCHS, &cur);
	if (n < 0)
		return n;
	/* Current first: after a rotation nearly every link is current. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			if ((pass == 0) != (epochs[i] == cur))
				continue;
			const struct lfs_epoch_keys *k;
			if (lfs_keyring_get(kr, epochs[i], &k) < 0)
				continue;
			int r = lfs_link_decrypt(k->link, enc, enc_len, out);
			lfs_keyring_put(kr);
			if (r >= 0) {
				*epoch = epochs[i];
				return r;
			}
		}
	}
	return -EBADMSG;
}
