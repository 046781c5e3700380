/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the audit log back: a bounded line reader (for verify and show)
 * and the verifier, which checks every chain link, every MAC when given the
 * key, and the head file, and explains the first problem it meets. */
#ifndef LETHEFS_AUDIT_VERIFY_H
#define LETHEFS_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"

enum lfs_audit_line_status {
	LFS_AUDIT_LINE_COMPLETE, /* ended by a newline */
	LFS_AUDIT_LINE_PARTIAL,	 /* the file ends inside it */
	LFS_AUDIT_LINE_OVERLONG, /* longer than any entry; cut, the rest skipped */
};

/* Reads lines of at most LFS_AUDIT_LINE_MAX bytes with constant memory,
 * whatever the file holds. */
struct lfs_audit_reader {
	int fd;
	char *buf;
	size_t start, end;
	bool eof, skipping;
	uint64_t lineno; /* of the line last returned, from 1 */
};

int lfs_audit_reader_init(struct lfs_audit_reader *r, int fd);
void lfs_audit_reader_free(struct lfs_audit_reader *r);
/* Returns 1 with *line (not NUL-terminated, no newline; valid until the
 * next call), 0 at the end of the file, or -errno. */
int lfs_audit_reader_next(struct lfs_audit_reader *r, const char **line, size_t *len,
			  enum lfs_audit_line_status *status);

enum lfs_audit_problem {
	LFS_AUDIT_INTACT = 0,
	LFS_AUDIT_EDITED,
	LFS_AUDIT_DELETED,
	LFS_AUDIT_INSERTED,
	LFS_AUDIT_REORDERED,
	LFS_AUDIT_TRUNCATED,
	LFS_AUDIT_HEAD_MISMATCH, /* the head file was edited or the log rolled back */
};

struct lfs_audit_report {
	uint64_t entries;  /* lines in the log */
	uint64_t last_seq; /* of the last entry when intact */
	uint64_t keyed;	   /* entries carrying a MAC */
	uint64_t unsealed; /* unkeyed entries after the last keyed one */
	bool macs_checked; /* a key was given */
	bool log_present, head_present, head_keyed;
	bool head_behind; /* head names an earlier entry (crash before it was updated) */
	uint64_t head_seq;
	enum lfs_audit_problem problem;
	uint64_t line; /* where the first problem is, from 1; 0 when none */
	char message[512];
};

const char *lfs_audit_problem_name(enum lfs_audit_problem p);

/* Verifies the vault's log. key: the audit key, or NULL to check only the
 * chain and structure. Returns 0 when the check ran (rep->problem says how
 * it went), or -errno when the log could not be read. */
int lfs_audit_verify(int vault_dirfd, const struct lfs_vault_config *cfg, const uint8_t *key,
		     struct lfs_audit_report *rep);

#endif
