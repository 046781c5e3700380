/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the audit log's formats (one entry a line, the head
 * file): hostile strings cannot break a line, long strings are cut at the
 * cap, the entry parser is strict, the head with its anchor round-trips
 * and rejects impossible anchors, and the older keyed head still reads. */
#define _GNU_SOURCE
#include "auditrig.h"

/* ---- formatting and parsing --------------------------------------------- */

static void test_escaping_hostile_strings(void **state)
{
	struct fixture *f = *state;
	struct lfs_audit_caller c = {.known = true, .uid = 1000, .pid = 42};
	strcpy(c.exe, "/tmp/a\"b\\c\nd\re\tf\x01\x7f\xff\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\x80"
	              "\"},\"mac\":\"x");
	struct lfs_audit_detail d = {"error", "line1\nline2\x1b[31m", 0};
	uint8_t prev[32] = {0};
	char line[LFS_AUDIT_LINE_MAX + 1];
	struct lfs_audit_record rec = {.seq = 7,
	                               .time_ms = 1764401856123LL,
	                               .event = "unlock",
	                               .outcome = "failure",
	                               .caller = &c,
	                               .details = &d,
	                               .ndetails = 1};
	int n = lfs_audit_format_line(line, &rec, prev, f->key);
	assert_true(n > 0 && line[n - 1] == '\n');
	for (int i = 0; i < n - 1; i++)
		assert_true(line[i] >= 0x20 && line[i] < 0x7f);
	assert_non_null(strstr(line, "\"exe\":\"/tmp/a\\\"b\\\\c\\nd\\re\\tf\\u0001\\u007f\\ufffd"
	                             "\\u20ac\\ud83d\\ude00\\ufffd\\ufffd\\ufffd\\\"},\\\"mac\\\":"
	                             "\\\"x\""));
	assert_non_null(strstr(line, "\"details\":{\"error\":\"line1\\nline2\\u001b[31m\"}"));
	assert_non_null(strstr(line, "\"time\":\"2025-11-29T07:37:36.123Z\""));
	struct lfs_audit_entry e;
	const char *why = NULL;
	assert_int_equal(lfs_audit_parse_line(line, (size_t)n - 1, &e, &why), 0);
	assert_int_equal(e.seq, 7);
	assert_int_equal(e.time_ms, 1764401856123LL);
	assert_true(e.has_caller && e.uid == 1000 && e.pid == 42);
	assert_true(e.has_login && e.loginuid == 0 && e.sessionid == 0);
	assert_true(e.has_mac);
	assert_true(lfs_audit_mac_ok(f->key, line, &e));
	/* Appended through the log, it verifies. */
	assert_int_equal(lfs_audit_append(f->log, f->key, "unlock", "failure", &c, &d, 1), 0);
	assert_int_equal(verify(f, true).problem, LFS_AUDIT_INTACT);
}

static void test_long_strings_are_cut(void **state)
{
	(void)state;
	static char big[20000];
	memset(big, '\x01', sizeof(big) - 1);
	struct lfs_audit_caller c = {.known = true};
	memset(c.exe, 'x', sizeof(c.exe) - 1);
	struct lfs_audit_detail d[LFS_AUDIT_MAX_DETAILS];
	const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	for (int i = 0; i < LFS_AUDIT_MAX_DETAILS; i++)
		d[i] = (struct lfs_audit_detail){keys[i], big, 0};
	uint8_t prev[32] = {0}, key[32] = {0};
	char line[LFS_AUDIT_LINE_MAX + 1];
	struct lfs_audit_record rec = {.seq = UINT64_MAX - 1,
	                               .time_ms = 253402300799999LL,
	                               .event = "keyslot-remove-aaaaaaaaaaaaaaaaa",
	                               .outcome = "refused",
	                               .caller = &c,
	                               .details = d,
	                               .ndetails = LFS_AUDIT_MAX_DETAILS};
	int n = lfs_audit_format_line(line, &rec, prev, key);
	assert_true(n > 0 && n <= LFS_AUDIT_LINE_MAX);
	assert_non_null(strstr(line, "\\u0001\\u2026\""));
	struct lfs_audit_entry e;
	assert_int_equal(lfs_audit_parse_line(line, (size_t)n - 1, &e, NULL), 0);
	assert_int_equal(e.ndetails, LFS_AUDIT_MAX_DETAILS);
	assert_true(e.detail[0].str.len <= LFS_AUDIT_STR_MAX);
	/* A string exactly at the cap is kept whole. */
	char exact[LFS_AUDIT_STR_MAX + 1];
	memset(exact, 'y', LFS_AUDIT_STR_MAX);
	exact[LFS_AUDIT_STR_MAX] = '\0';
	d[0].str = exact;
	rec.ndetails = 1;
	n = lfs_audit_format_line(line, &rec, prev, NULL);
	assert_non_null(strstr(line, exact));
	assert_null(strstr(line, "\\u2026"));
}

static void test_parser_is_strict(void **state)
{
	(void)state;
	uint8_t prev[32] = {0};
	char good[LFS_AUDIT_LINE_MAX + 1];
	struct lfs_audit_detail d[] = {{"slot", NULL, -2}, {"type", "passphrase", 0}};
	struct lfs_audit_record rec = {.seq = 12,
	                               .time_ms = 1000,
	                               .event = "keyslot-add",
	                               .outcome = "success",
	                               .details = d,
	                               .ndetails = 2};
	int n = lfs_audit_format_line(good, &rec, prev, NULL);
	struct lfs_audit_entry e;
	assert_int_equal(lfs_audit_parse_line(good, (size_t)n - 1, &e, NULL), 0);
	assert_false(e.has_caller || e.has_mac);
	assert_int_equal(e.detail[0].num, -2);
	assert_true(e.detail[1].is_str);
	static const struct {
		const char *from, *to;
	} edits[] = {
	    {"{\"seq\":12", "{ \"seq\":12"},
	    {"\"seq\":12", "\"seq\":012"},
	    {"\"seq\":12", "\"seq\":0"},
	    {"\"seq\":12", "\"seq\":-12"},
	    {"1970", "197a"},
	    {"01.000Z", "01.000"},
	    {"keyslot-add", "Keyslot-add"},
	    {"\"slot\":-2", "\"slot\":-0"},
	    {"\"slot\":-2", "\"slot\":2.5"},
	    {"\"type\"", "\"slot\""},
	    {"passphrase", "pass\\/phrase"},
	    {"passphrase", "pass\\u0041"},
	    {"passphrase", "pass\\ud800"},
	    {"passphrase", "pass\\u00E9"},
	    {"\"prev\":\"00", "\"prev\":\"0A"},
	    {"\"prev\":\"00", "\"prev\":\"0"},
	    {"00\"}\n", "00\"} \n"},
	    {"\"outcome\"", "\"result\""},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char bad[2 * LFS_AUDIT_LINE_MAX];
		const char *at = strstr(good, edits[i].from);
		assert_non_null(at);
		snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(at - good), good, edits[i].to,
		         at + strlen(edits[i].from));
		const char *why = NULL;
		if (lfs_audit_parse_line(bad, strlen(bad) - 1, &e, &why) == 0)
			fail_msg("accepted: %s", bad);
		assert_non_null(why);
	}
	/* Trailing bytes, and the newline itself, are not part of an entry. */
	assert_int_equal(lfs_audit_parse_line(good, (size_t)n, &e, NULL), -EBADMSG);
	assert_int_equal(lfs_audit_parse_line(good, (size_t)n - 2, &e, NULL), -EBADMSG);
}

static void test_head_format(void **state)
{
	(void)state;
	uint8_t key[32] = {1};
	char text[LFS_AUDIT_HEAD_MAX];
	struct lfs_audit_head in = {.seq = 99}, head;
	test_fill(in.hash, 32, 0xa0);
	uint8_t kh[32];
	test_fill(kh, 32, 0xb0);
	lfs_audit_set_anchor(&in, key, 97, kh);
	int n = lfs_audit_format_head(text, sizeof(text), &in);
	assert_true(n > 0 && (size_t)n <= LFS_AUDIT_HEAD_MAX);
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), 0);
	assert_int_equal(head.seq, 99);
	assert_memory_equal(head.hash, in.hash, 32);
	assert_true(head.has_anchor && !head.legacy);
	assert_int_equal(head.keyed_seq, 97);
	assert_memory_equal(head.keyed_hash, kh, 32);
	assert_true(lfs_audit_anchor_ok(key, &head));
	key[0] ^= 1;
	assert_false(lfs_audit_anchor_ok(key, &head));
	key[0] ^= 1;
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n - 1, &head), -EBADMSG);
	/* The largest head fits. */
	in.seq = in.keyed_seq = UINT64_MAX;
	memcpy(in.hash, in.keyed_hash, 32);
	n = lfs_audit_format_head(text, sizeof(text), &in);
	assert_true(n > 0);
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), 0);
	/* Without an anchor. */
	in.seq = 1;
	in.has_anchor = false;
	n = lfs_audit_format_head(text, sizeof(text), &in);
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), 0);
	assert_false(head.has_anchor);
	/* Anchors beyond the head, or at the head with another hash. */
	const char *bad[] = {
	    "{\"seq\":2,\"hash\":\"%s\",\"keyed_seq\":3,\"keyed_hash\":\"%s\",\"keyed_mac\":\"%s\"}"
	    "\n",
	    "{\"seq\":2,\"hash\":\"%s\",\"keyed_seq\":0,\"keyed_hash\":\"%s\",\"keyed_mac\":\"%s\"}"
	    "\n",
	};
	char a[65], b[65];
	memset(a, 'a', 64), memset(b, 'b', 64);
	a[64] = b[64] = '\0';
	for (size_t i = 0; i < 2; i++) {
		n = snprintf(text, sizeof(text), bad[i], a, b, a);
		assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), -EBADMSG);
	}
	n = snprintf(text, sizeof(text), bad[0], a, b, a);
	text[33 + 64 + 14] = '2'; /* keyed_seq 2 == seq, but hash b != a */
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), -EBADMSG);
}

/* The older keyed head {"seq","hash","mac"} is an anchor: its MAC is the
 * anchor MAC of the same entry, so logs written before anchors existed
 * keep verifying and their anchor is carried over. */
static void test_legacy_keyed_head(void **state)
{
	(void)state;
	uint8_t key[32] = {7}, hash[32], mac[32];
	char text[LFS_AUDIT_HEAD_MAX], hex[65], mhex[65];
	test_fill(hash, 32, 0x33);
	sodium_bin2hex(hex, sizeof(hex), hash, 32);
	int n = snprintf(text, sizeof(text), "{\"seq\":5,\"hash\":\"%s\"", hex);
	lfs_audit_head_mac(mac, key, text, (size_t)n);
	sodium_bin2hex(mhex, sizeof(mhex), mac, 32);
	n = snprintf(text, sizeof(text), "{\"seq\":5,\"hash\":\"%s\",\"mac\":\"%s\"}\n", hex, mhex);
	struct lfs_audit_head h;
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &h), 0);
	assert_true(h.has_anchor && h.legacy && h.keyed_seq == 5);
	assert_memory_equal(h.keyed_hash, hash, 32);
	assert_true(lfs_audit_anchor_ok(key, &h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_escaping_hostile_strings), T(test_long_strings_are_cut),
	    T(test_parser_is_strict),         T(test_head_format),
	    T(test_legacy_keyed_head),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
