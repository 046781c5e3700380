/* SPDX-License-Identifier: Apache-2.0 */
/* Keyslot labels (slot_labels.h; byte map in docs/FORMAT.md 3.4). */
#define _GNU_SOURCE
#include "slot_labels.h"
#include "kdf.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static const uint8_t MAGIC[8] = "LETHELB1";
static const uint8_t PERSONAL[16] = "lethefs-label-v1";

bool lfs_label_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	if (len == 0 || len > LFS_LABEL_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		unsigned c = p[i];
		size_t n;
		uint32_t cp, min;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += n;
	}
	return true;
}

void lfs_labels_key(uint8_t out[32], const uint8_t audit_key[32])
{
	lfs_kdf_derive(out, audit_key, 1, LFS_KDF_CTX_LABELS);
}

void lfs_slot_hash(uint8_t out[32], const struct lfs_keyslots *ks, int idx)
{
	uint8_t file[LFS_KEYSLOTS_FILE_LEN];
	lfs_keyslots_encode(ks, file);
	crypto_generichash(out, 32, file + LFS_KEYSLOTS_HDR_LEN + (size_t)idx * LFS_KEYSLOT_LEN,
	                   LFS_KEYSLOT_LEN, NULL, 0);
}

/* MAC = BLAKE2b-256(key, personal, uuid || record without its MAC). */
static void record_mac(uint8_t out[32], const uint8_t key[32], const uint8_t uuid[16],
                       const uint8_t *rec, size_t len)
{
	crypto_generichash_blake2b_state st;
	uint8_t salt[16] = {0};
	crypto_generichash_blake2b_init_salt_personal(&st, key, 32, 32, salt, PERSONAL);
	crypto_generichash_blake2b_update(&st, uuid, 16);
	crypto_generichash_blake2b_update(&st, rec, len);
	crypto_generichash_blake2b_final(&st, out, 32);
}

int lfs_labels_decode(const uint8_t *buf, size_t len, const uint8_t uuid[16], const uint8_t *key,
                      struct lfs_slot_labels *out)
{
	memset(out, 0, sizeof(*out));
	if (len < LFS_LABELS_HDR_LEN || len > LFS_LABELS_FILE_MAX || memcmp(buf, MAGIC, 8) ||
	    get_le16(buf + 8) != 1 || get_le32(buf + 12) != 0 || memcmp(buf + 16, uuid, 16))
		return -EINVAL;
	unsigned count = get_le16(buf + 10);
	if (count > LFS_LABELS_MAX)
		return -EINVAL;
	size_t off = LFS_LABELS_HDR_LEN;
	for (unsigned i = 0; i < count; i++) {
		if (len - off < LFS_LABEL_REC_FIXED)
			return -EINVAL;
		const uint8_t *r = buf + off;
		size_t tl = r[1];
		if (r[0] >= LFS_NSLOTS || get_le16(r + 2) != 0 || tl == 0 || tl > LFS_LABEL_MAX ||
		    len - off < LFS_LABEL_REC_FIXED + tl ||
		    !lfs_label_valid((const char *)r + 36, tl))
			return -EINVAL;
		struct lfs_slot_label *l = &out->rec[out->n++];
		l->slot = r[0];
		memcpy(l->slot_hash, r + 4, 32);
		memcpy(l->text, r + 36, tl);
		l->text[tl] = '\0';
		if (key) {
			uint8_t want[32];
			record_mac(want, key, uuid, r, 36 + tl);
			l->verified = sodium_memcmp(want, r + 36 + tl, 32) == 0;
		}
		off += LFS_LABEL_REC_FIXED + tl;
	}
	return off == len ? 0 : -EINVAL;
}

int lfs_labels_encode(const struct lfs_slot_labels *l, const uint8_t uuid[16],
                      const uint8_t key[32], uint8_t *out)
{
	if (l->n > LFS_LABELS_MAX)
		return -EINVAL;
	memset(out, 0, LFS_LABELS_HDR_LEN);
	memcpy(out, MAGIC, 8);
	put_le16(out + 8, 1);
	put_le16(out + 10, (uint16_t)l->n);
	memcpy(out + 16, uuid, 16);
	size_t off = LFS_LABELS_HDR_LEN;
	for (unsigned i = 0; i < l->n; i++) {
		const struct lfs_slot_label *rec = &l->rec[i];
		size_t tl = strlen(rec->text);
		if (rec->slot >= LFS_NSLOTS || !lfs_label_valid(rec->text, tl))
			return -EINVAL;
		uint8_t *r = out + off;
		r[0] = rec->slot;
		r[1] = (uint8_t)tl;
		put_le16(r + 2, 0);
		memcpy(r + 4, rec->slot_hash, 32);
		memcpy(r + 36, rec->text, tl);
		record_mac(r + 36 + tl, key, uuid, r, 36 + tl);
		off += LFS_LABEL_REC_FIXED + tl;
	}
	return (int)off;
}

int lfs_labels_load(int vault_dirfd, const uint8_t uuid[16], const uint8_t *key,
                    struct lfs_slot_labels *out)
{
	unsigned char *buf;
	size_t len;
	memset(out, 0, sizeof(*out));
	int r =
	    lfs_read_small_file(vault_dirfd, LFS_LABELS_FILE_NAME, LFS_LABELS_FILE_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	r = lfs_labels_decode(buf, len, uuid, key, out);
	free(buf);
	return r;
}

int lfs_labels_store(int vault_dirfd, const uint8_t uuid[16], const uint8_t key[32],
                     const struct lfs_slot_labels *l)
{
	if (l->n == 0) {
		if (unlinkat(vault_dirfd, LFS_LABELS_FILE_NAME, 0) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	uint8_t *buf = malloc(LFS_LABELS_FILE_MAX);
	if (!buf)
		return -ENOMEM;
	int n = lfs_labels_encode(l, uuid, key, buf);
	int r =
	    n < 0 ? n : lfs_replace_file(vault_dirfd, LFS_LABELS_FILE_NAME, buf, (size_t)n, 0600);
	free(buf);
	return r;
}

const struct lfs_slot_label *lfs_labels_find(const struct lfs_slot_labels *l,
                                             const struct lfs_keyslots *ks, int idx,
                                             bool need_verified)
{
	uint8_t h[32];
	if (idx < 0 || idx >= LFS_NSLOTS || ks->slot[idx].type == LFS_SLOT_EMPTY)
		return NULL;
	lfs_slot_hash(h, ks, idx);
	/* The last matching record wins: a relabel appends. */
	for (unsigned i = l->n; i-- > 0;) {
		const struct lfs_slot_label *r = &l->rec[i];
		if (r->slot == idx && !memcmp(r->slot_hash, h, 32) &&
		    (r->verified || !need_verified))
			return r;
	}
	return NULL;
}

int lfs_labels_put(struct lfs_slot_labels *l, int idx, const uint8_t slot_hash[32],
                   const char *text)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->rec[i].slot == idx && !memcmp(l->rec[i].slot_hash, slot_hash, 32)) {
			memmove(&l->rec[i], &l->rec[i + 1], (l->n - i - 1) * sizeof(l->rec[0]));
			l->n--;
			break;
		}
	if (l->n == LFS_LABELS_MAX)
		return -ENOSPC;
	struct lfs_slot_label *r = &l->rec[l->n];
	size_t tl = strlen(text);
	if (!lfs_label_valid(text, tl))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->slot = (uint8_t)idx;
	memcpy(r->slot_hash, slot_hash, 32);
	memcpy(r->text, text, tl + 1);
	r->verified = true;
	l->n++;
	return 0;
}
