/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the control-socket protocol (daemon/ctlproto.c): the
 * strict request grammar, and the JSON writer and reader. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>

#include "../../daemon/ctlproto.h"

static int parse(const char *line, struct lfs_ctl_request *req)
{
	return lfs_ctl_parse_request(line, strlen(line), req);
}

static void test_requests(void **state)
{
	(void)state;
	struct lfs_ctl_request r;
	assert_int_equal(parse("lethefs-ctl 1 status\n", &r), 0);
	assert_int_equal(r.verb, LFS_CTL_STATUS);
	assert_int_equal(parse("lethefs-ctl 1 lock\n", &r), 0);
	assert_int_equal(r.verb, LFS_CTL_LOCK);
	assert_false(r.force);
	assert_int_equal(parse("lethefs-ctl 1 lock force\n", &r), 0);
	assert_true(r.force);
	assert_int_equal(parse("lethefs-ctl 1 unlock secret 17\n", &r), 0);
	assert_int_equal(r.verb, LFS_CTL_UNLOCK);
	assert_int_equal(r.kind, LFS_CTL_SECRET);
	assert_int_equal(r.payload_len, 17);
	assert_int_equal(parse("lethefs-ctl 1 unlock master 32\n", &r), 0);
	assert_int_equal(r.kind, LFS_CTL_MASTER);
	assert_int_equal(parse("lethefs-ctl 1 unlock secret 4096\n", &r), 0);
	assert_int_equal(parse("lethefs-ctl 1 rotate\n", &r), 0);
	assert_int_equal(r.verb, LFS_CTL_ROTATE);
	assert_int_equal(parse("lethefs-ctl 1 stage-sync\n", &r), 0);
	assert_int_equal(r.verb, LFS_CTL_STAGE_SYNC);
	assert_int_equal(parse("lethefs-ctl 1 stage-ttl 8000abcd 86400\n", &r), 0);
	assert_int_equal(r.verb, LFS_CTL_STAGE_TTL);
	assert_int_equal(r.stage_id, 0x8000abcd);
	assert_int_equal(r.seconds, 86400);
	assert_int_equal(parse("lethefs-ctl 1 stage-ttl ffffffff 0\n", &r), 0);
	assert_int_equal(r.seconds, 0);
}

static void test_bad_requests(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "\n",
	    "lethefs-ctl 1 status",   /* no newline */
	    "lethefs-ctl 2 status\n", /* version */
	    "lethefs-ctl 1 Status\n",
	    "lethefs-ctl 1  status\n", /* double space */
	    " lethefs-ctl 1 status\n",
	    "lethefs-ctl 1 status \n",
	    "lethefs-ctl 1 status extra\n",
	    "lethefs-ctl 1 lock now\n",
	    "lethefs-ctl 1 unlock secret\n",
	    "lethefs-ctl 1 unlock secret 0\n",
	    "lethefs-ctl 1 unlock secret 017\n",
	    "lethefs-ctl 1 unlock secret 4097\n",
	    "lethefs-ctl 1 unlock secret -1\n",
	    "lethefs-ctl 1 unlock secret 99999999999999999999999\n",
	    "lethefs-ctl 1 unlock key 32\n",
	    "lethefs-ctl 1 status\r\n",
	    "lethefs-ctl 1 rotate now\n",
	    "lethefs-ctl 1 Rotate\n",
	    "lethefs-ctl 1 status\nlethefs-ctl 1 status\n",
	    "other 1 status\n",
	    "lethefs-ctl 1 stage-ttl 0000abcd 60\n",  /* not a staging id */
	    "lethefs-ctl 1 stage-ttl 8000ABCD 60\n",  /* upper case */
	    "lethefs-ctl 1 stage-ttl 8000abc 60\n",   /* 7 digits */
	    "lethefs-ctl 1 stage-ttl 8000abcd0 60\n", /* 9 digits */
	    "lethefs-ctl 1 stage-ttl 8000abcd -60\n",
	    "lethefs-ctl 1 stage-ttl 8000abcd 060\n",
	    "lethefs-ctl 1 stage-ttl 8000abcd 12345678901\n", /* 11 digits */
	    "lethefs-ctl 1 stage-ttl 8000abcd\n",
	    "lethefs-ctl 1 stage-ttl 8000abcd 60 x\n",
	    "lethefs-ctl 1 stage-sync now\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lfs_ctl_request r;
		if (parse(bad[i], &r) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
	struct lfs_ctl_request r;
	assert_int_equal(lfs_ctl_parse_request("lethefs-ctl 1 st\0tus\n", 21, &r), -EINVAL);
	char longline[LFS_CTL_HEADER_MAX + 8];
	memset(longline, 'a', sizeof(longline));
	longline[sizeof(longline) - 1] = '\n';
	assert_int_equal(lfs_ctl_parse_request(longline, sizeof(longline), &r), -EINVAL);
}

static void test_format_roundtrip(void **state)
{
	(void)state;
	const struct lfs_ctl_request reqs[] = {
	    {.verb = LFS_CTL_STATUS},
	    {.verb = LFS_CTL_LOCK, .force = true},
	    {.verb = LFS_CTL_UNLOCK, .kind = LFS_CTL_MASTER, .payload_len = 32},
	    {.verb = LFS_CTL_ROTATE},
	    {.verb = LFS_CTL_STAGE_SYNC},
	    {.verb = LFS_CTL_STAGE_TTL, .stage_id = 0x80000001, .seconds = 9999999999ULL},
	    {.verb = LFS_CTL_STAGE_TTL, .stage_id = 0xffffffff, .seconds = 0},
	};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		char line[LFS_CTL_HEADER_MAX];
		struct lfs_ctl_request back;
		int n = lfs_ctl_format_request(&reqs[i], line, sizeof(line));
		assert_true(n > 0);
		assert_int_equal(lfs_ctl_parse_request(line, (size_t)n, &back), 0);
		assert_memory_equal(&back, &reqs[i], sizeof(back));
	}
}

static void test_json_writer_escapes(void **state)
{
	(void)state;
	char buf[128];
	size_t used = 0;
	assert_int_equal(
	    lfs_json_put_string(buf, sizeof(buf), &used, "a\"b\\c\n\x01\xff\xe2\x82\xac"), 0);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\u000a\\u0001\\u00ff\xe2\x82\xac\"");
	char tiny[4];
	used = 0;
	assert_int_equal(lfs_json_put_string(tiny, sizeof(tiny), &used, "abcdef"), -1);
}

static void test_json_reader(void **state)
{
	(void)state;
	const char *j = "{\"ok\":true, \"n\":-12,\"s\":\"x\\\"y\\u0041\",\"z\":null}\n";
	char out[32];
	assert_int_equal(lfs_json_get(j, strlen(j), "ok", out, sizeof(out)), 0);
	assert_string_equal(out, "true");
	assert_int_equal(lfs_json_get(j, strlen(j), "n", out, sizeof(out)), 0);
	assert_string_equal(out, "-12");
	assert_int_equal(lfs_json_get(j, strlen(j), "s", out, sizeof(out)), 0);
	assert_string_equal(out, "x\"yA");
	assert_int_equal(lfs_json_get(j, strlen(j), "z", out, sizeof(out)), 0);
	assert_string_equal(out, "null");
	assert_int_equal(lfs_json_get(j, strlen(j), "missing", out, sizeof(out)), -ENOENT);
	/* Too small for the value: an error, never a silent cut. */
	assert_int_equal(lfs_json_get(j, strlen(j), "s", out, 3), -EINVAL);
	static const char *const bad[] = {"",
	                                  "[]",
	                                  "{",
	                                  "{\"a\"}",
	                                  "{\"a\":}",
	                                  "{\"a\":1,}",
	                                  "{\"a\":\"x}",
	                                  "{\"a\":\"\\q\"}",
	                                  "{\"a\":\"\\u12\"}",
	                                  "{\"a\":1 \"b\":2}",
	                                  "{\"a\":{\"b\":1}",
	                                  "{\"a\":{\"b\":\"}\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (lfs_json_get(bad[i], strlen(bad[i]), "a", out, sizeof(out)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	/* A length that cuts the object short is respected. */
	assert_int_equal(lfs_json_get(j, 10, "ok", out, sizeof(out)), -EINVAL);
}

/* status' fuse_requests: a nested object is skipped over (members after it
 * are found) and returned as its text, which is read in turn. */
static void test_json_reader_nested(void **state)
{
	(void)state;
	const char *j = "{\"a\":1,\"r\":{\"lookup\":7,\"s\":\"}{\",\"in\":{\"x\":[1,{}]}},\"b\":2}";
	char out[64], v[16];
	assert_int_equal(lfs_json_get(j, strlen(j), "b", out, sizeof(out)), 0);
	assert_string_equal(out, "2");
	assert_int_equal(lfs_json_get(j, strlen(j), "r", out, sizeof(out)), 0);
	assert_string_equal(out, "{\"lookup\":7,\"s\":\"}{\",\"in\":{\"x\":[1,{}]}}");
	assert_int_equal(lfs_json_get(out, strlen(out), "lookup", v, sizeof(v)), 0);
	assert_string_equal(v, "7");
	/* Too small for the object: an error, never a silent cut. */
	assert_int_equal(lfs_json_get(j, strlen(j), "r", out, 8), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_requests),         cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_format_roundtrip), cmocka_unit_test(test_json_writer_escapes),
	    cmocka_unit_test(test_json_reader),      cmocka_unit_test(test_json_reader_nested),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
