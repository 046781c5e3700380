/* SPDX-License-Identifier: Apache-2.0 */
/* journalctl-style time specifications (timespec.h). */
#define _GNU_SOURCE
#include "timespec.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Far enough for any log, small enough that sums cannot overflow. */
#define SPAN_MAX_MS (10000LL * 366 * 86400 * 1000)

static const struct {
	const char *name;
	int64_t ms;
} UNITS[] = {
    /* Longest names first, so that "min" is not read as "m" + "in". */
    {"seconds", 1000},
    {"second", 1000},
    {"minutes", 60000},
    {"minute", 60000},
    {"months", 2629800000LL},
    {"month", 2629800000LL},
    {"hours", 3600000},
    {"hour", 3600000},
    {"weeks", 604800000},
    {"week", 604800000},
    {"years", 31557600000LL},
    {"year", 31557600000LL},
    {"days", 86400000},
    {"day", 86400000},
    {"msec", 1},
    {"usec", 0},
    {"sec", 1000},
    {"min", 60000},
    {"hr", 3600000},
    {"ms", 1},
    {"us", 0},
    {"s", 1000},
    {"m", 60000},
    {"h", 3600000},
    {"d", 86400000},
    {"w", 604800000},
    {"M", 2629800000LL},
    {"y", 31557600000LL},
};

/* One unit name at p (case-sensitive: "M" is months, "m" minutes). */
static const char *unit(const char *p, int64_t *ms)
{
	for (size_t i = 0; i < sizeof(UNITS) / sizeof(UNITS[0]); i++) {
		size_t n = strlen(UNITS[i].name);
		if (!strncmp(p, UNITS[i].name, n) && !isalpha((unsigned char)p[n])) {
			*ms = UNITS[i].ms;
			return p + n;
		}
	}
	return NULL;
}

int lfs_parse_timespan(const char *s, int64_t *out_ms)
{
	int64_t total = 0;
	const char *p = s;
	bool any = false;
	while (*p == ' ')
		p++;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -1;
		int64_t whole = 0, frac = 0, scale = 1;
		while (isdigit((unsigned char)*p)) {
			whole = whole * 10 + (*p++ - '0');
			if (whole > SPAN_MAX_MS)
				return -1;
		}
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			while (isdigit((unsigned char)*p)) {
				if (scale < 1000000000LL)
					frac = frac * 10 + (*p - '0'), scale *= 10;
				p++;
			}
		}
		while (*p == ' ')
			p++;
		int64_t ms = 1000; /* a bare number is seconds */
		if (*p && !isdigit((unsigned char)*p)) {
			p = unit(p, &ms);
			if (!p)
				return -1;
		}
		if (ms && whole > SPAN_MAX_MS / ms)
			return -1;
		/* The fraction in floating point: frac * ms could overflow. */
		total += whole * ms + (int64_t)((double)frac / (double)scale * (double)ms);
		if (total > SPAN_MAX_MS)
			return -1;
		any = true;
		while (*p == ' ')
			p++;
	}
	if (!any)
		return -1;
	*out_ms = total;
	return 0;
}

/* Midnight (local time) of the day of t, moved by days. */
static int day_start(int64_t now_ms, int days, int64_t *out)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return -1;
	tm.tm_mday += days;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	time_t r = mktime(&tm);
	if (r == (time_t)-1)
		return -1;
	*out = (int64_t)r * 1000;
	return 0;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* "HH:MM[:SS[.frac]]" into tm and *ms. */
static int clock_time(const char **p, struct tm *tm, int64_t *ms)
{
	if (digits(p, 2, &tm->tm_hour) < 0 || *(*p)++ != ':' || digits(p, 2, &tm->tm_min) < 0)
		return -1;
	tm->tm_sec = 0;
	*ms = 0;
	if (**p == ':') {
		(*p)++;
		if (digits(p, 2, &tm->tm_sec) < 0)
			return -1;
		if (**p == '.') {
			int64_t scale = 1000;
			(*p)++;
			if (!isdigit((unsigned char)**p))
				return -1;
			while (isdigit((unsigned char)**p)) {
				scale /= 10;
				*ms += (**p - '0') * scale;
				(*p)++;
			}
		}
	}
	return tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60 ? -1 : 0;
}

/* The zone after a time: "", " UTC", "Z", "+hh:mm", "+hhmm", "+hh" (and
 * the same with '-', optionally after a space). *utc: the tm is UTC and
 * *offset_s is to be subtracted. */
static int zone(const char *p, bool *utc, int64_t *offset_s)
{
	*utc = false;
	*offset_s = 0;
	if (!*p)
		return 0;
	if (!strcmp(p, "Z") || !strcmp(p, " UTC") || !strcmp(p, " Z")) {
		*utc = true;
		return 0;
	}
	if (*p == ' ')
		p++;
	if (*p != '+' && *p != '-')
		return -1;
	int sign = *p++ == '-' ? -1 : 1, h, m = 0;
	if (digits(&p, 2, &h) < 0)
		return -1;
	if (*p == ':')
		p++;
	if (*p && digits(&p, 2, &m) < 0)
		return -1;
	if (*p || h > 23 || m > 59)
		return -1;
	*utc = true;
	*offset_s = sign * (h * 3600 + m * 60);
	return 0;
}

/* An optional weekday before a date; *wday is its tm_wday, or -1. */
static const char *skip_weekday(const char *p, int *wday)
{
	static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
	                                   "Thursday", "Friday", "Saturday"};
	*wday = -1;
	for (int i = 0; i < 7; i++) {
		size_t full = strlen(days[i]);
		*wday = i;
		if (!strncasecmp(p, days[i], full) && p[full] == ' ')
			return p + full + 1;
		if (!strncasecmp(p, days[i], 3) && p[3] == ' ')
			return p + 4;
	}
	*wday = -1;
	return p;
}

static int absolute(const char *s, int64_t now_ms, int64_t *out)
{
	struct tm tm = {0};
	int64_t ms = 0;
	int wday;
	const char *p = skip_weekday(s, &wday);
	bool have_date = false;
	if (isdigit((unsigned char)p[0]) && strlen(p) >= 10 && p[4] == '-') {
		int y, mo, d;
		if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
		    digits(&p, 2, &d) < 0 || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31)
			return -1;
		tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
		have_date = true;
		if ((*p == ' ' || *p == 'T') && isdigit((unsigned char)p[1])) {
			p++;
			if (clock_time(&p, &tm, &ms) < 0)
				return -1;
		}
	} else if (clock_time(&p, &tm, &ms) < 0) {
		return -1;
	}
	bool utc;
	int64_t off;
	if (zone(p, &utc, &off) < 0)
		return -1;
	if (!have_date) {
		/* A time of day alone: today, in the zone given (local time
		 * by default). */
		time_t now = (time_t)(now_ms / 1000);
		struct tm today;
		if (!(utc ? gmtime_r(&now, &today) : localtime_r(&now, &today)))
			return -1;
		tm.tm_year = today.tm_year, tm.tm_mon = today.tm_mon, tm.tm_mday = today.tm_mday;
	}
	int want_mday = tm.tm_mday;
	tm.tm_isdst = -1;
	time_t t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1 || tm.tm_mday != want_mday) /* 2026-02-31 */
		return -1;
	if (wday >= 0 && (!have_date || tm.tm_wday != wday))
		return -1; /* "Mon" before a Tuesday, as journalctl refuses it */
	*out = ((int64_t)t - off) * 1000 + ms;
	return 0;
}

int lfs_parse_timespec(const char *s, int64_t now_ms, int64_t *out_ms)
{
	size_t n = s ? strlen(s) : 0;
	int64_t span;
	if (n == 0 || n > 64)
		return -1;
	if (!strcmp(s, "now")) {
		*out_ms = now_ms;
		return 0;
	}
	if (!strcmp(s, "today"))
		return day_start(now_ms, 0, out_ms);
	if (!strcmp(s, "yesterday"))
		return day_start(now_ms, -1, out_ms);
	if (!strcmp(s, "tomorrow"))
		return day_start(now_ms, 1, out_ms);
	if (s[0] == '@') {
		char *end;
		double secs = strtod(s + 1, &end);
		if (!isdigit((unsigned char)s[1]) || *end || secs > 1e12)
			return -1;
		*out_ms = (int64_t)(secs * 1000);
		return 0;
	}
	if (s[0] == '+' || s[0] == '-') {
		if (lfs_parse_timespan(s + 1, &span) < 0)
			return -1;
		*out_ms = s[0] == '+' ? now_ms + span : now_ms - span;
		return 0;
	}
	char buf[72];
	memcpy(buf, s, n + 1);
	if (n > 4 && !strcmp(buf + n - 4, " ago")) {
		buf[n - 4] = '\0';
		if (lfs_parse_timespan(buf, &span) < 0)
			return -1;
		*out_ms = now_ms - span;
		return 0;
	}
	if (n > 5 && !strcmp(buf + n - 5, " left")) {
		buf[n - 5] = '\0';
		if (lfs_parse_timespan(buf, &span) < 0)
			return -1;
		*out_ms = now_ms + span;
		return 0;
	}
	if (absolute(s, now_ms, out_ms) == 0)
		return 0;
	/* lethefs's own older form: a bare span, that long ago. */
	if (lfs_parse_timespan(s, &span) == 0) {
		*out_ms = now_ms - span;
		return 0;
	}
	return -1;
}
