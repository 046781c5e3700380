/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "audit_verify.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

/* ---- line reader ------------------------------------------------------- */

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

/* ---- verification ------------------------------------------------------ */

/* What verify remembers of each line: enough to classify the first broken
 * link without reading the log twice (about 90 bytes per entry). */
struct row {
	uint64_t seq;
	uint8_t hash[32], prev[32];
	const char *why; /* not NULL: the line is not a valid entry */
	bool partial, keyed, mac_ok, unlock_success;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

const char *lfs_audit_problem_name(enum lfs_audit_problem p)
{
	static const char *const names[] = {"intact",	"edited",    "deleted",	 "inserted",
					    "reordered", "truncated", "head-mismatch"};
	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "unknown";
}

static void report(struct lfs_audit_report *rep, enum lfs_audit_problem p, size_t line_idx,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void report(struct lfs_audit_report *rep, enum lfs_audit_problem p, size_t line_idx,
		   const char *fmt, ...)
{
	va_list ap;
	rep->problem = p;
	rep->line = line_idx + 1;
	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
}

static int add_row(struct rows *t, const char *line, size_t len, enum lfs_audit_line_status st,
		   const uint8_t *key)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct row *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v, t->cap = cap;
	}
	struct row *r = &t->v[t->n++];
	struct lfs_audit_entry e;
	memset(r, 0, sizeof(*r));
	lfs_audit_line_hash(r->hash, line, len);
	r->partial = st == LFS_AUDIT_LINE_PARTIAL;
	if (st == LFS_AUDIT_LINE_OVERLONG) {
		r->why = "longer than any entry";
		return 0;
	}
	if (lfs_audit_parse_line(line, len, &e, &r->why) < 0)
		return 0;
	r->seq = e.seq;
	memcpy(r->prev, e.prev, 32);
	r->keyed = e.has_mac;
	r->mac_ok = key && e.has_mac && lfs_audit_mac_ok(key, line, &e);
	r->unlock_success = e.event.len == 6 && !memcmp(line + e.event.off, "unlock", 6) &&
			    e.outcome.len == 7 && !memcmp(line + e.outcome.off, "success", 7);
	return 0;
}

static long find_hash(const struct rows *t, const uint8_t hash[32], size_t not)
{
	for (size_t i = 0; i < t->n; i++)
		if (i != not && !t->v[i].why && !memcmp(t->v[i].hash, hash, 32))
			return (long)i;
	return -1;
}

static long find_seq(const struct rows *t, uint64_t seq, size_t from)
{
	for (size_t i = from; i < t->n; i++)
		if (!t->v[i].why && t->v[i].seq == seq)
			return (long)i;
	return -1;
}

/* The first line K > i where the chain resumes as if lines i..K-1 were not
 * there, or -1. */
static long chain_resumes(const struct rows *t, size_t i, uint64_t seq, const uint8_t prev[32])
{
	for (size_t k = i + 1; k < t->n; k++)
		if (!t->v[k].why && t->v[k].seq == seq && !memcmp(t->v[k].prev, prev, 32))
			return (long)k;
	return -1;
}

typedef unsigned long long ull;

/* Line i breaks the chain (expected seq exp after prev exp_prev): name the
 * likeliest tampering. Every case is a failure; only the wording varies. */
static void classify_break(const struct rows *t, size_t i, uint64_t exp, const uint8_t exp_prev[32],
			   struct lfs_audit_report *rep)
{
	const struct row *r = &t->v[i];
	ull L = i + 1, s = r->seq;
	long k = chain_resumes(t, i, exp, exp_prev);
	if (r->why) {
		if (r->partial)
			report(rep, LFS_AUDIT_TRUNCATED, i,
			       "truncated tail: line %llu is a partial entry (cut short: "
			       "truncated, or a crash during a write)",
			       L);
		else if (k > 0)
			report(rep, LFS_AUDIT_INSERTED, i,
			       "line %llu: inserted (not a valid entry: %s; the chain continues "
			       "around it, so it was inserted or is an entry cut short by a crash)",
			       L, r->why);
		else
			report(rep, LFS_AUDIT_EDITED, i, "line %llu: edited (not a valid entry: %s)",
			       L, r->why);
		return;
	}
	if (!memcmp(r->prev, exp_prev, 32)) {
		report(rep, LFS_AUDIT_EDITED, i,
		       "entry seq %llu (line %llu): edited (seq %llu expected; its link to the "
		       "previous entry is intact)",
		       s, L, (ull)exp);
		return;
	}
	long dup = find_hash(t, r->hash, i);
	if (dup >= 0 && (size_t)dup < i) {
		report(rep, LFS_AUDIT_INSERTED, i,
		       "line %llu (seq %llu): inserted (a copy of line %llu)", L, s, (ull)dup + 1);
		return;
	}
	long m = find_hash(t, r->prev, i);
	if (m >= 0 && s == t->v[m].seq + 1) {
		if ((size_t)m > i)
			report(rep, LFS_AUDIT_REORDERED, i,
			       "entry seq %llu (line %llu): reordered (it follows seq %llu, which "
			       "is at line %llu)",
			       s, L, s - 1, (ull)m + 1);
		else if ((size_t)m + 2 == i)
			report(rep, LFS_AUDIT_INSERTED, (size_t)m + 1,
			       "line %llu: inserted (the entry after it, seq %llu at line %llu, "
			       "links to line %llu)",
			       (ull)i, s, L, (ull)m + 1);
		else
			report(rep, LFS_AUDIT_INSERTED, (size_t)m + 1,
			       "lines %llu-%llu: inserted (the entry after them, seq %llu at line "
			       "%llu, links to line %llu)",
			       (ull)m + 2, (ull)i, s, L, (ull)m + 1);
		return;
	}
	if (k > 0) {
		if ((size_t)k == i + 1)
			report(rep, LFS_AUDIT_INSERTED, i,
			       "line %llu (seq %llu): inserted (the chain continues around it)", L,
			       s);
		else
			report(rep, LFS_AUDIT_INSERTED, i,
			       "lines %llu-%llu: inserted (the chain continues around them)", L,
			       (ull)k);
		return;
	}
	if (s > exp) {
		long at = find_seq(t, exp, i + 1);
		if (at >= 0)
			report(rep, LFS_AUDIT_REORDERED, i,
			       "entry seq %llu (line %llu): reordered (seq %llu comes later, at "
			       "line %llu)",
			       s, L, (ull)exp, (ull)at + 1);
		else if (s - 1 == exp)
			report(rep, LFS_AUDIT_DELETED, i,
			       "entry seq %llu: deleted (it belonged before line %llu, seq %llu)",
			       (ull)exp, L, s);
		else
			report(rep, LFS_AUDIT_DELETED, i,
			       "entries %llu-%llu: deleted (they belonged before line %llu, seq "
			       "%llu)",
			       (ull)exp, s - 1, L, s);
		return;
	}
	if (s == exp) {
		if (i == 0)
			report(rep, LFS_AUDIT_EDITED, i,
			       "entry seq 1 (line 1): edited (it does not start this vault's "
			       "chain: edited, or the log of another vault)");
		else if (t->v[i - 1].mac_ok)
			report(rep, LFS_AUDIT_EDITED, i,
			       "entry seq %llu (line %llu): edited (its link to the previous, "
			       "authentic entry is wrong)",
			       s, L);
		else
			report(rep, LFS_AUDIT_EDITED, i - 1,
			       "entry seq %llu (line %llu): edited (its hash no longer matches the "
			       "link stored in seq %llu, line %llu; or that link was edited)",
			       s - 1, L - 1, s, L);
		return;
	}
	long first = find_seq(t, s, 0);
	if (first >= 0 && (size_t)first < i)
		report(rep, LFS_AUDIT_INSERTED, i,
		       "line %llu (seq %llu): inserted (seq %llu is already at line %llu)", L, s, s,
		       (ull)first + 1);
	else
		report(rep, LFS_AUDIT_EDITED, i,
		       "entry seq %llu (line %llu): edited (seq %llu expected, link broken)", s, L,
		       (ull)exp);
}

/* Walks the chain from the vault's genesis; stops at the first problem. */
static void check_chain(const struct rows *t, const uint8_t genesis[32], const uint8_t *key,
			struct lfs_audit_report *rep)
{
	const uint8_t *exp_prev = genesis;
	uint64_t exp = 1;
	size_t last_keyed = 0;
	bool any_keyed = false;
	for (size_t i = 0; i < t->n; i++) {
		const struct row *r = &t->v[i];
		if (r->why) {
			classify_break(t, i, exp, exp_prev, rep);
			return;
		}
		if (key && r->keyed && !r->mac_ok) {
			report(rep, LFS_AUDIT_EDITED, i,
			       "entry seq %llu (line %llu): edited (MAC mismatch)", (ull)r->seq,
			       (ull)i + 1);
			return;
		}
		if (r->seq != exp || memcmp(r->prev, exp_prev, 32)) {
			classify_break(t, i, exp, exp_prev, rep);
			return;
		}
		if (key && !r->keyed && r->unlock_success) {
			report(rep, LFS_AUDIT_EDITED, i,
			       "entry seq %llu (line %llu): edited (a successful unlock without a "
			       "MAC: its MAC was stripped)",
			       (ull)r->seq, (ull)i + 1);
			return;
		}
		if (r->keyed)
			rep->keyed++, last_keyed = i, any_keyed = true;
		rep->last_seq = r->seq;
		exp = r->seq + 1;
		exp_prev = r->hash;
	}
	rep->unsealed = any_keyed ? t->n - 1 - last_keyed : t->n;
}

/* The head file names the last entry written: a log that ends earlier was
 * cut at a line boundary. */
static void check_head(const struct rows *t, int dirfd, const char *head_name, const uint8_t *key,
		       struct lfs_audit_report *rep)
{
	unsigned char *text;
	size_t len;
	struct lfs_audit_head h;
	int r = lfs_read_small_file(dirfd, head_name, LFS_AUDIT_HEAD_MAX, &text, &len);
	if (r == -ENOENT) {
		if (t->n)
			report(rep, LFS_AUDIT_HEAD_MISMATCH, t->n - 1,
			       "head file %s is missing: a cut at the end of the log cannot be "
			       "ruled out",
			       head_name);
		else
			rep->line = 0;
		return;
	}
	rep->head_present = true;
	bool mac_bad = false;
	if (r == 0) {
		r = lfs_audit_parse_head((const char *)text, len, &h);
		if (r == 0 && key && h.has_mac) {
			uint8_t want[32];
			lfs_audit_head_mac(want, key, (const char *)text, h.signed_len);
			mac_bad = sodium_memcmp(want, h.mac, 32) != 0;
		}
		free(text);
	}
	if (r < 0) {
		report(rep, LFS_AUDIT_HEAD_MISMATCH, 0, "head file %s is unreadable or malformed",
		       head_name);
		rep->line = 0;
		return;
	}
	rep->head_seq = h.seq;
	rep->head_keyed = h.has_mac;
	if (mac_bad) {
		report(rep, LFS_AUDIT_HEAD_MISMATCH, 0, "head file %s: edited (MAC mismatch)",
		       head_name);
		rep->line = 0;
		return;
	}
	if (h.seq > rep->last_seq) {
		if (rep->last_seq + 1 == h.seq)
			report(rep, LFS_AUDIT_TRUNCATED, t->n,
			       "truncated tail: entry seq %llu deleted (the head file records it; "
			       "the log ends at seq %llu)",
			       (ull)h.seq, (ull)rep->last_seq);
		else
			report(rep, LFS_AUDIT_TRUNCATED, t->n,
			       "truncated tail: entries %llu-%llu deleted (the head file records "
			       "seq %llu; the log ends at seq %llu)",
			       (ull)rep->last_seq + 1, (ull)h.seq, (ull)h.seq, (ull)rep->last_seq);
		return;
	}
	/* In an intact chain, seq s is on line s. */
	if (memcmp(t->v[h.seq - 1].hash, h.hash, 32) != 0) {
		report(rep, LFS_AUDIT_HEAD_MISMATCH, (size_t)h.seq - 1,
		       "head file %s does not match entry seq %llu (line %llu): the entry or "
		       "the head was replaced",
		       head_name, (ull)h.seq, (ull)h.seq);
		return;
	}
	rep->head_behind = h.seq < rep->last_seq;
}

int lfs_audit_verify(int vault_dirfd, const struct lfs_vault_config *cfg, const uint8_t *key,
		     struct lfs_audit_report *rep)
{
	int dirfd;
	char name[256], head[256 + sizeof(LFS_AUDIT_HEAD_SUFFIX)];
	uint8_t genesis[32];
	memset(rep, 0, sizeof(*rep));
	rep->macs_checked = key != NULL;
	int r = lfs_audit_locate(vault_dirfd, cfg, &dirfd, name);
	if (r < 0)
		return r;
	snprintf(head, sizeof(head), "%s%s", name, LFS_AUDIT_HEAD_SUFFIX);
	lfs_audit_genesis(genesis, cfg->uuid);

	struct rows t = {0};
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		r = -errno;
		close(dirfd);
		return r;
	}
	rep->log_present = fd >= 0;
	if (fd >= 0) {
		struct lfs_audit_reader rd;
		const char *line;
		size_t len;
		enum lfs_audit_line_status st;
		r = lfs_audit_reader_init(&rd, fd);
		while (r == 0 && (r = lfs_audit_reader_next(&rd, &line, &len, &st)) == 1)
			r = add_row(&t, line, len, st, key);
		lfs_audit_reader_free(&rd);
		close(fd);
	}
	if (r < 0) {
		free(t.v);
		close(dirfd);
		return r;
	}
	rep->entries = t.n;
	check_chain(&t, genesis, key, rep);
	if (rep->problem == LFS_AUDIT_INTACT)
		check_head(&t, dirfd, head, key, rep);
	free(t.v);
	close(dirfd);
	return 0;
}
