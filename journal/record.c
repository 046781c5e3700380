/* SPDX-License-Identifier: Apache-2.0 */
/* One journal record's bytes (docs/FORMAT.md 12.2): encoding, MAC and
 * decoding, apart from the file and its slots (journal.c). */
#define _GNU_SOURCE
#include "journal.h"
#include "../common/bytes.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

static const uint8_t rec_magic[4] = {'L', 'T', 'H', 'R'};
#define REC_VERSION 1u
/* Domain separation: a journal MAC is never a MAC of anything else. */
static const char mac_domain[] = "lethefs journal record v1";

static void compute_mac(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                        unsigned slot, const uint8_t *rec, size_t len, uint8_t mac[32])
{
	crypto_generichash_state st;
	uint8_t slot_le[4];
	put_le32(slot_le, slot);
	crypto_generichash_init(&st, key, LFS_JOURNAL_KEY_LEN, 32);
	crypto_generichash_update(&st, (const uint8_t *)mac_domain, sizeof(mac_domain));
	crypto_generichash_update(&st, uuid, 16);
	crypto_generichash_update(&st, slot_le, sizeof(slot_le));
	crypto_generichash_update(&st, rec, len);
	crypto_generichash_final(&st, mac, 32);
	sodium_memzero(&st, sizeof(st));
}

bool lfs_journal_path_ok(const char *p, size_t len)
{
	if (len == 0)
		return true;
	if (p[0] == '/' || memchr(p, '\0', len))
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		size_t n = i - start;
		if (n == 0 || (n == 1 && p[start] == '.') ||
		    (n == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

/* Encodes everything but the bulk (fixed part, path, payload, MAC) into
 * out, which holds LFS_JOURNAL_SLOT_LEN bytes; returns the length, or
 * -EINVAL when a length is out of bounds. */
ssize_t lfs_journal_encode_head(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                                unsigned slot, const struct lfs_journal_record *r, uint8_t *out)
{
	const struct lfs_journal_target *t = &r->target;
	if (r->kind == 0 || r->kind > LFS_JK_MAX || t->handle_len > LFS_JOURNAL_HANDLE_MAX ||
	    t->path_len > LFS_JOURNAL_PATH_MAX || r->payload_len > LFS_JOURNAL_PAYLOAD_MAX ||
	    !lfs_journal_path_ok(t->path, t->path_len) ||
	    r->bulk_len > LFS_JOURNAL_BULK_ROOM(t->path_len, r->payload_len) ||
	    (r->bulk_len && !r->bulk))
		return -EINVAL;
	memset(out, 0, LFS_JOURNAL_REC_FIXED);
	memcpy(out, rec_magic, 4);
	out[4] = REC_VERSION;
	out[5] = r->kind;
	put_le64(out + 8, r->seq);
	put_le64(out + 16, t->dev);
	put_le64(out + 24, t->ino);
	put_le32(out + 32, (uint32_t)t->handle_type);
	put_le32(out + 36, t->handle_len);
	memcpy(out + 40, t->handle, t->handle_len);
	put_le32(out + 168, t->path_len);
	put_le32(out + 172, r->payload_len);
	put_le32(out + 176, r->bulk_len);
	size_t len = LFS_JOURNAL_REC_FIXED;
	memcpy(out + len, t->path, t->path_len);
	len += t->path_len;
	memcpy(out + len, r->payload, r->payload_len);
	len += r->payload_len;
	compute_mac(key, uuid, slot, out, len, out + len);
	return (ssize_t)(len + LFS_JOURNAL_MAC_LEN);
}

int lfs_journal_encode(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                       unsigned slot, const struct lfs_journal_record *r, uint8_t *out,
                       size_t out_len)
{
	uint8_t *head = malloc(LFS_JOURNAL_SLOT_LEN);
	if (!head)
		return -ENOMEM;
	ssize_t n = lfs_journal_encode_head(key, uuid, slot, r, head);
	if (n >= 0 && (size_t)n + r->bulk_len > out_len)
		n = -EINVAL;
	if (n >= 0) {
		memset(out, 0, out_len);
		memcpy(out, head, (size_t)n);
		if (r->bulk_len)
			memcpy(out + n, r->bulk, r->bulk_len);
	}
	free(head);
	return n < 0 ? (int)n : 0;
}

/* Length of the record in a slot, from its fixed part: *head is what the
 * MAC covers, *total adds the MAC and the bulk. */
static int record_len(const uint8_t *in, size_t len, size_t *head, size_t *total)
{
	if (len < LFS_JOURNAL_REC_FIXED)
		return -EINVAL;
	uint32_t path_len = get_le32(in + 168), payload_len = get_le32(in + 172);
	uint32_t bulk_len = get_le32(in + 176);
	if (path_len > LFS_JOURNAL_PATH_MAX || payload_len > LFS_JOURNAL_PAYLOAD_MAX ||
	    bulk_len > LFS_JOURNAL_BULK_ROOM(path_len, payload_len))
		return -EINVAL;
	*head = LFS_JOURNAL_REC_FIXED + path_len + payload_len;
	*total = *head + LFS_JOURNAL_MAC_LEN + bulk_len;
	return *total <= len ? 0 : -EINVAL;
}

int lfs_journal_decode(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                       unsigned slot, const uint8_t *in, size_t len, struct lfs_journal_record *r)
{
	static const uint8_t free_slot[4];
	if (len < 4 || memcmp(in, free_slot, 4) == 0)
		return -ENOENT;
	size_t body, total;
	if (memcmp(in, rec_magic, 4) != 0 || record_len(in, len, &body, &total) < 0)
		return -EINVAL;
	/* Authenticate before trusting any field beyond the lengths. */
	uint8_t mac[32];
	compute_mac(key, uuid, slot, in, body, mac);
	int ok = sodium_memcmp(mac, in + body, sizeof(mac)) == 0;
	sodium_memzero(mac, sizeof(mac));
	if (!ok)
		return -EBADMSG;
	/* Authentic, so written by lethefs; still check it as strictly as if
	 * it were not, so that a bug cannot turn into a wild recovery. */
	struct lfs_journal_target *t = &r->target;
	memset(t, 0, sizeof(*t));
	r->kind = in[5];
	t->handle_len = get_le32(in + 36);
	t->path_len = get_le32(in + 168);
	r->payload_len = get_le32(in + 172);
	r->bulk_len = get_le32(in + 176);
	r->bulk = r->bulk_len ? in + body + LFS_JOURNAL_MAC_LEN : NULL;
	if (in[4] != REC_VERSION || r->kind == 0 || r->kind > LFS_JK_MAX || get_le16(in + 6) != 0 ||
	    get_le32(in + 180) != 0 || t->handle_len > LFS_JOURNAL_HANDLE_MAX ||
	    !sodium_is_zero(in + 40 + t->handle_len, LFS_JOURNAL_HANDLE_MAX - t->handle_len))
		return -EINVAL;
	r->seq = get_le64(in + 8);
	t->dev = get_le64(in + 16);
	t->ino = get_le64(in + 24);
	t->handle_type = (int32_t)get_le32(in + 32);
	memcpy(t->handle, in + 40, t->handle_len);
	memcpy(t->path, in + LFS_JOURNAL_REC_FIXED, t->path_len);
	t->path[t->path_len] = '\0';
	if (!lfs_journal_path_ok(t->path, t->path_len))
		return -EINVAL;
	memcpy(r->payload, in + LFS_JOURNAL_REC_FIXED + t->path_len, r->payload_len);
	return 0;
}
