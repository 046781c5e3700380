/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the audit log line by line with constant memory, whatever the
 * file holds: for verify, show and the append's check of a head without
 * an anchor. */
#ifndef LETHEFS_AUDIT_READER_H
#define LETHEFS_AUDIT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_line.h"

enum lfs_audit_line_status {
	LFS_AUDIT_LINE_COMPLETE, /* ended by a newline */
	LFS_AUDIT_LINE_PARTIAL,  /* the file ends inside it */
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

#endif
