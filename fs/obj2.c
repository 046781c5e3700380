/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "obj2.h"
#include "names.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

int lfs_obj2_write(int fd, enum lfs_cipher_id cipher, const struct lfs_epoch_keys *k,
                   const struct lfs_irec *rec, const void *content, size_t len, uint16_t flags,
                   struct lfs_file_header *h)
{
	if (len > LFS_BLOCK_SIZE)
		return -EINVAL;
	struct lfs_layout l;
	lfs_layout_init(&l, cipher, LFS_FILE_V2);
	lfs_header_new(h, cipher, k->epoch, LFS_FILE_V2);
	h->flags = flags;
	size_t total = len ? l.hdr_len + len + l.overhead : l.hdr_len;
	uint8_t *buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	int r = lfs_header_encode(h, k, rec, buf);
	if (r >= 0 && len) {
		struct lfs_aead_key key;
		r = lfs_file_key(&key, cipher, k->content, h->file_id);
		if (r == 0) {
			randombytes_buf(buf + l.hdr_len, l.nonce_len);
			r = lfs_block_seal(&l, &key, h, 0, true, content, len, buf + l.hdr_len);
			lfs_aead_key_wipe(&key);
		}
	}
	if (r >= 0)
		r = lfs_pwrite_full(fd, buf, total, 0);
	free(buf);
	return r < 0 ? r : 0;
}

void lfs_obj2_tmp_name(char out[LFS_OBJ2_TMP_LEN])
{
	snprintf(out, LFS_OBJ2_TMP_LEN, LFS_TMP_PREFIX "%08x%08x", randombytes_random(),
	         randombytes_random());
}
