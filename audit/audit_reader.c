/* SPDX-License-Identifier: Apache-2.0 */
/* The bounded line reader of the audit log (audit_reader.h). */
#include "audit_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READER_CAP (2 * LFS_AUDIT_LINE_MAX)

int lfs_audit_reader_init(struct lfs_audit_reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->buf = malloc(READER_CAP);
	return r->buf ? 0 : -ENOMEM;
}

void lfs_audit_reader_free(struct lfs_audit_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

int lfs_audit_reader_next(struct lfs_audit_reader *r, const char **line, size_t *len,
                          enum lfs_audit_line_status *status)
{
	for (;;) {
		char *p = r->buf + r->start;
		char *nl = memchr(p, '\n', r->end - r->start);
		if (nl) {
			size_t n = (size_t)(nl - p);
			r->start += n + 1;
			if (r->skipping) { /* the rest of an overlong line */
				r->skipping = false;
				continue;
			}
			*line = p, *len = n, *status = LFS_AUDIT_LINE_COMPLETE;
			r->lineno++;
			return 1;
		}
		if (r->end - r->start >= LFS_AUDIT_LINE_MAX) {
			r->start = r->end;
			if (!r->skipping) {
				r->skipping = true;
				*line = p, *len = LFS_AUDIT_LINE_MAX;
				*status = LFS_AUDIT_LINE_OVERLONG;
				r->lineno++;
				return 1;
			}
		}
		if (r->eof) {
			if (r->start == r->end || r->skipping)
				return 0;
			*line = p, *len = r->end - r->start, *status = LFS_AUDIT_LINE_PARTIAL;
			r->start = r->end;
			r->lineno++;
			return 1;
		}
		memmove(r->buf, p, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
		ssize_t n = read(r->fd, r->buf + r->end, READER_CAP - r->end);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0)
			r->eof = true;
		if (n > 0)
			r->end += (size_t)n;
	}
}
