/* SPDX-License-Identifier: Apache-2.0 */
#include "keyring.h"
#include "kdf.h"
#include "../common/bytes.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

static const uint8_t keyring_magic[8] = {'L', 'E', 'T', 'H', 'E', 'K', 'R', '1'};
#define KEYRING_VERSION 1
#define BODY_FIXED      8

void lfs_keyring_init(struct lfs_keyring *kr, const uint8_t uuid[LFS_UUID_LEN],
                      enum lfs_cipher_id cipher)
{
	memset(kr, 0, sizeof(*kr));
	pthread_rwlock_init(&kr->lock, NULL);
	memcpy(kr->uuid, uuid, LFS_UUID_LEN);
	kr->cipher = cipher;
}

void lfs_keyring_destroy(struct lfs_keyring *kr)
{
	lfs_keyring_lock(kr);
	pthread_rwlock_destroy(&kr->lock);
}

static void derive_epoch(struct lfs_epoch_keys *e)
{
	lfs_kdf_derive(e->content, e->data_key, 1, LFS_KDF_CTX_CONTENT);
	lfs_kdf_derive(e->hdr_mac, e->data_key, 1, LFS_KDF_CTX_HDRMAC);
	lfs_kdf_derive(e->name_mac, e->data_key, 1, LFS_KDF_CTX_NAMEMAC);
	lfs_kdf_derive(e->name_enc, e->data_key, 1, LFS_KDF_CTX_NAMEENC);
	lfs_kdf_derive(e->link, e->data_key, 1, LFS_KDF_CTX_LINK);
	lfs_kdf_derive(e->xattr_name_mac, e->data_key, 1, LFS_KDF_CTX_XATTR);
	lfs_kdf_derive(e->xattr_name_enc, e->data_key, 2, LFS_KDF_CTX_XATTR);
	lfs_kdf_derive(e->xattr_value, e->data_key, 3, LFS_KDF_CTX_XATTR);
	lfs_kdf_derive(e->inode, e->data_key, 1, LFS_KDF_CTX_INODE);
	lfs_kdf_derive(e->iattr, e->data_key, 1, LFS_KDF_CTX_IATTR);
}

/* Keys derived from the master key that the process uses often enough to
 * keep (the others are derived where they are used). */
static void derive_master_keys(struct lfs_keyring_secrets *sec)
{
	lfs_kdf_derive(sec->journal_key, sec->master, 1, LFS_KDF_CTX_JOURNAL);
}

static int alloc_secrets(struct lfs_keyring *kr)
{
	kr->sec = sodium_malloc(sizeof(*kr->sec));
	if (!kr->sec)
		return -ENOMEM;
	memset(kr->sec, 0, sizeof(*kr->sec));
	return 0;
}

int lfs_keyring_generate(struct lfs_keyring *kr, int format)
{
	if (format != 1 && format != 2)
		return -EINVAL;
	pthread_rwlock_wrlock(&kr->lock);
	int r = kr->sec ? -EBUSY : alloc_secrets(kr);
	if (r == 0) {
		randombytes_buf(kr->sec->master, LFS_MASTER_KEY_LEN);
		derive_master_keys(kr->sec);
		struct lfs_epoch_keys *e = &kr->sec->epochs[0];
		e->epoch = 1;
		e->flags = format == 2 ? LFS_EPOCH_FORMAT2 : 0;
		randombytes_buf(e->data_key, sizeof(e->data_key));
		derive_epoch(e);
		kr->nepochs = 1;
		kr->current_epoch = 1;
		kr->unlocked = true;
		kr->generation++;
	}
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

static void encode_header(const struct lfs_keyring *kr, unsigned nepochs, uint8_t *h)
{
	memset(h, 0, LFS_KEYRING_HDR_LEN);
	memcpy(h, keyring_magic, 8);
	put_le16(h + 8, KEYRING_VERSION);
	put_le32(h + 12, nepochs);
	memcpy(h + 16, kr->uuid, LFS_UUID_LEN);
}

int lfs_keyring_peek(const uint8_t *file, size_t len, uint8_t uuid[LFS_UUID_LEN], unsigned *nepochs)
{
	if (len < LFS_KEYRING_HDR_LEN + 24 + BODY_FIXED + 16 || len > LFS_KEYRING_MAX_FILE_LEN)
		return -EINVAL;
	if (memcmp(file, keyring_magic, 8) != 0 || get_le16(file + 8) != KEYRING_VERSION ||
	    get_le16(file + 10) != 0)
		return -EINVAL;
	uint32_t n = get_le32(file + 12);
	if (n == 0 || n > LFS_KEYRING_MAX_ENTRIES)
		return -EINVAL;
	if (len != LFS_KEYRING_HDR_LEN + 24 + BODY_FIXED + (size_t)n * LFS_KEYRING_ENTRY_LEN + 16)
		return -EINVAL;
	memcpy(uuid, file + 16, LFS_UUID_LEN);
	*nepochs = n;
	return 0;
}

/* Entries are data epochs (id != 0) and at most one audit key entry
 * (id 0). At least one data epoch, the current one, must be present. */
static int decode_body(struct lfs_keyring *kr, const uint8_t *body, unsigned n)
{
	if (body[0] != (uint8_t)kr->cipher || !sodium_is_zero(body + 1, 3))
		return -EKEYREJECTED; /* config's cipher differs from the sealed one */
	uint32_t current = get_le32(body + 4);
	int have_current = 0;
	unsigned ne = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = body + BODY_FIXED + (size_t)i * LFS_KEYRING_ENTRY_LEN;
		uint32_t id = get_le32(p), flags = get_le32(p + 4);
		/* Ids with the top bit set name staging keys, never epochs. */
		if (lfs_epoch_is_staging(id) || (flags & ~LFS_EPOCH_FLAGS) != 0 ||
		    (id == 0 && flags != 0))
			return -EINVAL;
		if (id == 0) {
			if (kr->sec->has_audit_key)
				return -EINVAL;
			kr->sec->has_audit_key = true;
			memcpy(kr->sec->audit_key, p + 8, 32);
			continue;
		}
		if (ne >= LFS_MAX_EPOCHS)
			return -EINVAL;
		struct lfs_epoch_keys *e = &kr->sec->epochs[ne];
		e->epoch = id;
		e->flags = flags;
		for (unsigned j = 0; j < ne; j++)
			if (kr->sec->epochs[j].epoch == e->epoch)
				return -EINVAL;
		have_current |= e->epoch == current;
		memcpy(e->data_key, p + 8, 32);
		derive_epoch(e);
		ne++;
	}
	if (!have_current)
		return -EINVAL;
	kr->nepochs = ne;
	kr->current_epoch = current;
	return 0;
}

int lfs_keyring_unlock(struct lfs_keyring *kr, const uint8_t master[LFS_MASTER_KEY_LEN],
                       const uint8_t *file, size_t len)
{
	uint8_t uuid[LFS_UUID_LEN];
	unsigned n;
	int r = lfs_keyring_peek(file, len, uuid, &n);
	if (r < 0)
		return r;
	if (sodium_memcmp(uuid, kr->uuid, LFS_UUID_LEN) != 0)
		return -EKEYREJECTED;

	size_t body_len = BODY_FIXED + (size_t)n * LFS_KEYRING_ENTRY_LEN;
	uint8_t *body = sodium_malloc(body_len);
	uint8_t wrap[32];
	if (!body)
		return -ENOMEM;
	lfs_kdf_derive(wrap, master, 1, LFS_KDF_CTX_KEYRING);
	r = crypto_aead_xchacha20poly1305_ietf_decrypt(
	    body, NULL, NULL, file + LFS_KEYRING_HDR_LEN + 24, body_len + 16, file,
	    LFS_KEYRING_HDR_LEN, file + LFS_KEYRING_HDR_LEN, wrap);
	sodium_memzero(wrap, sizeof(wrap));
	if (r != 0) {
		sodium_free(body);
		return -EKEYREJECTED;
	}

	pthread_rwlock_wrlock(&kr->lock);
	if (kr->sec) {
		r = -EBUSY;
	} else if ((r = alloc_secrets(kr)) == 0) {
		memcpy(kr->sec->master, master, LFS_MASTER_KEY_LEN);
		derive_master_keys(kr->sec);
		r = decode_body(kr, body, n);
		if (r == 0) {
			kr->unlocked = true;
			kr->generation++;
		} else {
			sodium_free(kr->sec);
			kr->sec = NULL;
		}
	}
	pthread_rwlock_unlock(&kr->lock);
	sodium_free(body); /* sodium_free wipes */
	return r;
}

int lfs_keyring_seal(struct lfs_keyring *kr, uint8_t *out, size_t *len)
{
	pthread_rwlock_rdlock(&kr->lock);
	if (!kr->sec) {
		pthread_rwlock_unlock(&kr->lock);
		return -EACCES;
	}
	unsigned n = kr->nepochs + (kr->sec->has_audit_key ? 1 : 0);
	size_t body_len = BODY_FIXED + (size_t)n * LFS_KEYRING_ENTRY_LEN;
	uint8_t *body = sodium_malloc(body_len);
	if (!body) {
		pthread_rwlock_unlock(&kr->lock);
		return -ENOMEM;
	}
	memset(body, 0, body_len);
	body[0] = (uint8_t)kr->cipher;
	put_le32(body + 4, kr->current_epoch);
	for (unsigned i = 0; i < kr->nepochs; i++) {
		uint8_t *p = body + BODY_FIXED + (size_t)i * LFS_KEYRING_ENTRY_LEN;
		put_le32(p, kr->sec->epochs[i].epoch);
		put_le32(p + 4, kr->sec->epochs[i].flags);
		memcpy(p + 8, kr->sec->epochs[i].data_key, 32);
	}
	if (kr->sec->has_audit_key) /* last: entry id 0, the audit key */
		memcpy(body + BODY_FIXED + (size_t)kr->nepochs * LFS_KEYRING_ENTRY_LEN + 8,
		       kr->sec->audit_key, 32);
	uint8_t wrap[32];
	lfs_kdf_derive(wrap, kr->sec->master, 1, LFS_KDF_CTX_KEYRING);
	encode_header(kr, n, out);
	randombytes_buf(out + LFS_KEYRING_HDR_LEN, 24);
	int sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(
	    out + LFS_KEYRING_HDR_LEN + 24, NULL, body, body_len, out, LFS_KEYRING_HDR_LEN, NULL,
	    out + LFS_KEYRING_HDR_LEN, wrap);
	sodium_memzero(wrap, sizeof(wrap));
	sodium_free(body);
	if (sealed != 0) {
		pthread_rwlock_unlock(&kr->lock);
		return -EIO;
	}
	*len = LFS_KEYRING_HDR_LEN + 24 + body_len + 16;
	pthread_rwlock_unlock(&kr->lock);
	return 0;
}

void lfs_keyring_lock(struct lfs_keyring *kr)
{
	pthread_rwlock_wrlock(&kr->lock);
	if (kr->sec) {
		sodium_free(kr->sec); /* wipes before unmapping */
		kr->sec = NULL;
	}
	kr->unlocked = false;
	kr->nepochs = 0;
	kr->nstaging = 0;
	kr->generation++;
	pthread_rwlock_unlock(&kr->lock);
}

/* Read holds of any keyring by this thread: a refresh (which takes the
 * write lock) must not run under one of them. */
static __thread unsigned held_by_thread;

static int find_keys(struct lfs_keyring *kr, uint32_t epoch, const struct lfs_epoch_keys **out)
{
	if (!kr->sec)
		return -EACCES;
	if (epoch == 0)
		epoch = kr->current_epoch;
	if (lfs_epoch_is_staging(epoch)) {
		for (unsigned i = 0; i < kr->nstaging; i++) {
			if (kr->sec->staging[i].epoch == epoch) {
				*out = &kr->sec->staging[i];
				return 0;
			}
		}
		return -EIO;
	}
	for (unsigned i = 0; i < kr->nepochs; i++) {
		if (kr->sec->epochs[i].epoch == epoch) {
			*out = &kr->sec->epochs[i];
			return 0;
		}
	}
	return -ENOENT; /* a data epoch the ring does not know (-EIO to callers) */
}

int lfs_keyring_get(struct lfs_keyring *kr, uint32_t epoch, const struct lfs_epoch_keys **out)
{
	for (int attempt = 0;; attempt++) {
		pthread_rwlock_rdlock(&kr->lock);
		int r = find_keys(kr, epoch, out);
		if (r == 0) {
			held_by_thread++;
			return 0;
		}
		pthread_rwlock_unlock(&kr->lock);
		if (r != -ENOENT)
			return r;
		/* Another host may have rotated: read the file again, once. */
		if (attempt > 0 || !kr->refresh || held_by_thread > 0 ||
		    kr->refresh(kr->refresh_arg) <= 0)
			return -EIO;
	}
}

void lfs_keyring_put(struct lfs_keyring *kr)
{
	if (held_by_thread > 0)
		held_by_thread--;
	pthread_rwlock_unlock(&kr->lock);
}

int lfs_keyring_refresh(struct lfs_keyring *kr)
{
	if (!kr->refresh || held_by_thread > 0)
		return 0;
	return kr->refresh(kr->refresh_arg);
}

int lfs_keyring_copy_master(struct lfs_keyring *kr, uint8_t out[LFS_MASTER_KEY_LEN])
{
	pthread_rwlock_rdlock(&kr->lock);
	int r = kr->sec ? 0 : -EACCES;
	if (r == 0)
		memcpy(out, kr->sec->master, LFS_MASTER_KEY_LEN);
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

int lfs_keyring_take(struct lfs_keyring *dst, struct lfs_keyring *src)
{
	if (memcmp(dst->uuid, src->uuid, LFS_UUID_LEN) != 0 || dst->cipher != src->cipher)
		return -EINVAL;
	pthread_rwlock_wrlock(&src->lock);
	pthread_rwlock_wrlock(&dst->lock);
	struct lfs_keyring_secrets *old = dst->sec;
	dst->sec = src->sec;
	dst->unlocked = src->unlocked;
	dst->nepochs = src->nepochs;
	dst->current_epoch = src->current_epoch;
	dst->nstaging = src->nstaging;
	dst->generation++;
	src->sec = NULL;
	src->unlocked = false;
	src->nepochs = 0;
	src->nstaging = 0;
	pthread_rwlock_unlock(&dst->lock);
	pthread_rwlock_unlock(&src->lock);
	if (old)
		sodium_free(old);
	return 0;
}

bool lfs_keyring_is_unlocked(struct lfs_keyring *kr)
{
	pthread_rwlock_rdlock(&kr->lock);
	bool r = kr->sec != NULL;
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

int lfs_keyring_add_epoch(struct lfs_keyring *kr, uint32_t *epoch)
{
	pthread_rwlock_wrlock(&kr->lock);
	int r = 0;
	if (!kr->sec)
		r = -EACCES;
	else if (kr->nepochs >= LFS_MAX_EPOCHS)
		r = -ENOSPC;
	uint32_t top = 0;
	for (unsigned i = 0; r == 0 && i < kr->nepochs; i++) {
		uint32_t e = kr->sec->epochs[i].epoch;
		if (!lfs_epoch_is_staging(e) && e > top)
			top = e;
	}
	if (r == 0 && top + 1 >= LFS_STAGING_ID_BIT)
		r = -ENOSPC;
	if (r == 0) {
		struct lfs_epoch_keys *e = &kr->sec->epochs[kr->nepochs];
		memset(e, 0, sizeof(*e));
		e->epoch = top + 1;
		e->flags = LFS_EPOCH_FORMAT2;
		randombytes_buf(e->data_key, sizeof(e->data_key));
		derive_epoch(e);
		kr->nepochs++;
		kr->current_epoch = e->epoch;
		*epoch = e->epoch;
	}
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

static int find_epoch(const struct lfs_keyring *kr, uint32_t epoch)
{
	for (unsigned i = 0; i < kr->nepochs; i++)
		if (kr->sec->epochs[i].epoch == epoch)
			return (int)i;
	return -1;
}

int lfs_keyring_set_current(struct lfs_keyring *kr, uint32_t epoch)
{
	pthread_rwlock_wrlock(&kr->lock);
	int r = !kr->sec ? -EACCES : find_epoch(kr, epoch) < 0 ? -ENOENT : 0;
	if (r == 0)
		kr->current_epoch = epoch;
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

int lfs_keyring_drop_epoch(struct lfs_keyring *kr, uint32_t epoch)
{
	pthread_rwlock_wrlock(&kr->lock);
	int r = 0, i = -1;
	if (!kr->sec)
		r = -EACCES;
	else if (epoch == kr->current_epoch)
		r = -EBUSY;
	else if ((i = find_epoch(kr, epoch)) < 0)
		r = -ENOENT;
	if (r == 0) {
		/* Keep the array dense: the last entry moves into the hole,
		 * then its old place is wiped. Pointers handed out by get are
		 * not live here (we hold the write lock). */
		unsigned last = kr->nepochs - 1;
		if ((unsigned)i != last)
			memcpy(&kr->sec->epochs[i], &kr->sec->epochs[last],
			       sizeof(kr->sec->epochs[i]));
		sodium_memzero(&kr->sec->epochs[last], sizeof(kr->sec->epochs[last]));
		kr->nepochs--;
	}
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

int lfs_keyring_epochs(struct lfs_keyring *kr, uint32_t *out, unsigned max, uint32_t *current)
{
	pthread_rwlock_rdlock(&kr->lock);
	int n = 0;
	if (!kr->sec) {
		pthread_rwlock_unlock(&kr->lock);
		return -EACCES;
	}
	for (unsigned i = 0; i < kr->nepochs && (unsigned)n < max; i++)
		if (!lfs_epoch_is_staging(kr->sec->epochs[i].epoch))
			out[n++] = kr->sec->epochs[i].epoch;
	if (current)
		*current = kr->current_epoch;
	pthread_rwlock_unlock(&kr->lock);
	return n;
}

int lfs_keyring_set_master(struct lfs_keyring *kr, const uint8_t master[LFS_MASTER_KEY_LEN])
{
	pthread_rwlock_wrlock(&kr->lock);
	int r = kr->sec ? 0 : -EACCES;
	if (r == 0) {
		memcpy(kr->sec->master, master, LFS_MASTER_KEY_LEN);
		derive_master_keys(kr->sec);
	}
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

int lfs_keyring_add_staging(struct lfs_keyring *kr, uint32_t id, const uint8_t key[32],
                            uint32_t flags)
{
	if (!lfs_epoch_is_staging(id) || (flags & ~LFS_EPOCH_FLAGS) != 0)
		return -EINVAL;
	pthread_rwlock_wrlock(&kr->lock);
	int r = 0;
	if (!kr->sec) {
		r = -EACCES;
	} else {
		struct lfs_epoch_keys *e = NULL;
		for (unsigned i = 0; i < kr->nstaging && !e; i++)
			if (kr->sec->staging[i].epoch == id)
				e = &kr->sec->staging[i];
		if (!e && kr->nstaging < LFS_MAX_STAGING)
			e = &kr->sec->staging[kr->nstaging++];
		if (!e) {
			r = -ENOSPC;
		} else {
			e->epoch = id;
			e->flags = flags;
			memcpy(e->data_key, key, 32);
			derive_epoch(e);
		}
	}
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

void lfs_keyring_drop_staging(struct lfs_keyring *kr, uint32_t id)
{
	pthread_rwlock_wrlock(&kr->lock);
	for (unsigned i = 0; kr->sec && i < kr->nstaging; i++) {
		if (kr->sec->staging[i].epoch != id)
			continue;
		/* The last entry takes the freed place; the old last is wiped. */
		unsigned last = kr->nstaging - 1;
		if (i != last)
			kr->sec->staging[i] = kr->sec->staging[last];
		sodium_memzero(&kr->sec->staging[last], sizeof(kr->sec->staging[last]));
		kr->nstaging--;
		break;
	}
	pthread_rwlock_unlock(&kr->lock);
}

int lfs_keyring_format(struct lfs_keyring *kr)
{
	pthread_rwlock_rdlock(&kr->lock);
	int r = kr->sec ? 1 : -EACCES;
	for (unsigned i = 0; r > 0 && i < kr->nepochs; i++)
		if (kr->sec->epochs[i].epoch == kr->current_epoch &&
		    (kr->sec->epochs[i].flags & LFS_EPOCH_FORMAT2))
			r = 2;
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

int lfs_keyring_format1_epoch(struct lfs_keyring *kr, uint32_t *epoch)
{
	pthread_rwlock_rdlock(&kr->lock);
	int r = kr->sec ? -ENOENT : -EACCES;
	for (unsigned i = 0; kr->sec && i < kr->nepochs; i++) {
		const struct lfs_epoch_keys *k = &kr->sec->epochs[i];
		if (!(k->flags & LFS_EPOCH_FORMAT2) && (r < 0 || k->epoch > *epoch)) {
			*epoch = k->epoch;
			r = 0;
		}
	}
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

bool lfs_keyring_has_format1(struct lfs_keyring *kr)
{
	uint32_t epoch;
	return lfs_keyring_format1_epoch(kr, &epoch) == 0;
}

int lfs_keyring_set_format2(struct lfs_keyring *kr)
{
	pthread_rwlock_wrlock(&kr->lock);
	int r = kr->sec ? 0 : -EACCES;
	for (unsigned i = 0; r == 0 && i < kr->nepochs; i++)
		kr->sec->epochs[i].flags |= LFS_EPOCH_FORMAT2;
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

bool lfs_keyring_has(struct lfs_keyring *kr, uint32_t epoch)
{
	const struct lfs_epoch_keys *k;
	if (lfs_keyring_get(kr, epoch, &k) < 0)
		return false;
	lfs_keyring_put(kr);
	return true;
}

int lfs_keyring_copy_audit_key(struct lfs_keyring *kr, uint8_t out[32])
{
	pthread_rwlock_rdlock(&kr->lock);
	int r = !kr->sec ? -EACCES : !kr->sec->has_audit_key ? -ENOENT : 0;
	if (r == 0)
		memcpy(out, kr->sec->audit_key, 32);
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

int lfs_keyring_set_audit_key(struct lfs_keyring *kr, const uint8_t key[32])
{
	pthread_rwlock_wrlock(&kr->lock);
	int r = kr->sec ? 0 : -EACCES;
	if (r == 0) {
		memcpy(kr->sec->audit_key, key, 32);
		kr->sec->has_audit_key = true;
	}
	pthread_rwlock_unlock(&kr->lock);
	return r;
}

const uint8_t *lfs_keyring_journal_key(struct lfs_keyring *kr)
{
	return kr->sec ? kr->sec->journal_key : NULL;
}

int lfs_keyring_copy_journal_key(struct lfs_keyring *kr, uint8_t out[32])
{
	pthread_rwlock_rdlock(&kr->lock);
	int r = kr->sec ? 0 : -EACCES;
	if (r == 0)
		memcpy(out, kr->sec->journal_key, 32);
	pthread_rwlock_unlock(&kr->lock);
	return r;
}
