/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the parser of a mount's registry entry (/run/lethefs/mount-*,
 * daemon/ctl_registry.h), which the CLI reads before sending a secret.
 * Accepted entries must survive a format/parse round trip unchanged. */
#include "fuzz_common.h"

#include "../../daemon/ctl_registry.h"

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lfs_mount_entry e, back;
	if (lfs_registry_parse((const char *)data, size, &e) != 0)
		return 0;
	FZ_CHECK(e.pid > 0);
	FZ_CHECK(e.socket[0] == '/' && e.mountpoint[0] == '/');
	FZ_CHECK(memchr(e.socket, '\0', sizeof(e.socket)) != NULL);
	char buf[LFS_REGISTRY_FILE_MAX];
	int n = lfs_registry_format(&e, buf, sizeof(buf));
	FZ_CHECK(n > 0 && (size_t)n == size && memcmp(buf, data, size) == 0);
	FZ_CHECK(lfs_registry_parse(buf, (size_t)n, &back) == 0);
	FZ_CHECK(back.pid == e.pid && !strcmp(back.socket, e.socket) &&
	         !strcmp(back.mountpoint, e.mountpoint));
	return 0;
}
