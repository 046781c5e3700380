/* SPDX-License-Identifier: Apache-2.0 */
/* Extended attributes' conversion to the target epoch (rotation phase
 * "xattrs"). */
#define _GNU_SOURCE
#include "convert.h"

#include <errno.h>
#include <string.h>
#include <sys/xattr.h>
#include <sodium.h>

/* xattrs carry no epoch: any user.* attribute whose name does not
 * authenticate under the current epoch is re-encrypted from the live
 * epoch it does authenticate under. Returns how many are (or, counting,
 * would be) converted. */
int lfs_rot_convert_xattrs(struct walk *w, const char *proc, bool count_only)
{
	char *list = w->x->list, *plain = w->x->plain;
	uint8_t *val = w->x->val, *clear = w->x->clear;
	ssize_t n = listxattr(proc, list, sizeof(w->x->list));
	if (n <= 0)
		return 0;
	uint32_t ep[LFS_MAX_EPOCHS], cur = 0;
	int ne = lfs_keyring_epochs(w->fs->kr, ep, LFS_MAX_EPOCHS, &cur), found = 0, err = 0;
	if (ne < 0)
		return ne;
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		if (strncmp(p, "user.", 5) != 0)
			continue;
		const char *enc = p + 5;
		size_t plen = 0;
		uint32_t hit = 0;
		for (int pass = 0; pass < 2 && !hit; pass++) {
			for (int i = 0; i < ne && !hit; i++) {
				if ((pass == 0) != (ep[i] == cur))
					continue;
				const struct lfs_epoch_keys *k;
				if (lfs_keyring_get(w->fs->kr, ep[i], &k) < 0)
					continue;
				if (lfs_xattr_name_decrypt(k->xattr_name_mac, k->xattr_name_enc,
				                           enc, strlen(enc), plain, &plen) == 0)
					hit = ep[i];
				lfs_keyring_put(w->fs->kr);
			}
		}
		if (!hit || hit == cur)
			continue;
		found++;
		if (count_only)
			continue;
		ssize_t vl = getxattr(proc, p, val, sizeof(w->x->val));
		const struct lfs_epoch_keys *k;
		int vr = -EIO;
		if (vl >= LFS_XATTR_VALUE_OVERHEAD && lfs_keyring_get(w->fs->kr, hit, &k) == 0) {
			vr = lfs_xattr_value_open(k->xattr_value, p, val, (size_t)vl, clear);
			lfs_keyring_put(w->fs->kr);
		}
		char nb[5 + LFS_ENCNAME_MAX] = "user.";
		if (vr >= 0 && lfs_keyring_get(w->fs->kr, cur, &k) == 0) {
			lfs_xattr_name_encrypt(k->xattr_name_mac, k->xattr_name_enc, plain, plen,
			                       nb + 5);
			int sr = lfs_xattr_value_seal(k->xattr_value, nb, clear, (size_t)vr, val);
			lfs_keyring_put(w->fs->kr);
			/* New first, then the old: a crash between leaves both, and
			 * the next pass removes the old one. A failed seal writes
			 * nothing and keeps the old copy. */
			if (sr < 0)
				vr = sr;
			else if (setxattr(proc, nb, val, (size_t)vr + LFS_XATTR_VALUE_OVERHEAD, 0) <
			         0)
				vr = -errno;
			else
				removexattr(proc, p);
		}
		/* Not converted (a full disk refused the new copy, a value that
		 * does not open): an error of the pass, never counted as done,
		 * or the rotation would look for it again pass after pass. */
		if (vr < 0) {
			found--;
			if (err == 0)
				err = vr;
		}
		sodium_memzero(clear, sizeof(w->x->clear));
	}
	sodium_memzero(plain, sizeof(w->x->plain));
	if (err < 0)
		return err;
	if (found && !count_only) {
		pthread_mutex_lock(&w->r->lock);
		w->r->xattrs_done += (uint64_t)found;
		pthread_mutex_unlock(&w->r->lock);
	}
	return found;
}
