/* SPDX-License-Identifier: Apache-2.0 */
#include "keyslots.h"
#include "kdf_bounds.h"
#include "../common/bytes.h"
#include "../common/log.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

static const uint8_t keyslots_magic[8] = {'L', 'E', 'T', 'H', 'E', 'K', 'S', '1'};
#define KEYSLOTS_VERSION 1
/* Bytes of a slot covered as associated data: type, alg, reserved,
 * opslimit, memlimit, salt. */
#define SLOT_AD_SPAN 40

static void encode_header(const struct lfs_keyslots *ks, uint8_t *h)
{
	memset(h, 0, LFS_KEYSLOTS_HDR_LEN);
	memcpy(h, keyslots_magic, 8);
	put_le16(h + 8, KEYSLOTS_VERSION);
	put_le16(h + 10, LFS_NSLOTS);
	memcpy(h + 16, ks->uuid, LFS_UUID_LEN);
}

static void encode_slot(const struct lfs_keyslot *s, uint8_t *p)
{
	memset(p, 0, LFS_KEYSLOT_LEN);
	if (s->type == LFS_SLOT_EMPTY)
		return;
	p[0] = s->type;
	p[1] = s->kdf_alg;
	put_le64(p + 8, s->opslimit);
	put_le64(p + 16, s->memlimit);
	memcpy(p + 24, s->salt, 16);
	memcpy(p + 40, s->nonce, 24);
	memcpy(p + 64, s->wrapped, sizeof(s->wrapped));
}

void lfs_keyslots_encode(const struct lfs_keyslots *ks, uint8_t out[LFS_KEYSLOTS_FILE_LEN])
{
	encode_header(ks, out);
	for (int i = 0; i < LFS_NSLOTS; i++)
		encode_slot(&ks->slot[i], out + LFS_KEYSLOTS_HDR_LEN + (size_t)i * LFS_KEYSLOT_LEN);
}

static int all_zero(const uint8_t *p, size_t n)
{
	return sodium_is_zero(p, n);
}

static int kdf_params_valid(uint64_t ops, uint64_t mem)
{
	return ops >= crypto_pwhash_OPSLIMIT_MIN && ops <= crypto_pwhash_OPSLIMIT_MAX &&
	       mem >= crypto_pwhash_MEMLIMIT_MIN && mem <= LFS_KDF_MEMLIMIT_MAX;
}

static int decode_slot(const uint8_t *p, struct lfs_keyslot *s)
{
	memset(s, 0, sizeof(*s));
	if (p[0] == LFS_SLOT_EMPTY)
		return all_zero(p, LFS_KEYSLOT_LEN) ? 0 : -EINVAL;
	if (p[0] > LFS_SLOT_EXTPASS || p[1] != LFS_KDF_ARGON2ID13)
		return -EINVAL;
	if (!all_zero(p + 2, 6) || !all_zero(p + 112, 16))
		return -EINVAL;
	s->type = p[0];
	s->kdf_alg = p[1];
	s->opslimit = get_le64(p + 8);
	s->memlimit = get_le64(p + 16);
	if (!kdf_params_valid(s->opslimit, s->memlimit))
		return -EINVAL;
	memcpy(s->salt, p + 24, 16);
	memcpy(s->nonce, p + 40, 24);
	memcpy(s->wrapped, p + 64, sizeof(s->wrapped));
	return 0;
}

int lfs_keyslots_decode(const uint8_t *buf, size_t len, struct lfs_keyslots *out)
{
	if (len != LFS_KEYSLOTS_FILE_LEN)
		return -EINVAL;
	if (memcmp(buf, keyslots_magic, 8) != 0 || get_le16(buf + 8) != KEYSLOTS_VERSION ||
	    get_le16(buf + 10) != LFS_NSLOTS || !all_zero(buf + 12, 4))
		return -EINVAL;
	memcpy(out->uuid, buf + 16, LFS_UUID_LEN);
	for (int i = 0; i < LFS_NSLOTS; i++) {
		const uint8_t *p = buf + LFS_KEYSLOTS_HDR_LEN + (size_t)i * LFS_KEYSLOT_LEN;
		if (decode_slot(p, &out->slot[i]) < 0)
			return -EINVAL;
	}
	return 0;
}

/* AD = file header (magic, version, uuid) || slot index || slot parameters:
 * a slot moved to another index, copied from another vault, or with edited
 * KDF parameters fails to open. */
static void slot_ad(const struct lfs_keyslots *ks, int idx,
                    uint8_t ad[LFS_KEYSLOTS_HDR_LEN + 2 + SLOT_AD_SPAN])
{
	uint8_t enc[LFS_KEYSLOT_LEN];
	encode_header(ks, ad);
	put_le16(ad + LFS_KEYSLOTS_HDR_LEN, (uint16_t)idx);
	encode_slot(&ks->slot[idx], enc);
	memcpy(ad + LFS_KEYSLOTS_HDR_LEN + 2, enc, SLOT_AD_SPAN);
}

static int slot_kek(const struct lfs_keyslot *s, const void *secret, size_t secret_len,
                    uint8_t kek[32])
{
	if (crypto_pwhash(kek, 32, secret, secret_len, s->salt, s->opslimit, (size_t)s->memlimit,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

int lfs_keyslot_wrap(struct lfs_keyslots *ks, int idx, enum lfs_slot_type type, const void *secret,
                     size_t secret_len, uint64_t opslimit, uint64_t memlimit,
                     const uint8_t master[LFS_MASTER_KEY_LEN])
{
	if (idx < 0 || idx >= LFS_NSLOTS || type == LFS_SLOT_EMPTY || type > LFS_SLOT_EXTPASS ||
	    !kdf_params_valid(opslimit, memlimit))
		return -EINVAL;
	/* Never write what could not be opened (kdf_bounds.h). */
	if (lfs_kdf_bounds_open((uint8_t)type, opslimit, memlimit) != LFS_KDF_OK)
		return -ERANGE;
	struct lfs_keyslot *s = &ks->slot[idx];
	memset(s, 0, sizeof(*s));
	s->type = (uint8_t)type;
	s->kdf_alg = LFS_KDF_ARGON2ID13;
	s->opslimit = opslimit;
	s->memlimit = memlimit;
	randombytes_buf(s->salt, sizeof(s->salt));
	randombytes_buf(s->nonce, sizeof(s->nonce));

	uint8_t kek[32];
	uint8_t ad[LFS_KEYSLOTS_HDR_LEN + 2 + SLOT_AD_SPAN];
	int r = slot_kek(s, secret, secret_len, kek);
	if (r < 0) {
		memset(s, 0, sizeof(*s));
		return r;
	}
	slot_ad(ks, idx, ad);
	r = crypto_aead_xchacha20poly1305_ietf_encrypt(s->wrapped, NULL, master, LFS_MASTER_KEY_LEN,
	                                               ad, sizeof(ad), NULL, s->nonce, kek);
	sodium_memzero(kek, sizeof(kek));
	if (r != 0) {
		memset(s, 0, sizeof(*s));
		return -EIO;
	}
	return 0;
}

int lfs_keyslot_unwrap(const struct lfs_keyslots *ks, int idx, const void *secret,
                       size_t secret_len, uint8_t master[LFS_MASTER_KEY_LEN])
{
	if (idx < 0 || idx >= LFS_NSLOTS)
		return -EINVAL;
	const struct lfs_keyslot *s = &ks->slot[idx];
	if (s->type == LFS_SLOT_EMPTY)
		return -ENOENT;
	/* Checked before Argon2id runs: an edited slot must cost nothing. */
	if (lfs_kdf_bounds_open(s->type, s->opslimit, s->memlimit) != LFS_KDF_OK)
		return -ERANGE;
	uint8_t kek[32];
	uint8_t ad[LFS_KEYSLOTS_HDR_LEN + 2 + SLOT_AD_SPAN];
	int r = slot_kek(s, secret, secret_len, kek);
	if (r < 0)
		return r;
	slot_ad(ks, idx, ad);
	r = crypto_aead_xchacha20poly1305_ietf_decrypt(
	    master, NULL, NULL, s->wrapped, sizeof(s->wrapped), ad, sizeof(ad), s->nonce, kek);
	sodium_memzero(kek, sizeof(kek));
	if (r != 0) {
		sodium_memzero(master, LFS_MASTER_KEY_LEN);
		return -EKEYREJECTED;
	}
	return 0;
}

int lfs_keyslots_unwrap_any(const struct lfs_keyslots *ks, const void *secret, size_t secret_len,
                            uint8_t master[LFS_MASTER_KEY_LEN], int *which)
{
	int last = -EKEYREJECTED;
	int tried = 0, skipped = 0;
	for (int i = 0; i < LFS_NSLOTS; i++) {
		const struct lfs_keyslot *s = &ks->slot[i];
		if (s->type == LFS_SLOT_EMPTY)
			continue;
		int r = lfs_keyslot_unwrap(ks, i, secret, secret_len, master);
		if (r == 0) {
			*which = i;
			return 0;
		}
		if (r == -ERANGE) {
			skipped++;
			lfs_warn("keyslot %d was not tried: its Argon2id parameters (%llu passes, "
			         "%llu KiB) are %s lethefs accepts for a %s slot; lethefs never "
			         "writes such a slot (edited?)",
			         i, (unsigned long long)s->opslimit,
			         (unsigned long long)(s->memlimit >> 10),
			         lfs_kdf_bounds_open(s->type, s->opslimit, s->memlimit) ==
			                 LFS_KDF_ABOVE_CEILING
			             ? "above what"
			             : "below what",
			         lfs_slot_type_name(s->type));
			continue;
		}
		tried++;
		if (r == -ENOMEM)
			last = r;
	}
	/* Nothing could even be tried: not a wrong secret but a vault whose
	 * slots are all out of bounds. */
	return tried == 0 && skipped > 0 ? -ERANGE : last;
}

int lfs_keyslots_count_used(const struct lfs_keyslots *ks)
{
	int n = 0;
	for (int i = 0; i < LFS_NSLOTS; i++)
		n += ks->slot[i].type != LFS_SLOT_EMPTY;
	return n;
}

const char *lfs_slot_type_name(enum lfs_slot_type t)
{
	switch (t) {
	case LFS_SLOT_EMPTY:
		return "empty";
	case LFS_SLOT_PASSPHRASE:
		return "passphrase";
	case LFS_SLOT_KEYFILE:
		return "keyfile";
	case LFS_SLOT_EXTPASS:
		return "extpass";
	}
	return "unknown";
}

/* Argon2id bounds (kdf_bounds.h), here because they depend on the slot
 * type. */
static bool above_ceiling(uint64_t ops, uint64_t mem)
{
	/* ops <= 16 and mem <= 1 GiB: the product cannot overflow. */
	return ops > LFS_KDF_CEIL_OPS || mem > LFS_KDF_CEIL_MEM || ops * mem > LFS_KDF_CEIL_WORK;
}

static enum lfs_kdf_verdict check(uint8_t type, uint64_t ops, uint64_t mem, uint64_t floor_ops,
                                  uint64_t floor_mem)
{
	if (ops < crypto_pwhash_OPSLIMIT_MIN || mem < crypto_pwhash_MEMLIMIT_MIN)
		return LFS_KDF_BELOW_FLOOR;
	if (above_ceiling(ops, mem))
		return LFS_KDF_ABOVE_CEILING;
	if (type == LFS_SLOT_PASSPHRASE && (ops < floor_ops || mem < floor_mem))
		return LFS_KDF_BELOW_FLOOR;
	return LFS_KDF_OK;
}

enum lfs_kdf_verdict lfs_kdf_bounds_open(uint8_t type, uint64_t ops, uint64_t mem)
{
	return check(type, ops, mem, LFS_KDF_OPEN_FLOOR_OPS, LFS_KDF_OPEN_FLOOR_MEM);
}

enum lfs_kdf_verdict lfs_kdf_bounds_write(uint8_t type, uint64_t ops, uint64_t mem, bool allow_weak)
{
	return allow_weak ? check(type, ops, mem, LFS_KDF_OPEN_FLOOR_OPS, LFS_KDF_OPEN_FLOOR_MEM)
	                  : check(type, ops, mem, LFS_KDF_FLOOR_OPS, LFS_KDF_FLOOR_MEM);
}
