/* SPDX-License-Identifier: Apache-2.0 */
/* Points in time as journalctl --since/--until take them (systemd.time(7)):
 * "now", "today", "yesterday", "tomorrow"; "2026-12-01", "2026-12-01 10:00",
 * "2026-12-01 10:00:05", optionally after a weekday ("Tue 2026-12-01 ...")
 * and with fractions of a second; ISO 8601 with a "T" ("2026-12-01T10:00:05");
 * a time of day alone ("10:00", today); "@1764576005" (Unix seconds);
 * relative to now: "-1h", "+30min", "2 days ago", "1h left", "-1h 30min".
 * Without a zone a time is local time, as for journalctl; a trailing " UTC",
 * "Z" or "+01:00"/"+0100" gives the zone. Also, as lethefs always took
 * them, a bare span means that long ago ("2h", "7d"). Not accepted: time
 * zone names (Europe/Berlin) and two-digit years. */
#ifndef LETHEFS_TIMESPEC_H
#define LETHEFS_TIMESPEC_H

#include <stdint.h>

/* Parses s relative to now_ms (Unix milliseconds). Returns 0 with *out_ms
 * (Unix milliseconds), or -1 for anything malformed or out of range. */
int lfs_parse_timespec(const char *s, int64_t now_ms, int64_t *out_ms);

/* A systemd time span ("1h 30min", "2 days", "90s", "1.5h", a bare number
 * of seconds) in milliseconds. Returns 0 or -1. */
int lfs_parse_timespan(const char *s, int64_t *out_ms);

#endif
