/* SPDX-License-Identifier: Apache-2.0 */
/* Durations in configs and on the command line, in systemd.time(7)'s
 * spellings: "90s", "15m", "15min", "72h", "3 days", "2w", "1 year",
 * compound forms such as "1h30m" or "1h 30min", fractions that come to whole
 * seconds ("1.5h"), a bare number of seconds, and "0" or "off" for none.
 * Not accepted: units below a second, and "M" (systemd's month, anyone
 * else's minute: a typo must not turn a TTL into months). */
#ifndef LETHEFS_DURATION_H
#define LETHEFS_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Longest duration accepted: 100 years, so that adding it to a time stamp
 * cannot overflow. */
#define LFS_DURATION_MAX (100ULL * 366 * 86400)

/* Returns 0 with *seconds set, or -1 for a malformed or too long value. */
int lfs_parse_duration(const char *s, uint64_t *seconds);
/* Writes the shortest exact form ("3d", "1h30m", "0"); returns the length,
 * or -1 if out is too small. */
int lfs_format_duration(uint64_t seconds, char *out, size_t outlen);

#endif
