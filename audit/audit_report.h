/* SPDX-License-Identifier: Apache-2.0 */
/* What lfs_audit_verify (audit_verify.h) reports: the first problem and
 * the counters. */
#ifndef LETHEFS_AUDIT_REPORT_H
#define LETHEFS_AUDIT_REPORT_H

#include <stdbool.h>
#include <stdint.h>

enum lfs_audit_problem {
	LFS_AUDIT_INTACT = 0,
	LFS_AUDIT_EDITED,
	LFS_AUDIT_DELETED,
	LFS_AUDIT_INSERTED,
	LFS_AUDIT_REORDERED,
	LFS_AUDIT_TRUNCATED,
	LFS_AUDIT_HEAD_MISMATCH, /* the head file was edited or the log rolled back */
	LFS_AUDIT_ROLLED_BACK,   /* the system journal holds entries the log lost or changed */
};

struct lfs_audit_report {
	uint64_t entries;  /* lines in the log */
	uint64_t last_seq; /* of the last entry when intact */
	uint64_t keyed;    /* entries carrying a MAC */
	uint64_t unsealed; /* unkeyed entries after the last keyed one */
	bool macs_checked; /* a key was given */
	bool log_present, head_present;
	bool head_keyed;     /* the head carries an anchor (a keyed entry it vouches for) */
	uint64_t anchor_seq; /* that entry's seq; 0: none */
	bool head_behind;    /* head names an earlier entry (crash before it was updated) */
	uint64_t head_seq;
	enum lfs_audit_problem problem;
	uint64_t line; /* where the first problem is, from 1; 0 when none */
	char message[512];
	/* --journal (lfs_audit_check_journal): records of this vault found
	 * there, the highest seq among them, and log entries with no copy
	 * there (forwarding was not running, or the journal was rotated). */
	bool journal_checked;
	uint64_t journal_entries, journal_last_seq, journal_missing;
};

const char *lfs_audit_problem_name(enum lfs_audit_problem p);

#endif
