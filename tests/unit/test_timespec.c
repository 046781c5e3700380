/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for journalctl-style times (common/timespec.c), in a fixed
 * zone with summer time (a POSIX TZ rule, so no tzdata is needed): the
 * forms `audit show --since/--until` take, their meaning (local time
 * unless a zone is given) and what is refused. */
#include "testutil.h"

#include <stdlib.h>
#include <time.h>

#include "../../common/timespec.h"

/* 2026-12-06 15:30:00 UTC, a Sunday; 16:30 in the test zone (CET). */
#define NOW (1796571000LL * 1000)

static int64_t at(const char *s)
{
	int64_t v = -1;
	if (lfs_parse_timespec(s, NOW, &v) != 0)
		fail_msg("'%s' rejected", s);
	return v;
}

static void refused(const char *s)
{
	int64_t v;
	if (lfs_parse_timespec(s, NOW, &v) == 0)
		fail_msg("'%s' accepted (%lld)", s, (long long)v);
}

static int setup(void **state)
{
	(void)state;
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	return 0;
}

static void test_words(void **state)
{
	(void)state;
	assert_int_equal(at("now"), NOW);
	/* Midnight local time: 2026-12-05T23:00:00Z is 2026-12-06 00:00 CET. */
	assert_int_equal(at("today"), 1796511600LL * 1000);
	assert_int_equal(at("yesterday"), (1796511600LL - 86400) * 1000);
	assert_int_equal(at("tomorrow"), (1796511600LL + 86400) * 1000);
}

static void test_relative(void **state)
{
	(void)state;
	assert_int_equal(at("-1h"), NOW - 3600000);
	assert_int_equal(at("+5min"), NOW + 300000);
	assert_int_equal(at("-1h 30min"), NOW - 5400000);
	assert_int_equal(at("2 days ago"), NOW - 2 * 86400000LL);
	assert_int_equal(at("3h left"), NOW + 3 * 3600000LL);
	assert_int_equal(at("-1.5h"), NOW - 5400000);
	assert_int_equal(at("-90"), NOW - 90000);
	assert_int_equal(at("-2weeks"), NOW - 14 * 86400000LL);
	/* lethefs's older form: a bare span, that long ago. */
	assert_int_equal(at("2h"), NOW - 7200000);
	assert_int_equal(at("7d"), NOW - 7 * 86400000LL);
	assert_int_equal(at("1h30m"), NOW - 5400000);
}

static void test_absolute_local(void **state)
{
	(void)state;
	/* Winter: CET = UTC+1. */
	assert_int_equal(at("2026-12-01"), 1796079600LL * 1000);
	assert_int_equal(at("2026-12-01 10:00"), (1796079600LL + 36000) * 1000);
	assert_int_equal(at("2026-12-01 10:00:05"), (1796079600LL + 36005) * 1000);
	assert_int_equal(at("2026-12-01T10:00:05"), (1796079600LL + 36005) * 1000);
	assert_int_equal(at("2026-12-01 10:00:05.25"), (1796079600LL + 36005) * 1000 + 250);
	assert_int_equal(at("Tue 2026-12-01 10:00"), (1796079600LL + 36000) * 1000);
	assert_int_equal(at("tuesday 2026-12-01"), 1796079600LL * 1000);
	/* Summer: CEST = UTC+2. */
	assert_int_equal(at("2026-07-01 12:00"), 1782900000LL * 1000);
	/* A time of day alone is today. */
	assert_int_equal(at("10:00"), (1796511600LL + 36000) * 1000);
	assert_int_equal(at("16:30:00"), NOW);
}

static void test_absolute_zoned(void **state)
{
	(void)state;
	assert_int_equal(at("2026-12-01T10:00:05Z"), 1796119205LL * 1000);
	assert_int_equal(at("2026-11-29T07:00:00Z"), 1795935600LL * 1000);
	assert_int_equal(at("2026-12-01 10:00:05 UTC"), 1796119205LL * 1000);
	assert_int_equal(at("2026-12-01 10:00 UTC"), 1796119200LL * 1000);
	assert_int_equal(at("2026-12-01T10:00:05+01:00"), (1796119205LL - 3600) * 1000);
	assert_int_equal(at("2026-12-01 10:00:05 -0530"), (1796119205LL + 19800) * 1000);
	assert_int_equal(at("10:00 UTC"), (1796515200LL + 36000) * 1000);
	assert_int_equal(at("@1796119205"), 1796119205LL * 1000);
	assert_int_equal(at("@1796119205.5"), 1796119205LL * 1000 + 500);
}

static void test_refused(void **state)
{
	(void)state;
	const char *bad[] = {"",
	                     "soon",
	                     "2026-13-01",
	                     "2026-02-30",
	                     "2026-12-01 25:00",
	                     "2026-12-01 10",
	                     "2026-12-01 10:00:05 Europe/Berlin",
	                     "Mon 2026-12-01",
	                     "26-12-01",
	                     "1969-12-31",
	                     "-",
	                     "-1 lightyear",
	                     "2h ago ago",
	                     "@",
	                     "@x",
	                     "2026-12-01 10:00:05+25:00",
	                     "-99999999999999999999h",
	                     "2026-12-01X10:00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i]);
}

static void test_spans(void **state)
{
	(void)state;
	int64_t v;
	assert_int_equal(lfs_parse_timespan("1min 30s", &v), 0);
	assert_int_equal(v, 90000);
	assert_int_equal(lfs_parse_timespan("2M", &v), 0);
	assert_int_equal(v, 2 * 2629800000LL);
	assert_int_equal(lfs_parse_timespan("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(lfs_parse_timespan("1 year", &v), 0);
	assert_int_equal(v, 31557600000LL);
	assert_int_equal(lfs_parse_timespan("3 hr", &v), 0);
	assert_int_equal(v, 3 * 3600000LL);
	/* A long fraction of a long unit (found by fuzz_timespec: overflowed). */
	assert_int_equal(lfs_parse_timespan("7.333333333333333 y", &v), 0);
	assert_true(v > 7 * 31557600000LL && v < 8 * 31557600000LL);
	assert_int_equal(lfs_parse_timespan("h", &v), -1);
	assert_int_equal(lfs_parse_timespan("1 minx", &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_words),          cmocka_unit_test(test_relative),
	    cmocka_unit_test(test_absolute_local), cmocka_unit_test(test_absolute_zoned),
	    cmocka_unit_test(test_refused),        cmocka_unit_test(test_spans),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
