/* SPDX-License-Identifier: Apache-2.0 */
#include "duration.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The units lfs_format_duration writes, largest first. */
static const struct {
	char suffix;
	uint64_t seconds;
} units[] = {{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

/* Every spelling accepted, as systemd.time(7) spells them, except the
 * sub-second units and "M" (systemd's month, read as minutes by anyone
 * else: a retention typo must not become months). */
static const struct {
	const char *name;
	uint64_t seconds;
} spellings[] = {
    {"s", 1},           {"sec", 1},          {"secs", 1},         {"second", 1},
    {"seconds", 1},     {"m", 60},           {"min", 60},         {"mins", 60},
    {"minute", 60},     {"minutes", 60},     {"h", 3600},         {"hr", 3600},
    {"hrs", 3600},      {"hour", 3600},      {"hours", 3600},     {"d", 86400},
    {"day", 86400},     {"days", 86400},     {"w", 604800},       {"week", 604800},
    {"weeks", 604800},  {"month", 2629800},  {"months", 2629800}, {"y", 31557600},
    {"year", 31557600}, {"years", 31557600},
};

static uint64_t unit_seconds(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
		if (strlen(spellings[i].name) == len && !strncmp(spellings[i].name, name, len))
			return spellings[i].seconds;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int lfs_parse_duration(const char *s, uint64_t *seconds)
{
	if (!s)
		return -1;
	while (is_space(*s))
		s++;
	if (strcmp(s, "off") == 0) {
		*seconds = 0;
		return 0;
	}
	uint64_t total = 0;
	int parts = 0;
	const char *p = s;
	for (;;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		if (!is_digit(*p))
			return -1;
		/* NUMBER[.FRACTION] */
		uint64_t n = 0, frac = 0, scale = 1;
		while (is_digit(*p)) {
			n = n * 10 + (uint64_t)(*p++ - '0');
			if (n > LFS_DURATION_MAX)
				return -1;
		}
		if (*p == '.') {
			p++;
			if (!is_digit(*p))
				return -1;
			for (; is_digit(*p); p++) {
				if (scale >= 1000000000ULL)
					return -1;
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		}
		while (is_space(*p))
			p++;
		const char *unit = p;
		while (is_letter(*p))
			p++;
		uint64_t mul = 1;
		if (p > unit) {
			mul = unit_seconds(unit, (size_t)(p - unit));
			if (!mul)
				return -1;
		} else if (parts > 0 || *p || scale > 1) {
			/* A bare number only alone: "1h30" is ambiguous, "1.5"
			 * has no unit to make whole seconds of. */
			return -1;
		}
		/* A fraction must come to whole seconds: 1.5h yes, 0.5s no. */
		if (frac && (frac * mul) % scale)
			return -1;
		if (n > LFS_DURATION_MAX / mul)
			return -1;
		uint64_t v = n * mul + frac * mul / scale;
		if (v > LFS_DURATION_MAX - total)
			return -1;
		total += v;
		parts++;
	}
	if (!parts)
		return -1;
	*seconds = total;
	return 0;
}

int lfs_format_duration(uint64_t seconds, char *out, size_t outlen)
{
	size_t used = 0;
	if (seconds == 0)
		return snprintf(out, outlen, "0") >= (int)outlen ? -1 : 1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && seconds; i++) {
		uint64_t n = seconds / units[i].seconds;
		if (!n)
			continue;
		int w = snprintf(out + used, outlen - used, "%llu%c", (unsigned long long)n,
		                 units[i].suffix);
		if (w < 0 || (size_t)w >= outlen - used)
			return -1;
		used += (size_t)w;
		seconds -= n * units[i].seconds;
	}
	return (int)used;
}
