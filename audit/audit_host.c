/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "audit_host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

static const uint8_t PERSONAL_HOST_GENESIS[16] = "lethefs-audit-h0";

bool lfs_audit_host_name_ok(const char *host)
{
	static const char head[] = ".head";
	size_t n = strlen(host), hn = sizeof(head) - 1;
	if (!lfs_host_name_ok(host))
		return false;
	return !(n >= hn && !strcmp(host + n - hn, head));
}

void lfs_audit_host_genesis(uint8_t out[32], const uint8_t uuid[16], const char *host)
{
	/* uuid, then the name: the name's length is implied by the input's. */
	uint8_t in[16 + LFS_HOST_NAME_MAX];
	size_t n = strnlen(host, LFS_HOST_NAME_MAX);
	memcpy(in, uuid, 16);
	memcpy(in + 16, host, n);
	crypto_generichash_blake2b_salt_personal(out, 32, in, 16 + n, NULL, 0, NULL,
	                                         PERSONAL_HOST_GENESIS);
}

static bool span_is(const char *line, struct lfs_audit_span sp, const char *s)
{
	return sp.len == strlen(s) && !memcmp(line + sp.off, s, sp.len);
}

int lfs_audit_registration(const char *line, size_t len, char host[LFS_HOST_NAME_MAX + 1],
                           uint64_t *seq)
{
	struct lfs_audit_entry e;
	if (lfs_audit_parse_line(line, len, &e, NULL) < 0 ||
	    !span_is(line, e.event, "audit-host") || !span_is(line, e.outcome, "success"))
		return 0;
	for (unsigned i = 0; i < e.ndetails; i++) {
		struct lfs_audit_span v = e.detail[i].str;
		if (!e.detail[i].is_str || !span_is(line, e.detail[i].key, "host") ||
		    v.len > LFS_HOST_NAME_MAX)
			continue;
		memcpy(host, line + v.off, v.len);
		host[v.len] = '\0';
		if (!lfs_audit_host_name_ok(host))
			continue;
		*seq = e.seq;
		return 1;
	}
	return 0;
}

int lfs_audit_hosts_dir_open(int logdirfd, const char *logname, bool create)
{
	char name[256];
	if (snprintf(name, sizeof(name), "%s%s", logname, LFS_AUDIT_HOSTS_SUFFIX) >=
	    (int)sizeof(name))
		return -ENAMETOOLONG;
	if (create && mkdirat(logdirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(logdirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	return fd;
}
