/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes everything that reads an encrypted name from the backing store
 * (all attacker-controlled: whoever holds the backing directory chooses
 * these bytes): file names, symlink targets, xattr names and values, and
 * the classification of directory entries. Accepted encodings must be
 * canonical: re-encrypting the result gives back the very same bytes. */
#include "fuzz_common.h"

#include "../../fs/longlink.h"
#include "../../fs/names.h"

FZ_DEFINE_INIT

struct fz_keys {
	uint8_t name_mac[32], name_enc[32], dirid[LFS_DIRID_LEN];
	uint8_t link[32], xattr_mac[32], xattr_enc[32], xattr_value[32];
};

static void keys_init(struct fz_keys *k)
{
	fz_key(k->name_mac, 32, FZ_SEED_NAME_MAC);
	fz_key(k->name_enc, 32, FZ_SEED_NAME_ENC);
	fz_key(k->dirid, LFS_DIRID_LEN, FZ_SEED_DIRID);
	fz_key(k->link, 32, FZ_SEED_LINK);
	fz_key(k->xattr_mac, 32, FZ_SEED_XATTR);
	fz_key(k->xattr_enc, 32, FZ_SEED_XATTR + 1);
	fz_key(k->xattr_value, 32, FZ_SEED_XATTR + 2);
}

static void fuzz_name(const struct fz_keys *k, const char *in, size_t len)
{
	char out[LFS_NAME_MAX + 1], enc[LFS_ENCNAME_MAX];
	size_t out_len = 0;
	if (lfs_name_decrypt(k->name_mac, k->name_enc, k->dirid, in, len, out, &out_len) != 0)
		return;
	FZ_CHECK(out_len >= 1 && out_len <= LFS_NAME_MAX && out[out_len] == '\0');
	FZ_CHECK(memchr(out, '/', out_len) == NULL && strlen(out) == out_len);
	FZ_CHECK(lfs_name_encrypt(k->name_mac, k->name_enc, k->dirid, out, out_len, enc) == 0);
	FZ_CHECK(strlen(enc) == len && memcmp(enc, in, len) == 0);
}

static void fuzz_xattr_name(const struct fz_keys *k, const char *in, size_t len)
{
	char out[LFS_NAME_MAX + 1], enc[LFS_ENCNAME_MAX];
	size_t out_len = 0;
	if (lfs_xattr_name_decrypt(k->xattr_mac, k->xattr_enc, in, len, out, &out_len) != 0)
		return;
	FZ_CHECK(out_len >= 1 && out_len <= LFS_XATTR_NAME_MAX);
	FZ_CHECK(lfs_xattr_name_encrypt(k->xattr_mac, k->xattr_enc, out, out_len, enc) == 0);
	FZ_CHECK(strlen(enc) == len && memcmp(enc, in, len) == 0);
}

/* st_size of a symlink is computed from the encoding length alone, so it
 * must agree with what decryption yields. */
static void fuzz_link(const struct fz_keys *k, const char *in, size_t len)
{
	char *out = malloc(len + 1);
	FZ_CHECK(out != NULL);
	int r = lfs_link_decrypt(k->link, in, len, out);
	if (r >= 0) {
		FZ_CHECK((size_t)r == lfs_link_plain_len(len));
		FZ_CHECK(lfs_link_encoded_len((size_t)r) == len);
	}
	free(out);
}

/* A backing symlink target as a long-target reference (FORMAT.md 8.1):
 * accepted only in its one canonical form. */
static void fuzz_longlink_ref(const char *in, size_t len)
{
	char hash[LFS_LONGLINK_HASH + 1], again[LFS_LONGLINK_REF_LEN + 1];
	size_t plain_len = 0;
	if (!lfs_longlink_parse(in, len, hash, &plain_len))
		return;
	FZ_CHECK(plain_len >= 1 && plain_len <= LFS_LINK_TARGET_MAX);
	FZ_CHECK(strlen(hash) == LFS_LONGLINK_HASH);
	snprintf(again, sizeof(again), "%s%s:%04zu", LFS_LONGLINK_PREFIX, hash, plain_len);
	FZ_CHECK(len == LFS_LONGLINK_REF_LEN && memcmp(again, in, len) == 0);
}

/* The input as a value, bound to a fixed backing attribute name. */
static void fuzz_xattr_value(const struct fz_keys *k, const uint8_t *in, size_t len)
{
	uint8_t *out = malloc(len + 1);
	FZ_CHECK(out != NULL);
	int r = lfs_xattr_value_open(k->xattr_value, "user.fuzz", in, len, out);
	if (r >= 0)
		FZ_CHECK((size_t)r + LFS_XATTR_VALUE_OVERHEAD == len);
	free(out);
}

/* The input as a directory entry name (NUL-terminated, as readdir gives). */
static void fuzz_entry(const char *in, size_t len)
{
	char name[512], out[LFS_BACKING_NAME_MAX + 1], side[LFS_BACKING_NAME_MAX + 1];
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, in, len);
	name[len] = '\0';
	switch (lfs_classify_entry(name)) {
	case LFS_ENTRY_LONG:
		FZ_CHECK(strlen(name) == 45);
		lfs_sidecar_for_long(name, side);
		FZ_CHECK(strlen(side) == 45 && memcmp(side, LFS_SIDECAR_PREFIX, 2) == 0);
		(void)lfs_long_name_matches(name, in, len);
		break;
	case LFS_ENTRY_NAME:
		FZ_CHECK(name[0] != '.');
		break;
	case LFS_ENTRY_META:
	case LFS_ENTRY_INVALID:
		break;
	}
	/* Any string may be handed to lfs_backing_name by a caller holding an
	 * encoding: the result always fits a backing name. */
	if (lfs_backing_name(name, out, side))
		FZ_CHECK(lfs_classify_entry(out) == LFS_ENTRY_LONG);
	FZ_CHECK(strlen(out) <= LFS_BACKING_NAME_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_keys k;
	const char *in = (const char *)data;
	keys_init(&k);
	fuzz_name(&k, in, size);
	fuzz_xattr_name(&k, in, size);
	fuzz_link(&k, in, size);
	fuzz_xattr_value(&k, data, size);
	fuzz_entry(in, size);
	fuzz_longlink_ref(in, size);
	return 0;
}
