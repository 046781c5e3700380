/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the journalctl-style time parser (common/timespec.c) behind
 * `audit show --since/--until`: any string (NUL-terminated here) is either
 * refused or gives a time; spans are never negative. */
#include "fuzz_common.h"

#include "../../common/timespec.h"

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128];
	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t t, span;
	(void)lfs_parse_timespec(s, 1796571000000LL, &t);
	if (lfs_parse_timespan(s, &span) == 0)
		FZ_CHECK(span >= 0);
	return 0;
}
