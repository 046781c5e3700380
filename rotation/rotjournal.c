/* SPDX-License-Identifier: Apache-2.0 */
/* The rotation journal's record (rotjournal.h) and its file. */
#define _GNU_SOURCE
#include "rotjournal.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static const uint8_t jmagic[4] = {'L', 'T', 'H', 'J'};

size_t lfs_rotjournal_encode(const struct lfs_rotjournal *j, uint8_t *out)
{
	size_t pl = strnlen(j->path, LFS_ROTJ_PATH_MAX - 1);
	uint8_t *p = out;
	memcpy(p, jmagic, 4);
	p[4] = 1;
	p[5] = j->kind;
	p[6] = p[7] = 0;
	put_le64(p + 8, j->dev);
	put_le64(p + 16, j->ino);
	put_le32(p + 24, (uint32_t)j->handle_type);
	put_le32(p + 28, j->handle_len);
	memcpy(p + 32, j->handle, LFS_ROTJ_HANDLE_MAX);
	p += 32 + LFS_ROTJ_HANDLE_MAX;
	memcpy(p, j->old_raw, LFS_FILE_HDR_V1_LEN);
	memcpy(p + LFS_FILE_HDR_V1_LEN, j->new_raw, LFS_FILE_HDR_V1_LEN);
	p += 2 * LFS_FILE_HDR_V1_LEN;
	put_le32(p, (uint32_t)pl);
	memcpy(p + 4, j->path, pl);
	p += 4 + pl;
	crypto_generichash(p, 16, out, (size_t)(p - out), NULL, 0);
	return (size_t)(p - out) + 16;
}

int lfs_rotjournal_decode(const uint8_t *in, size_t len, struct lfs_rotjournal *j)
{
	const size_t fixed = 32 + LFS_ROTJ_HANDLE_MAX + 2 * LFS_FILE_HDR_V1_LEN + 4;
	if (len < fixed + 16 || len > LFS_ROTJ_MAX_LEN)
		return -EINVAL;
	uint8_t sum[16];
	crypto_generichash(sum, 16, in, len - 16, NULL, 0);
	if (sodium_memcmp(sum, in + len - 16, 16) != 0)
		return -EINVAL;
	if (memcmp(in, jmagic, 4) != 0 || in[4] != 1 || in[6] || in[7] ||
	    (in[5] != LFS_ROTJ_FILE && in[5] != LFS_ROTJ_DIR))
		return -EINVAL;
	memset(j, 0, sizeof(*j));
	j->kind = in[5];
	j->dev = get_le64(in + 8);
	j->ino = get_le64(in + 16);
	j->handle_type = (int32_t)get_le32(in + 24);
	j->handle_len = get_le32(in + 28);
	if (j->handle_len > LFS_ROTJ_HANDLE_MAX)
		return -EINVAL;
	memcpy(j->handle, in + 32, LFS_ROTJ_HANDLE_MAX);
	const uint8_t *p = in + 32 + LFS_ROTJ_HANDLE_MAX;
	memcpy(j->old_raw, p, LFS_FILE_HDR_V1_LEN);
	memcpy(j->new_raw, p + LFS_FILE_HDR_V1_LEN, LFS_FILE_HDR_V1_LEN);
	p += 2 * LFS_FILE_HDR_V1_LEN;
	uint32_t pl = get_le32(p);
	if (pl >= LFS_ROTJ_PATH_MAX || fixed + pl + 16 != len || memchr(p + 4, '\0', pl))
		return -EINVAL;
	memcpy(j->path, p + 4, pl);
	j->path[pl] = '\0';
	return 0;
}
