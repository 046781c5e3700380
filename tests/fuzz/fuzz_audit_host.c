/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes what the per-host audit logs of shared vaults take from the
 * backing store (audit/audit_host.c): names found in the host log
 * directory (lfs_audit_host_name_ok) and registrations read from the main
 * log (lfs_audit_registration). An accepted name must be 1 to 64 of
 * [A-Za-z0-9._-], not start with '.' (so never "." or ".."), contain no
 * '/' and not end in ".head"; an accepted registration must name such a
 * host, taken verbatim from the line. */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include "../../audit/audit_host.h"

FZ_DEFINE_INIT

static void check_name(const char *s)
{
	size_t n = strlen(s);
	FZ_CHECK(n >= 1 && n <= LFS_HOST_NAME_MAX && s[0] != '.');
	FZ_CHECK(!strchr(s, '/'));
	FZ_CHECK(n < 5 || strcmp(s + n - 5, ".head"));
	for (size_t i = 0; i < n; i++)
		FZ_CHECK((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		         (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' || s[i] == '_');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (lfs_audit_host_name_ok(name))
		check_name(name);
	free(name);
	char host[LFS_HOST_NAME_MAX + 1];
	uint64_t seq = 0;
	if (lfs_audit_registration((const char *)data, size, host, &seq)) {
		check_name(host);
		FZ_CHECK(seq > 0);
		FZ_CHECK(memmem(data, size, host, strlen(host)) != NULL);
	}
	return 0;
}
