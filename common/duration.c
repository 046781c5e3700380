/* SPDX-License-Identifier: Apache-2.0 */
#include "duration.h"

#include <stdio.h>
#include <string.h>

static const struct {
	char suffix;
	uint64_t seconds;
} units[] = {{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

static uint64_t unit_seconds(char c)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].suffix == c)
			return units[i].seconds;
	return 0;
}

int lfs_parse_duration(const char *s, uint64_t *seconds)
{
	if (!s || !*s)
		return -1;
	if (strcmp(s, "off") == 0) {
		*seconds = 0;
		return 0;
	}
	uint64_t total = 0;
	const char *p = s;
	while (*p) {
		if (*p < '0' || *p > '9')
			return -1;
		uint64_t n = 0;
		while (*p >= '0' && *p <= '9') {
			n = n * 10 + (uint64_t)(*p - '0');
			if (n > LFS_DURATION_MAX)
				return -1;
			p++;
		}
		uint64_t mul = 1;
		if (*p) {
			mul = unit_seconds(*p);
			if (!mul)
				return -1;
			p++;
		} else if (p != s && total != 0) {
			return -1; /* "1h30": a trailing bare number is ambiguous */
		}
		if (n > LFS_DURATION_MAX / mul || total + n * mul > LFS_DURATION_MAX)
			return -1;
		total += n * mul;
	}
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
