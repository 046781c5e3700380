/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for name encryption (fs/names.c): file names (deterministic
 * SIV bound to a directory id), long-name hashing, backing entry
 * classification, symlink targets and xattr names/values. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>

#include "../../fs/names.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

struct keys {
	uint8_t mac[32], enc[32], dirid[LFS_DIRID_LEN];
};

static void keys_init(struct keys *k)
{
	test_fill(k->mac, sizeof(k->mac), 0x11);
	test_fill(k->enc, sizeof(k->enc), 0x77);
	test_fill(k->dirid, sizeof(k->dirid), 0xd0);
}

/* A valid name of len bytes (1..255): cycles through printable ASCII
 * except '/'. */
static void make_name(char *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = (char)('!' + i % 94);
		out[i] = c == '/' ? '_' : c;
	}
	out[len] = '\0';
}

static int enc_name(const struct keys *k, const char *name, size_t len, char *enc)
{
	return lfs_name_encrypt(k->mac, k->enc, k->dirid, name, len, enc);
}

static int dec_name(const struct keys *k, const char *enc, char *out, size_t *out_len)
{
	return lfs_name_decrypt(k->mac, k->enc, k->dirid, enc, strlen(enc), out, out_len);
}

static void roundtrip(const struct keys *k, const char *name, size_t len)
{
	char enc[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1];
	size_t out_len = 0;
	assert_int_equal(enc_name(k, name, len, enc), 0);
	assert_int_equal(dec_name(k, enc, out, &out_len), 0);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, name, len);
	assert_int_equal(out[len], '\0');
}

/* ---- file names ------------------------------------------------------ */

static void test_name_roundtrip(void **state)
{
	(void)state;
	struct keys k;
	char name[LFS_NAME_MAX + 1];
	keys_init(&k);
	roundtrip(&k, "a", 1);
	const char *utf8 = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac";
	roundtrip(&k, utf8, strlen(utf8));
	roundtrip(&k, "...", 3);
	roundtrip(&k, ".hidden", 7);
	for (size_t len = 1; len <= LFS_NAME_MAX; len++) {
		make_name(name, len);
		roundtrip(&k, name, len);
	}
}

/* Every byte value a name may hold (all but NUL and '/') survives. */
static void test_name_all_bytes(void **state)
{
	(void)state;
	struct keys k;
	char name[LFS_NAME_MAX];
	size_t n = 0;
	keys_init(&k);
	for (int c = 1; c < 256; c++)
		if (c != '/')
			name[n++] = (char)c;
	assert_int_equal(n, 254);
	roundtrip(&k, name, n);
}

static void test_name_deterministic(void **state)
{
	(void)state;
	struct keys k;
	char a[LFS_ENCNAME_MAX], b[LFS_ENCNAME_MAX];
	keys_init(&k);
	assert_int_equal(enc_name(&k, "report.pdf", 10, a), 0);
	assert_int_equal(enc_name(&k, "report.pdf", 10, b), 0);
	assert_string_equal(a, b);
	assert_int_equal(enc_name(&k, "report.pdf", 9, b), 0);
	assert_string_not_equal(a, b);
}

/* The encoding follows the construction documented in names.h, rebuilt
 * here from libsodium primitives. Pins the on-disk name format. */
static void test_name_matches_spec(void **state)
{
	(void)state;
	struct keys k;
	const char *name = "spec-check.txt";
	size_t len = strlen(name);
	uint8_t raw[LFS_NAME_TAG_LEN + 64], nonce[24] = {0};
	char want[LFS_ENCNAME_MAX], got[LFS_ENCNAME_MAX];
	crypto_generichash_state st;
	keys_init(&k);
	crypto_generichash_init(&st, k.mac, 32, LFS_NAME_TAG_LEN);
	crypto_generichash_update(&st, (const uint8_t *)"lfsname1", 8);
	crypto_generichash_update(&st, k.dirid, LFS_DIRID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)name, len);
	crypto_generichash_final(&st, raw, LFS_NAME_TAG_LEN);
	memcpy(nonce, raw, LFS_NAME_TAG_LEN);
	crypto_stream_xchacha20_xor(raw + LFS_NAME_TAG_LEN, (const uint8_t *)name, len, nonce,
	                            k.enc);
	sodium_bin2base64(want, sizeof(want), raw, LFS_NAME_TAG_LEN + len, B64);
	assert_int_equal(enc_name(&k, name, len, got), 0);
	assert_string_equal(got, want);
}

static void test_name_bound_to_dirid(void **state)
{
	(void)state;
	struct keys k, other;
	char a[LFS_ENCNAME_MAX], b[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1];
	size_t out_len;
	keys_init(&k);
	other = k;
	other.dirid[7] ^= 0x40;
	assert_int_equal(enc_name(&k, "notes", 5, a), 0);
	assert_int_equal(enc_name(&other, "notes", 5, b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(dec_name(&other, a, out, &out_len), -EBADMSG);
	assert_int_equal(dec_name(&k, b, out, &out_len), -EBADMSG);
}

static void test_name_wrong_keys(void **state)
{
	(void)state;
	struct keys k, bad;
	char enc[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1];
	size_t out_len;
	keys_init(&k);
	assert_int_equal(enc_name(&k, "notes", 5, enc), 0);
	bad = k;
	bad.mac[0] ^= 1;
	assert_int_equal(dec_name(&bad, enc, out, &out_len), -EBADMSG);
	bad = k;
	bad.enc[0] ^= 1;
	assert_int_equal(dec_name(&bad, enc, out, &out_len), -EBADMSG);
}

/* Replacing any one character of the encoding with another base64url
 * character is caught. The last character can also become a non-canonical
 * encoding (nonzero padding bits), which is -EINVAL instead. */
static void test_name_flipped_char(void **state)
{
	(void)state;
	struct keys k;
	char enc[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1], name[40];
	size_t out_len;
	keys_init(&k);
	make_name(name, 30);
	assert_int_equal(enc_name(&k, name, 30, enc), 0);
	size_t n = strlen(enc);
	for (size_t i = 0; i < n; i++) {
		char saved = enc[i];
		enc[i] = saved == 'A' ? 'B' : 'A';
		int r = dec_name(&k, enc, out, &out_len);
		if (i + 1 < n ? r != -EBADMSG : (r != -EBADMSG && r != -EINVAL))
			fail_msg("changed char %zu of %zu: decrypt returned %d", i, n, r);
		enc[i] = saved;
	}
	assert_int_equal(dec_name(&k, enc, out, &out_len), 0);
}

/* Every byte outside the base64url alphabet, in place of each character
 * of a valid encoding, is refused: libsodium 1.0.18 alone decodes some
 * bytes >= 0x80 as '-' or '_' (found by fuzz_names). */
static void test_name_non_alphabet_bytes(void **state)
{
	(void)state;
	struct keys k;
	char enc[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1], name[40];
	size_t out_len;
	keys_init(&k);
	make_name(name, 30);
	assert_int_equal(enc_name(&k, name, 30, enc), 0);
	size_t n = strlen(enc);
	for (size_t i = 0; i < n; i++) {
		char saved = enc[i];
		for (int b = 1; b < 256; b++) {
			if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
			    (b >= '0' && b <= '9') || b == '-' || b == '_')
				continue;
			enc[i] = (char)b;
			if (dec_name(&k, enc, out, &out_len) == 0)
				fail_msg("byte 0x%02x at %zu of %zu accepted", b, i, n);
		}
		enc[i] = saved;
	}
	assert_int_equal(dec_name(&k, enc, out, &out_len), 0);
}

static void test_name_invalid_plain(void **state)
{
	(void)state;
	struct keys k;
	char enc[LFS_ENCNAME_MAX], big[LFS_NAME_MAX + 2];
	keys_init(&k);
	assert_int_equal(enc_name(&k, ".", 1, enc), -EINVAL);
	assert_int_equal(enc_name(&k, "..", 2, enc), -EINVAL);
	assert_int_equal(enc_name(&k, "a/b", 3, enc), -EINVAL);
	assert_int_equal(enc_name(&k, "/", 1, enc), -EINVAL);
	assert_int_equal(enc_name(&k, "", 0, enc), -EINVAL);
	assert_int_equal(enc_name(&k, "a\0b", 3, enc), -EINVAL);
	make_name(big, LFS_NAME_MAX + 1);
	assert_int_equal(enc_name(&k, big, LFS_NAME_MAX + 1, enc), -ENAMETOOLONG);
}

/* Inputs that are not encodings at all. */
static void test_name_decrypt_garbage(void **state)
{
	(void)state;
	struct keys k;
	char out[LFS_NAME_MAX + 1], huge[LFS_ENCNAME_MAX + 8];
	size_t out_len;
	keys_init(&k);
	assert_int_equal(dec_name(&k, "", out, &out_len), -EINVAL);
	assert_int_equal(dec_name(&k, "not base64!", out, &out_len), -EINVAL);
	assert_int_equal(dec_name(&k, "abc=", out, &out_len), -EINVAL); /* padding */
	/* 16 bytes decode to a bare tag with no name. */
	assert_int_equal(dec_name(&k, "AAAAAAAAAAAAAAAAAAAAAA", out, &out_len), -EINVAL);
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_int_equal(dec_name(&k, huge, out, &out_len), -EINVAL);
}

/* A correctly tagged encoding of a name that could never be created
 * ("..", "a/b") is still refused: decryption enforces name validity. */
static void test_name_decrypt_rejects_invalid_plain(void **state)
{
	(void)state;
	static const char *bad[] = {"..", ".", "a/b"};
	struct keys k;
	uint8_t raw[LFS_NAME_TAG_LEN + 8], nonce[24] = {0};
	char enc[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1];
	size_t out_len;
	keys_init(&k);
	for (size_t i = 0; i < 3; i++) {
		size_t len = strlen(bad[i]);
		crypto_generichash_state st;
		crypto_generichash_init(&st, k.mac, 32, LFS_NAME_TAG_LEN);
		crypto_generichash_update(&st, (const uint8_t *)"lfsname1", 8);
		crypto_generichash_update(&st, k.dirid, LFS_DIRID_LEN);
		crypto_generichash_update(&st, (const uint8_t *)bad[i], len);
		crypto_generichash_final(&st, raw, LFS_NAME_TAG_LEN);
		memcpy(nonce, raw, LFS_NAME_TAG_LEN);
		crypto_stream_xchacha20_xor(raw + LFS_NAME_TAG_LEN, (const uint8_t *)bad[i], len,
		                            nonce, k.enc);
		sodium_bin2base64(enc, sizeof(enc), raw, LFS_NAME_TAG_LEN + len, B64);
		assert_int_equal(dec_name(&k, enc, out, &out_len), -EBADMSG);
	}
}

/* ---- long names ------------------------------------------------------ */

static void check_backing_name(const struct keys *k, size_t len)
{
	char name[LFS_NAME_MAX + 1], enc[LFS_ENCNAME_MAX];
	char out[LFS_BACKING_NAME_MAX + 1], side[LFS_BACKING_NAME_MAX + 1];
	char side2[LFS_BACKING_NAME_MAX + 1];
	make_name(name, len);
	assert_int_equal(enc_name(k, name, len, enc), 0);
	size_t n = strlen(enc);
	assert_int_equal(lfs_name_plain_len(n), (int)len); /* what a listing reckons */
	bool is_long = lfs_backing_name(enc, out, side);
	assert_int_equal(is_long, n > LFS_BACKING_NAME_MAX);
	if (!is_long) {
		assert_string_equal(out, enc);
		assert_int_equal(lfs_classify_entry(out), LFS_ENTRY_NAME);
		return;
	}
	assert_int_equal(strlen(out), 2 + 43);
	assert_memory_equal(out, LFS_LONG_PREFIX, 2);
	assert_memory_equal(side, LFS_SIDECAR_PREFIX, 2);
	assert_string_equal(out + 2, side + 2);
	lfs_sidecar_for_long(out, side2);
	assert_string_equal(side2, side);
	assert_true(lfs_long_name_matches(out, enc, n));
	assert_false(lfs_long_name_matches(out, enc, n - 1));
	assert_int_equal(lfs_classify_entry(out), LFS_ENTRY_LONG);
	assert_int_equal(lfs_classify_entry(side), LFS_ENTRY_META);
}

static void test_backing_name_every_length(void **state)
{
	(void)state;
	struct keys k;
	keys_init(&k);
	for (size_t len = 1; len <= LFS_NAME_MAX; len++)
		check_backing_name(&k, len);
	for (size_t n = 0; n < LFS_ENCNAME_MAX + 8; n++) { /* no other length has a name */
		int p = lfs_name_plain_len(n);
		assert_true(p < 0 || sodium_base64_ENCODED_LEN(LFS_NAME_TAG_LEN + p, B64) - 1 == n);
	}
}

/* The switch point: base64 of 16 + 175 bytes is 255 characters (kept),
 * of 16 + 176 bytes 256 (hashed). */
static void test_backing_name_threshold(void **state)
{
	(void)state;
	struct keys k;
	char name[LFS_NAME_MAX + 1], enc[LFS_ENCNAME_MAX];
	char out[LFS_BACKING_NAME_MAX + 1], side[LFS_BACKING_NAME_MAX + 1];
	keys_init(&k);
	make_name(name, 175);
	assert_int_equal(enc_name(&k, name, 175, enc), 0);
	assert_int_equal(strlen(enc), 255);
	assert_false(lfs_backing_name(enc, out, side));
	make_name(name, 176);
	assert_int_equal(enc_name(&k, name, 176, enc), 0);
	assert_int_equal(strlen(enc), 256);
	assert_true(lfs_backing_name(enc, out, side));
}

/* A sidecar that holds another name's encoding does not match. */
static void test_long_name_mismatch(void **state)
{
	(void)state;
	struct keys k;
	char name[LFS_NAME_MAX + 1], a[LFS_ENCNAME_MAX], b[LFS_ENCNAME_MAX];
	char out[LFS_BACKING_NAME_MAX + 1], side[LFS_BACKING_NAME_MAX + 1];
	keys_init(&k);
	make_name(name, 200);
	assert_int_equal(enc_name(&k, name, 200, a), 0);
	name[0] = 'z';
	assert_int_equal(enc_name(&k, name, 200, b), 0);
	assert_true(lfs_backing_name(a, out, side));
	assert_false(lfs_long_name_matches(out, b, strlen(b)));
	out[10] = out[10] == 'A' ? 'B' : 'A';
	assert_false(lfs_long_name_matches(out, a, strlen(a)));
}

/* ---- classification -------------------------------------------------- */

static void test_classify(void **state)
{
	(void)state;
	char long43[64], side43[64];
	snprintf(long43, sizeof(long43), ".L%s", "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE");
	snprintf(side43, sizeof(side43), ".N%s", "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE");
	assert_int_equal(strlen(long43), 45);

	assert_int_equal(lfs_classify_entry("AZaz09-_"), LFS_ENTRY_NAME);
	assert_int_equal(lfs_classify_entry(long43), LFS_ENTRY_LONG);
	assert_int_equal(lfs_classify_entry(side43), LFS_ENTRY_META);
	assert_int_equal(lfs_classify_entry(LFS_DIRMETA_NAME), LFS_ENTRY_META);
	/* Temporary files and directories lethefs itself creates. */
	assert_int_equal(lfs_classify_entry(".lethefs.tmp.0123abcd"), LFS_ENTRY_META);
	assert_int_equal(lfs_classify_entry(".lethefs.tmp.0123abcd89abcdef"), LFS_ENTRY_META);
	assert_int_equal(lfs_classify_entry("has space"), LFS_ENTRY_INVALID);
	assert_int_equal(lfs_classify_entry("a.b"), LFS_ENTRY_INVALID);
	assert_int_equal(lfs_classify_entry("a+b"), LFS_ENTRY_INVALID); /* not url-safe */
	assert_int_equal(lfs_classify_entry("abc="), LFS_ENTRY_INVALID);
	assert_int_equal(lfs_classify_entry("h\xc3\xa9"), LFS_ENTRY_INVALID);
}

/* names.h: META is "ours (dirmeta, sidecars, temp files)", INVALID is
 * "anything else: not lethefs data". A dot-file lethefs never writes is
 * not ours. Classifying it as META hides it from listings, and rmdir
 * (empty_backing_dir in fs/ops_entry.c) unlinks every META entry, so a
 * foreign file in the backing directory would be deleted silently. */
static void test_classify_foreign_dotfiles(void **state)
{
	(void)state;
	static const char *foreign[] = {
	    ".bashrc",
	    ".git",
	    ".Lshort", /* ".L" but not a 43-character hash */
	    ".DS_Store",
	};
	int wrong = 0;
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		enum lfs_entry_kind kind = lfs_classify_entry(foreign[i]);
		if (kind != LFS_ENTRY_INVALID) {
			print_error("'%s' classified as %d, expected LFS_ENTRY_INVALID (%d)\n",
			            foreign[i], kind, LFS_ENTRY_INVALID);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

/* ---- symlink targets ------------------------------------------------- */

static void test_link_len_inverse(void **state)
{
	(void)state;
	for (size_t n = 1; n <= 4000; n++) {
		size_t e = lfs_link_encoded_len(n);
		if (lfs_link_plain_len(e) != n)
			fail_msg("plain_len(encoded_len(%zu) = %zu) = %zu", n, e,
			         lfs_link_plain_len(e));
	}
}

static void link_roundtrip(const uint8_t key[32], const char *target, size_t len)
{
	size_t elen = lfs_link_encoded_len(len);
	char *enc = malloc(elen + 1), *out = malloc(elen);
	assert_non_null(enc);
	assert_non_null(out);
	assert_int_equal(lfs_link_encrypt(key, target, len, enc), 0);
	assert_int_equal(strlen(enc), elen);
	assert_int_equal(lfs_link_decrypt(key, enc, elen, out), (int)len);
	assert_memory_equal(out, target, len);
	free(enc);
	free(out);
}

static void test_link_roundtrip(void **state)
{
	(void)state;
	uint8_t key[32];
	static char target[4097];
	test_fill(key, sizeof(key), 0x33);
	link_roundtrip(key, "/", 1);
	link_roundtrip(key, "../a/b c/\xe2\x9c\x93", 13);
	/* Every length up to 200, then a stride through to PATH_MAX. */
	for (size_t n = 1; n <= 4096; n += (n < 200 ? 1 : 97)) {
		make_name(target, n);
		link_roundtrip(key, target, n);
	}
	make_name(target, 4096);
	link_roundtrip(key, target, 4096);
}

static void test_link_tamper(void **state)
{
	(void)state;
	uint8_t key[32];
	char a[256], b[256], out[256];
	test_fill(key, sizeof(key), 0x33);
	assert_int_equal(lfs_link_encrypt(key, "target/path", 11, a), 0);
	assert_int_equal(lfs_link_encrypt(key, "target/path", 11, b), 0);
	assert_string_not_equal(a, b); /* random nonce */
	size_t n = strlen(a);
	for (size_t i = 0; i + 1 < n; i++) {
		char saved = a[i];
		a[i] = saved == 'A' ? 'B' : 'A';
		assert_int_equal(lfs_link_decrypt(key, a, n, out), -EBADMSG);
		a[i] = saved;
	}
	assert_int_equal(lfs_link_decrypt(key, a, n - 1, out), -EBADMSG);
	assert_int_equal(lfs_link_decrypt(key, a, 10, out), -EBADMSG);
	assert_int_equal(lfs_link_decrypt(key, "", 0, out), -EBADMSG);
	assert_int_equal(lfs_link_decrypt(key, "!!!!", 4, out), -EBADMSG);
	key[0] ^= 1;
	assert_int_equal(lfs_link_decrypt(key, a, n, out), -EBADMSG);
}

/* ---- xattrs ---------------------------------------------------------- */

static void xname_roundtrip(const struct keys *k, const char *name, size_t len)
{
	char enc[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1];
	size_t out_len = 0;
	assert_int_equal(lfs_xattr_name_encrypt(k->mac, k->enc, name, len, enc), 0);
	assert_true(strlen("user.") + strlen(enc) <= 255); /* XATTR_NAME_MAX */
	assert_int_equal(lfs_xattr_name_decrypt(k->mac, k->enc, enc, strlen(enc), out, &out_len),
	                 0);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, name, len);
}

static void test_xattr_name_roundtrip(void **state)
{
	(void)state;
	struct keys k;
	char name[LFS_XATTR_NAME_MAX + 2];
	keys_init(&k);
	xname_roundtrip(&k, "comment", 7);
	xname_roundtrip(&k, "a/b", 3); /* '/' is legal in xattr names */
	xname_roundtrip(&k, ".", 1);
	make_name(name, LFS_XATTR_NAME_MAX);
	xname_roundtrip(&k, name, LFS_XATTR_NAME_MAX);
	char enc[LFS_ENCNAME_MAX];
	make_name(name, LFS_XATTR_NAME_MAX + 1);
	assert_true(lfs_xattr_name_encrypt(k.mac, k.enc, name, LFS_XATTR_NAME_MAX + 1, enc) < 0);
	assert_true(lfs_xattr_name_encrypt(k.mac, k.enc, "", 0, enc) < 0);
	assert_true(lfs_xattr_name_encrypt(k.mac, k.enc, "a\0b", 3, enc) < 0);
}

static void test_xattr_name_tamper(void **state)
{
	(void)state;
	struct keys k;
	char enc[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1];
	size_t out_len;
	keys_init(&k);
	assert_int_equal(lfs_xattr_name_encrypt(k.mac, k.enc, "comment", 7, enc), 0);
	size_t n = strlen(enc);
	for (size_t i = 0; i + 1 < n; i++) {
		char saved = enc[i];
		enc[i] = saved == 'A' ? 'B' : 'A';
		assert_int_equal(lfs_xattr_name_decrypt(k.mac, k.enc, enc, n, out, &out_len),
		                 -EBADMSG);
		enc[i] = saved;
	}
	k.mac[3] ^= 1;
	assert_int_equal(lfs_xattr_name_decrypt(k.mac, k.enc, enc, n, out, &out_len), -EBADMSG);
}

static void test_xattr_value(void **state)
{
	(void)state;
	uint8_t key[32], sealed[64 + LFS_XATTR_VALUE_OVERHEAD], out[64];
	const char *bn = "user.AAAABBBB";
	test_fill(key, sizeof(key), 0x55);
	lfs_xattr_value_seal(key, bn, "value bytes", 11, sealed);
	size_t n = 11 + LFS_XATTR_VALUE_OVERHEAD;
	assert_int_equal(lfs_xattr_value_open(key, bn, sealed, n, out), 11);
	assert_memory_equal(out, "value bytes", 11);
	for (size_t i = 0; i < n; i++) {
		sealed[i] ^= 0x20;
		assert_int_equal(lfs_xattr_value_open(key, bn, sealed, n, out), -EBADMSG);
		sealed[i] ^= 0x20;
	}
	/* Bound to the attribute's backing name: a value moved to another
	 * attribute does not open. */
	assert_int_equal(lfs_xattr_value_open(key, "user.AAAABBBC", sealed, n, out), -EBADMSG);
	assert_int_equal(lfs_xattr_value_open(key, bn, sealed, n - 1, out), -EBADMSG);
	assert_int_equal(lfs_xattr_value_open(key, bn, sealed, 39, out), -EBADMSG);
	key[0] ^= 1;
	assert_int_equal(lfs_xattr_value_open(key, bn, sealed, n, out), -EBADMSG);
}

static void test_xattr_value_empty(void **state)
{
	(void)state;
	uint8_t key[32], sealed[LFS_XATTR_VALUE_OVERHEAD], out[1];
	test_fill(key, sizeof(key), 0x55);
	lfs_xattr_value_seal(key, "user.x", "", 0, sealed);
	assert_int_equal(lfs_xattr_value_open(key, "user.x", sealed, sizeof(sealed), out), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_roundtrip),
	    cmocka_unit_test(test_name_all_bytes),
	    cmocka_unit_test(test_name_deterministic),
	    cmocka_unit_test(test_name_matches_spec),
	    cmocka_unit_test(test_name_bound_to_dirid),
	    cmocka_unit_test(test_name_wrong_keys),
	    cmocka_unit_test(test_name_flipped_char),
	    cmocka_unit_test(test_name_non_alphabet_bytes),
	    cmocka_unit_test(test_name_invalid_plain),
	    cmocka_unit_test(test_name_decrypt_garbage),
	    cmocka_unit_test(test_name_decrypt_rejects_invalid_plain),
	    cmocka_unit_test(test_backing_name_every_length),
	    cmocka_unit_test(test_backing_name_threshold),
	    cmocka_unit_test(test_long_name_mismatch),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_classify_foreign_dotfiles),
	    cmocka_unit_test(test_link_len_inverse),
	    cmocka_unit_test(test_link_roundtrip),
	    cmocka_unit_test(test_link_tamper),
	    cmocka_unit_test(test_xattr_name_roundtrip),
	    cmocka_unit_test(test_xattr_name_tamper),
	    cmocka_unit_test(test_xattr_value),
	    cmocka_unit_test(test_xattr_value_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
