/* SPDX-License-Identifier: Apache-2.0 */
/* Before every append: does the log still end where its head file (and,
 * in a long-running process, our own last append) says it ended? A log
 * cut at a line boundary, a head deleted or rewritten, or a keyed history
 * whose authenticated anchor was dropped is noticed here and recorded in
 * the log as an "audit-check" failure before the entry that found it, so
 * that the next append cannot quietly continue a cut chain (docs/AUDIT.md
 * section 3). Internal to the audit room. */
#ifndef LETHEFS_AUDIT_END_H
#define LETHEFS_AUDIT_END_H

#include <stdbool.h>
#include <stdint.h>

#include "audit_line.h"

/* Where the log ends, as its last lines say. */
struct lfs_audit_end {
	bool nonempty;         /* the file has bytes */
	bool from_head;        /* the last line was unreadable: seq taken from the head */
	bool last_keyed;       /* the last entry carries a MAC */
	uint64_t last_seq;     /* 0: no complete entry */
	uint8_t last_hash[32]; /* hash of the last line (genesis when none) */
};

/* What the check found: at most one problem, the first. */
struct lfs_audit_gap {
	bool found;
	const char *kind; /* "cut": entries are missing; "head": the head was replaced */
	char error[200];
	uint64_t head_seq, keyed_seq; /* what the head said (0: nothing) */
};

/* Reads the head file head_name in dirfd and compares it with end. key
 * (may be NULL) checks the anchor's MAC; without an anchor but with a key,
 * the log (log_name in dirfd) is scanned for keyed entries. remembered is
 * the seq this process last appended (0: none). *carry receives the anchor
 * an unkeyed append must keep (has_anchor false: none). Returns 0 (gap
 * says what was found) or -errno when the log cannot be read. */
int lfs_audit_check_end(int dirfd, const char *log_name, const char *head_name,
                        const struct lfs_audit_end *end, const uint8_t *key, uint64_t remembered,
                        struct lfs_audit_head *carry, struct lfs_audit_gap *gap);

/* The seq of the last entry of the log that carries a MAC (0: none),
 * reading the file behind fd from the start. -errno on a read error. */
int lfs_audit_last_keyed(int fd, uint64_t *seq);

#endif
