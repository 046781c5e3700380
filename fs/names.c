/* SPDX-License-Identifier: Apache-2.0 */
#include "names.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

static const uint8_t name_label[8] = {'l', 'f', 's', 'n', 'a', 'm', 'e', '1'};

static void name_tag(const uint8_t mac_key[32], const uint8_t dirid[LFS_DIRID_LEN],
                     const char *name, size_t len, uint8_t tag[LFS_NAME_TAG_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, mac_key, 32, LFS_NAME_TAG_LEN);
	crypto_generichash_update(&st, name_label, sizeof(name_label));
	crypto_generichash_update(&st, dirid, LFS_DIRID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)name, len);
	crypto_generichash_final(&st, tag, LFS_NAME_TAG_LEN);
	sodium_memzero(&st, sizeof(st));
}

static void name_stream(const uint8_t enc_key[32], const uint8_t tag[LFS_NAME_TAG_LEN],
                        uint8_t *out, const uint8_t *in, size_t len)
{
	uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES] = {0};
	memcpy(nonce, tag, LFS_NAME_TAG_LEN);
	crypto_stream_xchacha20_xor(out, in, len, nonce, enc_key);
}

/* The plaintext names of stored attributes outside user.*: a NUL, then
 * the full attribute name. No user.* name contains a NUL, so the two
 * never meet (FORMAT.md 9.3). */
static const char *const reserved_xattr[] = {"system.posix_acl_access", "system.posix_acl_default"};

bool lfs_xattr_name_reserved(const char *name, size_t len, const char **full)
{
	if (len < 2 || name[0] != '\0')
		return false;
	for (size_t i = 0; i < sizeof(reserved_xattr) / sizeof(reserved_xattr[0]); i++)
		if (len - 1 == strlen(reserved_xattr[i]) &&
		    !memcmp(name + 1, reserved_xattr[i], len - 1)) {
			if (full)
				*full = reserved_xattr[i];
			return true;
		}
	return false;
}

static bool xattr_name_valid(const char *name, size_t len)
{
	return len > 0 && len <= LFS_XATTR_NAME_MAX &&
	       (memchr(name, '\0', len) == NULL || lfs_xattr_name_reserved(name, len, NULL));
}

static bool name_valid(const char *name, size_t len)
{
	if (len == 0 || len > LFS_NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

typedef bool (*name_check_fn)(const char *name, size_t len);

static int siv_encrypt(const uint8_t mac_key[32], const uint8_t enc_key[32],
                       const uint8_t dirid[LFS_DIRID_LEN], const char *name, size_t len, char *enc,
                       name_check_fn valid)
{
	if (len > LFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!valid(name, len))
		return -EINVAL;
	uint8_t raw[LFS_NAME_TAG_LEN + LFS_NAME_MAX];
	name_tag(mac_key, dirid, name, len, raw);
	name_stream(enc_key, raw, raw + LFS_NAME_TAG_LEN, (const uint8_t *)name, len);
	sodium_bin2base64(enc, LFS_ENCNAME_MAX, raw, LFS_NAME_TAG_LEN + len, B64);
	return 0;
}

/* Strict base64url alphabet. libsodium 1.0.18's decoder compares
 * characters as signed values, so some bytes >= 0x80 decode as if they
 * were '-' or '_': two backing names would then decrypt to one plaintext
 * name. Anything outside the alphabet is refused before decoding. */
static bool b64url_only(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int siv_decrypt(const uint8_t mac_key[32], const uint8_t enc_key[32],
                       const uint8_t dirid[LFS_DIRID_LEN], const char *enc, size_t enc_len,
                       char *out, size_t *out_len, name_check_fn valid)
{
	uint8_t raw[LFS_NAME_TAG_LEN + LFS_NAME_MAX];
	size_t raw_len;
	if (enc_len >= LFS_ENCNAME_MAX)
		return -EINVAL;
	if (!b64url_only(enc, enc_len) ||
	    sodium_base642bin(raw, sizeof(raw), enc, enc_len, NULL, &raw_len, NULL, B64) != 0)
		return -EINVAL;
	if (raw_len <= LFS_NAME_TAG_LEN)
		return -EINVAL;
	size_t len = raw_len - LFS_NAME_TAG_LEN;
	uint8_t tag[LFS_NAME_TAG_LEN];
	name_stream(enc_key, raw, (uint8_t *)out, raw + LFS_NAME_TAG_LEN, len);
	name_tag(mac_key, dirid, out, len, tag);
	if (crypto_verify_16(tag, raw) != 0 || !valid(out, len)) {
		sodium_memzero(out, len);
		return -EBADMSG;
	}
	out[len] = '\0';
	*out_len = len;
	return 0;
}

int lfs_name_encrypt(const uint8_t mac_key[32], const uint8_t enc_key[32],
                     const uint8_t dirid[LFS_DIRID_LEN], const char *name, size_t len, char *enc)
{
	return siv_encrypt(mac_key, enc_key, dirid, name, len, enc, name_valid);
}

int lfs_name_decrypt(const uint8_t mac_key[32], const uint8_t enc_key[32],
                     const uint8_t dirid[LFS_DIRID_LEN], const char *enc, size_t enc_len, char *out,
                     size_t *out_len)
{
	return siv_decrypt(mac_key, enc_key, dirid, enc, enc_len, out, out_len, name_valid);
}

/* xattr names are not bound to a directory: a fixed all-zero id stands in. */
static const uint8_t xattr_dirid[LFS_DIRID_LEN];

int lfs_xattr_name_encrypt(const uint8_t mac_key[32], const uint8_t enc_key[32], const char *name,
                           size_t len, char *enc)
{
	return siv_encrypt(mac_key, enc_key, xattr_dirid, name, len, enc, xattr_name_valid);
}

int lfs_xattr_name_decrypt(const uint8_t mac_key[32], const uint8_t enc_key[32], const char *enc,
                           size_t enc_len, char *out, size_t *out_len)
{
	return siv_decrypt(mac_key, enc_key, xattr_dirid, enc, enc_len, out, out_len,
	                   xattr_name_valid);
}

static void long_hash(const char *enc, size_t len, char *out_b64)
{
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), (const uint8_t *)enc, len, NULL, 0);
	sodium_bin2base64(out_b64, 64, h, sizeof(h), B64);
}

bool lfs_backing_name(const char *enc, char *out, char *sidecar)
{
	size_t len = strlen(enc);
	if (len <= LFS_BACKING_NAME_MAX) {
		memcpy(out, enc, len + 1);
		return false;
	}
	char h[64];
	long_hash(enc, len, h);
	strcpy(out, LFS_LONG_PREFIX);
	strcat(out, h);
	strcpy(sidecar, LFS_SIDECAR_PREFIX);
	strcat(sidecar, h);
	return true;
}

enum lfs_entry_kind lfs_classify_entry(const char *name)
{
	if (name[0] != '.') {
		for (const char *p = name; *p; p++)
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
				return LFS_ENTRY_INVALID;
		return LFS_ENTRY_NAME;
	}
	size_t len = strlen(name);
	if (strncmp(name, LFS_LONG_PREFIX, 2) == 0 && len == 2 + 43)
		return LFS_ENTRY_LONG;
	if ((strncmp(name, LFS_SIDECAR_PREFIX, 2) == 0 && len == 2 + 43) ||
	    strcmp(name, LFS_DIRMETA_NAME) == 0 || strncmp(name, ".lethefs.link.", 14) == 0 ||
	    strncmp(name, LFS_TMP_PREFIX, strlen(LFS_TMP_PREFIX)) == 0)
		return LFS_ENTRY_META;
	/* A dot-file lethefs did not write: never hidden as ours, never
	 * deleted by rmdir. */
	return LFS_ENTRY_INVALID;
}

int lfs_name_plain_len(size_t enc_len)
{
	/* base64url without padding: 4 characters per 3 bytes, a last group
	 * of 2 or 3 characters for 1 or 2 bytes (1 is no encoding). */
	if (enc_len % 4 == 1 || enc_len >= LFS_ENCNAME_MAX)
		return -1;
	size_t raw = enc_len / 4 * 3 + (enc_len % 4 ? enc_len % 4 - 1 : 0);
	if (raw <= LFS_NAME_TAG_LEN || raw - LFS_NAME_TAG_LEN > LFS_NAME_MAX)
		return -1;
	return (int)(raw - LFS_NAME_TAG_LEN);
}

void lfs_sidecar_for_long(const char *long_name, char *sidecar)
{
	strcpy(sidecar, LFS_SIDECAR_PREFIX);
	strcat(sidecar, long_name + 2);
}

bool lfs_long_name_matches(const char *long_name, const char *enc, size_t enc_len)
{
	char h[64];
	long_hash(enc, enc_len, h);
	return strlen(long_name) == 2 + strlen(h) && strcmp(long_name + 2, h) == 0;
}

size_t lfs_link_encoded_len(size_t plain_len)
{
	return sodium_base64_ENCODED_LEN(plain_len + LFS_LINK_OVERHEAD, B64) - 1;
}

size_t lfs_link_plain_len(size_t enc_len)
{
	/* Inverse of unpadded base64: 4 chars carry 3 bytes. */
	size_t raw = enc_len / 4 * 3 + (enc_len % 4 ? enc_len % 4 - 1 : 0);
	return raw > LFS_LINK_OVERHEAD ? raw - LFS_LINK_OVERHEAD : 0;
}

static const uint8_t link_ad[] = "lethefs symlink v1";

int lfs_link_encrypt(const uint8_t key[32], const char *target, size_t len, char *enc)
{
	size_t raw_len = len + LFS_LINK_OVERHEAD;
	uint8_t *raw = sodium_malloc(raw_len);
	if (!raw)
		return -ENOMEM;
	randombytes_buf(raw, 24);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(raw + 24, NULL, (const uint8_t *)target, len,
	                                               link_ad, sizeof(link_ad), NULL, raw,
	                                               key) != 0) {
		sodium_free(raw);
		return -EIO;
	}
	sodium_bin2base64(enc, lfs_link_encoded_len(len) + 1, raw, raw_len, B64);
	sodium_free(raw);
	return 0;
}

int lfs_link_decrypt(const uint8_t key[32], const char *enc, size_t enc_len, char *out)
{
	size_t raw_len;
	uint8_t *raw = sodium_malloc(enc_len + 1);
	if (!raw)
		return -ENOMEM;
	int r = -EBADMSG;
	if (b64url_only(enc, enc_len) &&
	    sodium_base642bin(raw, enc_len + 1, enc, enc_len, NULL, &raw_len, NULL, B64) == 0 &&
	    raw_len > LFS_LINK_OVERHEAD &&
	    crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)out, NULL, NULL, raw + 24,
	                                               raw_len - 24, link_ad, sizeof(link_ad), raw,
	                                               key) == 0)
		r = (int)(raw_len - LFS_LINK_OVERHEAD);
	sodium_free(raw);
	return r;
}

int lfs_xattr_value_seal(const uint8_t key[32], const char *backing_name, const void *value,
                         size_t len, uint8_t *out)
{
	randombytes_buf(out, 24);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, NULL, value, len,
	                                               (const uint8_t *)backing_name,
	                                               strlen(backing_name), NULL, out, key) != 0) {
		sodium_memzero(out, len + LFS_XATTR_VALUE_OVERHEAD);
		return -EIO;
	}
	return 0;
}

int lfs_xattr_value_open(const uint8_t key[32], const char *backing_name, const uint8_t *in,
                         size_t in_len, void *out)
{
	if (in_len < LFS_XATTR_VALUE_OVERHEAD)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, in + 24, in_len - 24,
	                                               (const uint8_t *)backing_name,
	                                               strlen(backing_name), in, key) != 0)
		return -EBADMSG;
	return (int)(in_len - LFS_XATTR_VALUE_OVERHEAD);
}
