/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the sealed keyring file: lfs_keyring_peek and lfs_keyring_unlock
 * with a fixed master key.
 *
 * The first input byte picks a mode. RAW feeds the rest as the file, which
 * exercises the header checks and the AEAD (the fuzzer cannot forge a tag,
 * but seeds.c provides a correctly sealed seed). RESEAL takes the rest as
 * header | plaintext body and seals the body under the fixed master key
 * first, so that the body decoder, which only ever sees authenticated
 * data, is fuzzed too. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../keymgmt/kdf.h"
#include "../../keymgmt/keyring.h"

FZ_DEFINE_INIT

static uint8_t master[LFS_MASTER_KEY_LEN];

/* An unlocked ring must serve its current epoch and survive a seal and
 * a fresh unlock unchanged. */
static void check_unlocked(struct lfs_keyring *kr)
{
	const struct lfs_epoch_keys *k;
	uint8_t file[LFS_KEYRING_MAX_FILE_LEN];
	size_t len;
	FZ_CHECK(kr->nepochs >= 1 && kr->nepochs <= LFS_MAX_EPOCHS);
	FZ_CHECK(lfs_keyring_get(kr, 0, &k) == 0);
	FZ_CHECK(k->epoch == kr->current_epoch && k->epoch != 0);
	lfs_keyring_put(kr);
	FZ_CHECK(lfs_keyring_seal(kr, file, &len) == 0);

	struct lfs_keyring again;
	lfs_keyring_init(&again, kr->uuid, kr->cipher);
	FZ_CHECK(lfs_keyring_unlock(&again, master, file, len) == 0);
	FZ_CHECK(again.nepochs == kr->nepochs && again.current_epoch == kr->current_epoch);
	FZ_CHECK(again.sec->has_audit_key == kr->sec->has_audit_key);
	FZ_CHECK(!kr->sec->has_audit_key ||
	         memcmp(again.sec->audit_key, kr->sec->audit_key, 32) == 0);
	lfs_keyring_destroy(&again);
}

static void unlock_file(const uint8_t *file, size_t len)
{
	uint8_t uuid[LFS_UUID_LEN];
	unsigned n = 0;
	int peeked = lfs_keyring_peek(file, len, uuid, &n);
	if (peeked == 0)
		FZ_CHECK(n >= 1 && n <= LFS_KEYRING_MAX_ENTRIES);
	else
		fz_key(uuid, sizeof(uuid), FZ_SEED_UUID);

	struct lfs_keyring kr;
	const struct lfs_epoch_keys *k;
	lfs_keyring_init(&kr, uuid, LFS_CIPHER_XCHACHA20POLY1305);
	int r = lfs_keyring_unlock(&kr, master, file, len);
	if (peeked != 0)
		FZ_CHECK(r != 0); /* unlock does at least the checks peek does */
	if (r == 0) {
		/* Entries are the data epochs plus, since a rekey, the audit key. */
		FZ_CHECK(kr.nepochs == n - (kr.sec->has_audit_key ? 1 : 0));
		check_unlocked(&kr);
	} else {
		FZ_CHECK(lfs_keyring_get(&kr, 0, &k) == -EACCES);
	}
	lfs_keyring_destroy(&kr);
}

/* header (32 bytes from the input) | fixed nonce | AEAD(body, ad = header). */
static void reseal_and_unlock(const uint8_t *data, size_t size)
{
	static uint8_t file[LFS_KEYRING_MAX_FILE_LEN];
	if (size < LFS_KEYRING_HDR_LEN ||
	    size + 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES > sizeof(file))
		return;
	size_t body_len = size - LFS_KEYRING_HDR_LEN;
	uint8_t wrap[32];
	memcpy(file, data, LFS_KEYRING_HDR_LEN);
	memset(file + LFS_KEYRING_HDR_LEN, 0x5a, 24);
	lfs_kdf_derive(wrap, master, 1, LFS_KDF_CTX_KEYRING);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    file + LFS_KEYRING_HDR_LEN + 24, NULL, data + LFS_KEYRING_HDR_LEN, body_len, file,
	    LFS_KEYRING_HDR_LEN, NULL, file + LFS_KEYRING_HDR_LEN, wrap);
	unlock_file(file, size + 24 + crypto_aead_xchacha20poly1305_ietf_ABYTES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fz_key(master, sizeof(master), FZ_SEED_MASTER);
	if (data[0] == FZ_KEYRING_RESEAL)
		reseal_and_unlock(data + 1, size - 1);
	else
		unlock_file(data + 1, size - 1);
	return 0;
}
