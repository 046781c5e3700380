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
}

static void test_parse_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {"",	 "h",	 "-5m", "5 m", "5M", "1h30", "1.5h",
					  "5mm", " 5m", "5m ", "Off", "1y", "99999999999999999999"};
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
	static const uint64_t values[] = {0, 1, 59, 60, 61, 3600, 5400, 86400, 604800, 694861,
					  LFS_DURATION_MAX};
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
