/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the control-socket protocol: the request line the daemon parses
 * (from any local process that reaches the socket) and the JSON reader the
 * CLI applies to the daemon's answer. First byte: 0 request, 1 JSON,
 * 2 JSON string writer. Accepted requests must survive a format/parse
 * round trip unchanged. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../daemon/ctlproto.h"

FZ_DEFINE_INIT

static void fuzz_request(const char *in, size_t len)
{
	struct lfs_ctl_request req, back;
	if (lfs_ctl_parse_request(in, len, &req) != 0)
		return;
	FZ_CHECK(req.verb == LFS_CTL_STATUS || req.verb == LFS_CTL_LOCK ||
	         req.verb == LFS_CTL_UNLOCK || req.verb == LFS_CTL_ROTATE ||
	         req.verb == LFS_CTL_STAGE_TTL || req.verb == LFS_CTL_STAGE_SYNC);
	FZ_CHECK(req.verb != LFS_CTL_STAGE_TTL || (req.stage_id & 0x80000000u));
	FZ_CHECK(req.payload_len <= LFS_CTL_PAYLOAD_MAX);
	char line[LFS_CTL_HEADER_MAX];
	int n = lfs_ctl_format_request(&req, line, sizeof(line));
	FZ_CHECK(n > 0);
	FZ_CHECK((size_t)n == len && memcmp(line, in, len) == 0);
	FZ_CHECK(lfs_ctl_parse_request(line, (size_t)n, &back) == 0);
	FZ_CHECK(memcmp(&req, &back, sizeof(req)) == 0);
}

static void fuzz_json(const char *in, size_t len)
{
	static const char *const keys[] = {"ok", "state", "error", "message", "slot", ""};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char out[64];
		memset(out, 0x7f, sizeof(out));
		int r = lfs_json_get(in, len, keys[i], out, sizeof(out));
		FZ_CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
		if (r == 0)
			FZ_CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	}
}

/* Whatever string goes in, the writer's output is a JSON string that the
 * reader gives back byte for byte (the daemon quotes hostile paths). */
static void fuzz_writer(const char *in, size_t len)
{
	char s[256], json[2048], back[256];
	if (len >= sizeof(s))
		len = sizeof(s) - 1;
	memcpy(s, in, len);
	s[len] = '\0';
	size_t used = 0;
	used += (size_t)snprintf(json, sizeof(json), "{\"k\":");
	FZ_CHECK(lfs_json_put_string(json, sizeof(json) - 2, &used, s) == 0);
	json[used++] = '}';
	json[used] = '\0';
	for (size_t i = 0; i < used; i++)
		FZ_CHECK((unsigned char)json[i] >= 0x20);
	FZ_CHECK(lfs_json_get(json, used, "k", back, sizeof(back)) == 0);
	FZ_CHECK(strcmp(back, s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	switch (data[0] % 3) {
	case 0:
		fuzz_request(in, size - 1);
		break;
	case 1:
		fuzz_json(in, size - 1);
		break;
	default:
		fuzz_writer(in, size - 1);
	}
	return 0;
}
