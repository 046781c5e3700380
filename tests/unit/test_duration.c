/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for duration parsing and formatting (common/duration.c). */
#include "testutil.h"

#include "../../common/duration.h"

static uint64_t parsed(const char *s)
{
	uint64_t v = 12345;
	if (lfs_parse_duration(s, &v) != 0)
		fail_msg("'%s' rejected", s);
	return v;
}

static void test_parse_valid(void **state)
{
	(void)state;
	assert_int_equal(parsed("0"), 0);
	assert_int_equal(parsed("off"), 0);
	assert_int_equal(parsed("45"), 45);
	assert_int_equal(parsed("90s"), 90);
	assert_int_equal(parsed("15m"), 900);
	assert_int_equal(parsed("72h"), 72 * 3600);
	assert_int_equal(parsed("7d"), 7 * 86400);
	assert_int_equal(parsed("2w"), 14 * 86400);
	assert_int_equal(parsed("1h30m"), 5400);
	assert_int_equal(parsed("1d2h3m4s"), 86400 + 7200 + 180 + 4);
	/* systemd.time(7) spellings */
	assert_int_equal(parsed("15min"), 900);
	assert_int_equal(parsed("3 days"), 3 * 86400);
	assert_int_equal(parsed("1h 30m"), 5400);
	assert_int_equal(parsed("1 hour 30 minutes"), 5400);
	assert_int_equal(parsed("2weeks"), 14 * 86400);
	assert_int_equal(parsed("1 day 12 hours"), 36 * 3600);
	assert_int_equal(parsed("5 m"), 300);
	assert_int_equal(parsed("1.5h"), 5400);
	assert_int_equal(parsed("2.5 days"), 216000);
	assert_int_equal(parsed("90 sec"), 90);
	assert_int_equal(parsed("1 second"), 1);
	assert_int_equal(parsed("1y"), 31557600);
	assert_int_equal(parsed("2 months"), 2 * 2629800);
	assert_int_equal(parsed(" 5m"), 300);
	assert_int_equal(parsed("5m "), 300);
	assert_int_equal(parsed("\t7d"), 7 * 86400);
}

static void test_parse_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {"",
	                                  "h",
	                                  "-5m",
	                                  "5M",
	                                  "1h30",
	                                  "5mm",
	                                  "Off",
	                                  "0.5s",
	                                  "1.01m",
	                                  "1ms",
	                                  "5 M",
	                                  "1.2.3h",
	                                  "1h 30",
	                                  "m5",
	                                  "1.",
	                                  ".5h",
	                                  "1.5",
	                                  "5 mins x",
	                                  "1hour30",
	                                  "   ",
	                                  "5m,2h",
	                                  "99999999999999999999",
	                                  "1.0000000001h"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 7;
		if (lfs_parse_duration(bad[i], &v) == 0)
			fail_msg("'%s' accepted as %llu", bad[i], (unsigned long long)v);
		assert_int_equal(v, 7);
	}
	uint64_t v;
	assert_int_equal(lfs_parse_duration(NULL, &v), -1);
}

static void test_limit(void **state)
{
	(void)state;
	char s[64];
	uint64_t v;
	snprintf(s, sizeof(s), "%llus", (unsigned long long)LFS_DURATION_MAX);
	assert_int_equal(lfs_parse_duration(s, &v), 0);
	snprintf(s, sizeof(s), "%llus", (unsigned long long)LFS_DURATION_MAX + 1);
	assert_int_equal(lfs_parse_duration(s, &v), -1);
	snprintf(s, sizeof(s), "%llus1s", (unsigned long long)LFS_DURATION_MAX);
	assert_int_equal(lfs_parse_duration(s, &v), -1);
}

static void test_format_roundtrip(void **state)
{
	(void)state;
	static const uint64_t values[] = {
	    0, 1, 59, 60, 61, 3600, 5400, 86400, 604800, 694861, LFS_DURATION_MAX};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char s[64];
		assert_true(lfs_format_duration(values[i], s, sizeof(s)) > 0);
		assert_int_equal(parsed(s), values[i]);
	}
	char s[64];
	lfs_format_duration(5400, s, sizeof(s));
	assert_string_equal(s, "1h30m");
	lfs_format_duration(3 * 86400, s, sizeof(s));
	assert_string_equal(s, "3d");
	char tiny[3];
	assert_int_equal(lfs_format_duration(5400, tiny, sizeof(tiny)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_format_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
