/* SPDX-License-Identifier: Apache-2.0 */
/* What lethefs fsck prints: for people (CORRUPT/PENDING lines, a progress
 * line on a terminal, a summary) or, with --json, one JSON object per line
 * (docs/CLI-ABI.md): {"type":"corrupt"|"pending"|"ok","path":..,"reason":..},
 * {"type":"note","message":..} and a last {"type":"summary",...}. */
#ifndef LETHEFS_FSCK_REPORT_H
#define LETHEFS_FSCK_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct fsck_report {
	bool json;
	bool progress; /* a progress line on stderr (a terminal, not --json) */
	bool line_shown;
	struct timespec start, last;
};

struct fsck_counts {
	unsigned long dirs, files, links, problems, pending;
	uint64_t bytes; /* backing bytes of the files checked */
};

void lfs_fsck_report_init(struct fsck_report *r, bool json);
/* One checked item: type "corrupt", "pending" or "ok" (reason may be NULL). */
void lfs_fsck_item(struct fsck_report *r, const char *type, const char *path, const char *reason);
/* A line about the run itself (the journal, a recovery). */
void lfs_fsck_note(struct fsck_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Redraws the progress line, at most four times a second. */
void lfs_fsck_tick(struct fsck_report *r, const struct fsck_counts *c);
/* The last line: counts, and whether the vault is clean. */
void lfs_fsck_summary(struct fsck_report *r, const struct fsck_counts *c);

#endif
