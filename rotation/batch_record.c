/* SPDX-License-Identifier: Apache-2.0 */
/* The payload of a batch record (kind 9, batch.h, docs/FORMAT.md 12.4):
 * one entry per file, each naming the file as a record's target does and
 * holding its old and new header. */
#define _GNU_SOURCE
#include "batch.h"
#include "../common/bytes.h"

#include <errno.h>
#include <string.h>

/* dev u64 | ino u64 | handle_type i32 | handle_len u8 | hdr_len u8 |
 * path_len u16, then the handle, the path, the old and the new header. */
#define ENTRY_FIXED 24u

static bool hdr_len_ok(size_t n)
{
	return n == LFS_FILE_HDR_V1_LEN || n == LFS_FILE_HDR_V2_LEN;
}

size_t lfs_rot_batch_entry_len(const struct lfs_journal_target *t, size_t hdr_len)
{
	return ENTRY_FIXED + t->handle_len + t->path_len + 2 * hdr_len;
}

int lfs_rot_batch_put(uint8_t *payload, uint32_t *len, const struct lfs_journal_target *t,
                      const uint8_t *old_raw, const uint8_t *new_raw, size_t hdr_len)
{
	if (!hdr_len_ok(hdr_len) || t->handle_len > LFS_JOURNAL_HANDLE_MAX ||
	    t->path_len > LFS_JOURNAL_PATH_MAX || !lfs_journal_path_ok(t->path, t->path_len))
		return -EINVAL;
	size_t need = lfs_rot_batch_entry_len(t, hdr_len);
	uint32_t count = *len ? get_le32(payload) : 0;
	size_t at = *len ? *len : 4;
	if (at + need > LFS_JOURNAL_PAYLOAD_MAX)
		return -E2BIG;
	uint8_t *p = payload + at;
	put_le64(p, t->dev);
	put_le64(p + 8, t->ino);
	put_le32(p + 16, (uint32_t)t->handle_type);
	p[20] = (uint8_t)t->handle_len;
	p[21] = (uint8_t)hdr_len;
	put_le16(p + 22, (uint16_t)t->path_len);
	p += ENTRY_FIXED;
	memcpy(p, t->handle, t->handle_len);
	p += t->handle_len;
	memcpy(p, t->path, t->path_len);
	p += t->path_len;
	memcpy(p, old_raw, hdr_len);
	memcpy(p + hdr_len, new_raw, hdr_len);
	put_le32(payload, count + 1);
	*len = (uint32_t)(at + need);
	return 0;
}

int lfs_rot_batch_count(const uint8_t *payload, size_t len, uint32_t *count)
{
	if (len < 4)
		return -EINVAL;
	*count = get_le32(payload);
	/* The smallest entry is a v1 one with neither handle nor path. */
	if (*count == 0 || *count > (len - 4) / (ENTRY_FIXED + 2 * LFS_FILE_HDR_V1_LEN))
		return -EINVAL;
	return 0;
}

int lfs_rot_batch_next(const uint8_t *payload, size_t len, size_t *off,
                       struct lfs_journal_target *t, const uint8_t **old_raw,
                       const uint8_t **new_raw, size_t *hdr_len)
{
	size_t at = *off ? *off : 4;
	if (at == len)
		return 0;
	if (at > len || len - at < ENTRY_FIXED)
		return -EINVAL;
	const uint8_t *p = payload + at;
	memset(t, 0, sizeof(*t));
	t->dev = get_le64(p);
	t->ino = get_le64(p + 8);
	t->handle_type = (int32_t)get_le32(p + 16);
	t->handle_len = p[20];
	*hdr_len = p[21];
	t->path_len = get_le16(p + 22);
	if (t->handle_len > LFS_JOURNAL_HANDLE_MAX || t->path_len > LFS_JOURNAL_PATH_MAX ||
	    !hdr_len_ok(*hdr_len) || len - at < lfs_rot_batch_entry_len(t, *hdr_len))
		return -EINVAL;
	p += ENTRY_FIXED;
	memcpy(t->handle, p, t->handle_len);
	p += t->handle_len;
	memcpy(t->path, p, t->path_len);
	t->path[t->path_len] = '\0';
	if (!lfs_journal_path_ok(t->path, t->path_len))
		return -EINVAL;
	p += t->path_len;
	*old_raw = p;
	*new_raw = p + *hdr_len;
	*off = at + lfs_rot_batch_entry_len(t, *hdr_len);
	return 1;
}
