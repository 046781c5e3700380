/* SPDX-License-Identifier: Apache-2.0 */
/* The check of the log's end against its head file (audit_end.h). */
#define _GNU_SOURCE
#include "audit_end.h"
#include "audit_reader.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef unsigned long long ull;

static void found(struct lfs_audit_gap *g, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void found(struct lfs_audit_gap *g, const char *kind, const char *fmt, ...)
{
	if (g->found)
		return; /* the first problem is the one reported */
	va_list ap;
	g->found = true;
	g->kind = kind;
	va_start(ap, fmt);
	vsnprintf(g->error, sizeof(g->error), fmt, ap);
	va_end(ap);
}

int lfs_audit_last_keyed(int fd, uint64_t *seq)
{
	struct lfs_audit_reader rd;
	const char *line;
	size_t len;
	enum lfs_audit_line_status st;
	*seq = 0;
	int r = lfs_audit_reader_init(&rd, fd);
	while (r == 0 && (r = lfs_audit_reader_next(&rd, &line, &len, &st)) == 1) {
		struct lfs_audit_entry e;
		r = 0;
		if (st == LFS_AUDIT_LINE_COMPLETE &&
		    lfs_audit_parse_line(line, len, &e, NULL) == 0 && e.has_mac && e.seq > *seq)
			*seq = e.seq;
	}
	lfs_audit_reader_free(&rd);
	return r < 0 ? r : 0;
}

/* The head against the log's last entry. */
static void check_position(const struct lfs_audit_head *h, const struct lfs_audit_end *end,
                           struct lfs_audit_gap *g)
{
	ull L = end->last_seq;
	if (h->seq > L)
		found(g, "cut", "the head file records seq %llu but the log ends at seq %llu",
		      (ull)h->seq, L);
	else if (h->seq == L && !end->from_head && memcmp(h->hash, end->last_hash, 32))
		found(g, "head",
		      "the head file's hash of seq %llu does not match the log's last entry: "
		      "the entry or the head was replaced",
		      L);
	else if (h->seq + 1 < L)
		found(g, "head",
		      "the head file records seq %llu, %llu entries before the end of the log: it "
		      "was rolled back, or earlier updates of it failed",
		      (ull)h->seq, L - h->seq);
	/* h->seq == L - 1: an append was interrupted between its entry and
	 * the head; nothing is missing. */
}

/* The anchor: the newest keyed entry the head vouches for. */
static int check_anchor(int dirfd, const char *log_name, const struct lfs_audit_head *h,
                        const struct lfs_audit_end *end, const uint8_t *key,
                        struct lfs_audit_head *carry, struct lfs_audit_gap *g)
{
	if (h && h->has_anchor) {
		if (key && !lfs_audit_anchor_ok(key, h)) {
			found(g, "head",
			      "the head file's anchor (keyed seq %llu) does not "
			      "authenticate: the head was forged",
			      (ull)h->keyed_seq);
			return 0;
		}
		if (h->keyed_seq > end->last_seq) {
			/* Not carried on: the gap entry records it instead. */
			found(g, "cut",
			      "the head file vouches for keyed entry seq %llu but the log ends at "
			      "seq %llu",
			      (ull)h->keyed_seq, (ull)end->last_seq);
			return 0;
		}
		/* The head names the last entry, which is keyed: the append
		 * that wrote both anchored it there. An older anchor means an
		 * older head with its position rewritten. */
		if (h->seq == end->last_seq && end->last_keyed && h->keyed_seq < h->seq) {
			found(g, "head",
			      "the head file names keyed entry seq %llu but vouches for the older "
			      "keyed entry seq %llu: it was rolled back",
			      (ull)h->seq, (ull)h->keyed_seq);
			return 0;
		}
		*carry = *h;
		return 0;
	}
	if (!key || !end->nonempty)
		return 0;
	/* A head without an anchor is what an attacker writes after cutting
	 * a keyed log: look for keyed entries (rare: only the first keyed
	 * append of a log, or after tampering). */
	int fd = lfs_open_regular(dirfd, log_name);
	if (fd < 0)
		return fd;
	uint64_t k;
	int r = lfs_audit_last_keyed(fd, &k);
	close(fd);
	if (r == 0 && k > 0)
		found(g, "cut",
		      "the head file carries no authenticated anchor although the log holds keyed "
		      "entries (the last at seq %llu): the log was cut and its head rewritten",
		      (ull)k);
	return r;
}

int lfs_audit_check_end(int dirfd, const char *log_name, const char *head_name,
                        const struct lfs_audit_end *end, const uint8_t *key, uint64_t remembered,
                        struct lfs_audit_head *carry, struct lfs_audit_gap *g)
{
	unsigned char *text = NULL;
	size_t len;
	struct lfs_audit_head h = {0};
	bool have = false;
	memset(carry, 0, sizeof(*carry));
	memset(g, 0, sizeof(*g));
	int r = lfs_read_small_file(dirfd, head_name, LFS_AUDIT_HEAD_MAX, &text, &len);
	if (r == 0) {
		have = lfs_audit_parse_head((const char *)text, len, &h) == 0;
		free(text);
		if (!have)
			found(g, "head", "the head file is malformed");
	} else if (r == -ENOENT) {
		if (end->nonempty)
			found(g, "head", "the head file is missing");
	} else {
		found(g, "head", "the head file cannot be read (%s)", strerror(-r));
	}
	if (have) {
		g->head_seq = h.seq;
		g->keyed_seq = h.has_anchor ? h.keyed_seq : 0;
		check_position(&h, end, g);
	}
	r = check_anchor(dirfd, log_name, have ? &h : NULL, end, key, carry, g);
	if (remembered > end->last_seq)
		found(g, "cut", "this process appended seq %llu, but the log now ends at seq %llu",
		      (ull)remembered, (ull)end->last_seq);
	return r;
}
