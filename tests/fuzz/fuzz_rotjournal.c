/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the rotation journal parser (VAULT/lethefs.rotation.journal, read
 * at every unlock that follows a crash). First byte: 0 the input as is,
 * 1 the input with a valid checksum appended, so that the structural checks
 * behind the checksum are reached too. An accepted journal must encode back
 * to the very same bytes. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../rotation/rotjournal.h"

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[LFS_ROTJ_MAX_LEN + 16], again[LFS_ROTJ_MAX_LEN];
	static struct lfs_rotjournal j;
	if (size < 1 || size - 1 > LFS_ROTJ_MAX_LEN)
		return 0;
	size_t len = size - 1;
	memcpy(buf, data + 1, len);
	if (data[0] & 1) {
		if (len + 16 > LFS_ROTJ_MAX_LEN)
			return 0;
		crypto_generichash(buf + len, 16, buf, len, NULL, 0);
		len += 16;
	}
	int r = lfs_rotjournal_decode(buf, len, &j);
	FZ_CHECK(r == 0 || r == -EINVAL);
	if (r != 0)
		return 0;
	FZ_CHECK(j.handle_len <= LFS_ROTJ_HANDLE_MAX);
	FZ_CHECK(strlen(j.path) < LFS_ROTJ_PATH_MAX);
	size_t n = lfs_rotjournal_encode(&j, again);
	FZ_CHECK(n == len && memcmp(again, buf, len) == 0);
	return 0;
}
