/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the audit log's line and head parsers, and the writer. The first
 * input byte picks the mode:
 *   FZ_AUDIT_PARSE  the rest is one line (and, split at the first newline,
 *                   a head file): an accepted line must have every span
 *                   inside it, every string printable ASCII and its login
 *                   ids in range; an accepted head must be consistent
 *                   (anchor at or before its seq, the same hash when at it)
 *                   and format back to the very same bytes;
 *   FZ_AUDIT_WRITE  the rest is split at NUL bytes into exe, detail
 *                   strings and a detail key: whatever they hold, the line
 *                   written must fit, be printable ASCII, parse back with
 *                   the same numbers and carry a valid MAC. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../audit/audit_line.h"

FZ_DEFINE_INIT

static void check_span(const char *line, size_t len, struct lfs_audit_span sp)
{
	FZ_CHECK((size_t)sp.off + sp.len <= len);
	for (uint32_t i = 0; i < sp.len; i++)
		FZ_CHECK(line[sp.off + i] >= 0x20 && line[sp.off + i] < 0x7f);
}

static void parse_mode(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct lfs_audit_entry e;
	const char *why = NULL;
	int r = lfs_audit_parse_line(line, size, &e, &why);
	if (r != 0) {
		FZ_CHECK(r == -EBADMSG && why && *why);
	} else {
		FZ_CHECK(size < LFS_AUDIT_LINE_MAX && e.seq > 0);
		FZ_CHECK(e.signed_len < size && e.ndetails <= LFS_AUDIT_MAX_DETAILS);
		check_span(line, size, e.time);
		check_span(line, size, e.event);
		check_span(line, size, e.outcome);
		check_span(line, size, e.exe);
		for (unsigned i = 0; i < e.ndetails; i++) {
			check_span(line, size, e.detail[i].key);
			check_span(line, size, e.detail[i].str);
		}
	}
	if (r == 0 && e.has_login)
		FZ_CHECK(e.has_caller && e.loginuid >= -1 && e.loginuid < 4294967295LL &&
		         e.sessionid >= -1 && e.sessionid < 4294967295LL);
	struct lfs_audit_head h;
	if (lfs_audit_parse_head(line, size, &h) == 0) {
		FZ_CHECK(h.seq > 0 && size <= LFS_AUDIT_HEAD_MAX);
		if (h.has_anchor) {
			FZ_CHECK(h.keyed_seq > 0 && h.keyed_seq <= h.seq);
			FZ_CHECK(h.keyed_seq < h.seq || !memcmp(h.keyed_hash, h.hash, 32));
		}
		/* The writer's form round-trips exactly (the older keyed form
		 * is read, never written). */
		if (!h.legacy) {
			char again[LFS_AUDIT_HEAD_MAX];
			int n = lfs_audit_format_head(again, sizeof(again), &h);
			FZ_CHECK(n > 0 && (size_t)n == size && !memcmp(again, line, size));
		}
		uint8_t key[32];
		fz_key(key, sizeof(key), FZ_SEED_MASTER);
		(void)lfs_audit_anchor_ok(key, &h);
	}
}

static void write_mode(const uint8_t *data, size_t size)
{
	/* Pieces: exe, then detail strings, NUL-separated. */
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *pieces[LFS_AUDIT_MAX_DETAILS + 1];
	size_t n = 0;
	for (char *p = copy; n < LFS_AUDIT_MAX_DETAILS + 1 && p <= copy + size; p += strlen(p) + 1)
		pieces[n++] = p;
	static const char *const keys[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	struct lfs_audit_caller c = {.known = true,
	                             .uid = 4294967295u,
	                             .pid = 2147483647,
	                             .loginuid = (int64_t)(size * 104729) - 1,
	                             .sessionid = size & 1 ? LFS_AUDIT_UNSET : (int64_t)size};
	snprintf(c.exe, sizeof(c.exe), "%s", pieces[0]);
	struct lfs_audit_detail d[LFS_AUDIT_MAX_DETAILS];
	size_t nd = n - 1;
	for (size_t i = 0; i < nd; i++)
		d[i] = (struct lfs_audit_detail){keys[i], (i & 1) ? NULL : pieces[i + 1],
		                                 (long long)(size * 7919) - 1000000};
	uint8_t key[32], prev[32];
	fz_key(key, sizeof(key), FZ_SEED_MASTER);
	fz_key(prev, sizeof(prev), FZ_SEED_UUID);
	struct lfs_audit_record rec = {.seq = size + 1,
	                               .time_ms = (int64_t)size * 1000003,
	                               .event = "socket-refused",
	                               .outcome = "refused",
	                               .caller = &c,
	                               .details = d,
	                               .ndetails = nd};
	char line[LFS_AUDIT_LINE_MAX + 1];
	int len = lfs_audit_format_line(line, &rec, prev, key);
	FZ_CHECK(len > 0 && len <= LFS_AUDIT_LINE_MAX && line[len - 1] == '\n');
	for (int i = 0; i < len - 1; i++)
		FZ_CHECK(line[i] >= 0x20 && line[i] < 0x7f);
	struct lfs_audit_entry e;
	const char *why = NULL;
	if (lfs_audit_parse_line(line, (size_t)len - 1, &e, &why) != 0) {
		fprintf(stderr, "own line rejected (%s): %s", why, line);
		abort();
	}
	FZ_CHECK(e.seq == rec.seq && e.time_ms == rec.time_ms && e.ndetails == nd);
	FZ_CHECK(e.uid == c.uid && e.pid == (uint32_t)c.pid && e.has_mac && e.has_login);
	FZ_CHECK(e.sessionid == c.sessionid);
	FZ_CHECK(e.loginuid == (c.loginuid < 4294967295LL ? c.loginuid : LFS_AUDIT_UNSET));
	FZ_CHECK(memcmp(e.prev, prev, 32) == 0);
	FZ_CHECK(lfs_audit_mac_ok(key, line, &e));
	for (size_t i = 0; i < nd; i++)
		FZ_CHECK(e.detail[i].is_str == (d[i].str != NULL) &&
		         (d[i].str || e.detail[i].num == d[i].num));
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		write_mode(data + 1, size - 1);
	else
		parse_mode(data + 1, size - 1);
	return 0;
}
