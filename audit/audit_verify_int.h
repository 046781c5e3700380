/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the verifier's files (audit_verify.c: reading and the
 * chain; audit_classify.c: naming a broken link; audit_verify_end.c: the
 * head file and recorded gaps). Internal to the audit room. */
#ifndef LETHEFS_AUDIT_VERIFY_INT_H
#define LETHEFS_AUDIT_VERIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_line.h"
#include "audit_report.h"

/* What verify remembers of each line: enough to classify the first broken
 * link without reading the log twice (about 90 bytes per entry). */
struct lfs_audit_row {
	uint64_t seq;
	uint8_t hash[32], prev[32];
	const char *why; /* not NULL: the line is not a valid entry */
	bool partial, keyed, mac_ok, unlock_success;
};

/* The first "audit-check" failure: an append found the log cut or its
 * head replaced and said so in the log (audit_end.h). */
struct lfs_audit_gap_seen {
	bool found;
	size_t line_idx;
	uint64_t seq;
	bool cut; /* kind "cut", else "head" */
	char error[LFS_AUDIT_STR_MAX + 1];
};

struct lfs_audit_rows {
	struct lfs_audit_row *v;
	size_t n, cap;
	uint64_t last_keyed_seq; /* of the last keyed entry of an intact chain; 0: none */
	struct lfs_audit_gap_seen gap;
};

typedef unsigned long long ull;

void lfs_audit_report_problem(struct lfs_audit_report *rep, enum lfs_audit_problem p,
                              size_t line_idx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Line i breaks the chain (expected seq exp after prev exp_prev): names
 * the likeliest tampering in rep. */
void lfs_audit_classify_break(const struct lfs_audit_rows *t, size_t i, uint64_t exp,
                              const uint8_t exp_prev[32], struct lfs_audit_report *rep);

/* After an intact chain: a recorded gap, then the head file. */
void lfs_audit_check_gaps(const struct lfs_audit_rows *t, struct lfs_audit_report *rep);
void lfs_audit_check_head(const struct lfs_audit_rows *t, int dirfd, const char *head_name,
                          const uint8_t *key, struct lfs_audit_report *rep);

#endif
