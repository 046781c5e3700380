/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the recovery-key parser. Whatever it accepts must be a key whose
 * canonical text parses back to the same key, and the accepted input must
 * be that canonical text up to case, separators and the optional prefix:
 * otherwise two different texts would name one key, or some character
 * would be silently ignored and a typo could go unnoticed. */
#include "fuzz_common.h"

#include <ctype.h>

#include "../../keymgmt/recovery.h"

FZ_DEFINE_INIT

/* Upper-cased significant characters, prefix dropped. */
static size_t canonical(const char *in, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n < cap; i++)
		if (isalnum((unsigned char)in[i]))
			out[n++] = (char)toupper((unsigned char)in[i]);
	if (n >= 4 && !memcmp(out, LFS_RECOVERY_PREFIX, 4)) {
		memmove(out, out + 4, n - 4);
		n -= 4;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t master[LFS_MASTER_KEY_LEN], again[LFS_MASTER_KEY_LEN];
	char text[LFS_RECOVERY_TEXT_LEN + 1], a[4096], b[LFS_RECOVERY_TEXT_LEN];
	const char *why = NULL;
	if (lfs_recovery_decode((const char *)data, size, master, &why) != 0) {
		FZ_CHECK(why != NULL && why[0] != '\0');
		return 0;
	}
	lfs_recovery_encode(master, text);
	FZ_CHECK(strlen(text) == LFS_RECOVERY_TEXT_LEN);
	FZ_CHECK(lfs_recovery_decode(text, strlen(text), again, &why) == 0);
	FZ_CHECK(memcmp(master, again, sizeof(master)) == 0);
	size_t na = canonical((const char *)data, size, a, sizeof(a));
	size_t nb = canonical(text, strlen(text), b, sizeof(b));
	FZ_CHECK(na == LFS_RECOVERY_CHARS && nb == LFS_RECOVERY_CHARS && !memcmp(a, b, nb));
	return 0;
}
