/* SPDX-License-Identifier: Apache-2.0 */
/* The verifier (audit_verify.h): reads every line once, remembers what
 * the checks need, walks the chain from the vault's genesis, then looks
 * at recorded gaps and the head file (audit_verify_end.c). */
#define _GNU_SOURCE
#include "audit_verify.h"
#include "audit_verify_int.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *lfs_audit_problem_name(enum lfs_audit_problem p)
{
	static const char *const names[] = {"intact",        "edited",     "deleted",
	                                    "inserted",      "reordered",  "truncated",
	                                    "head-mismatch", "rolled-back"};
	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "unknown";
}

void lfs_audit_report_problem(struct lfs_audit_report *rep, enum lfs_audit_problem p,
                              size_t line_idx, const char *fmt, ...)
{
	va_list ap;
	rep->problem = p;
	rep->line = line_idx + 1;
	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
}

static bool span_is(const char *line, struct lfs_audit_span sp, const char *s)
{
	return sp.len == strlen(s) && !memcmp(line + sp.off, s, sp.len);
}

/* The first entry an append wrote on finding the log cut or its head
 * replaced (audit_end.h): its kind and error, for the report. */
static void remember_gap(struct lfs_audit_rows *t, const char *line,
                         const struct lfs_audit_entry *e)
{
	struct lfs_audit_gap_seen *g = &t->gap;
	g->found = true;
	g->line_idx = t->n - 1;
	g->seq = e->seq;
	for (unsigned i = 0; i < e->ndetails; i++) {
		if (!e->detail[i].is_str)
			continue;
		struct lfs_audit_span v = e->detail[i].str;
		if (span_is(line, e->detail[i].key, "kind"))
			g->cut = span_is(line, v, "cut");
		else if (span_is(line, e->detail[i].key, "error"))
			snprintf(g->error, sizeof(g->error), "%.*s", (int)v.len, line + v.off);
	}
}

static int add_row(struct lfs_audit_rows *t, const char *line, size_t len,
                   enum lfs_audit_line_status st, const uint8_t *key)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct lfs_audit_row *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v, t->cap = cap;
	}
	struct lfs_audit_row *r = &t->v[t->n++];
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
	r->unlock_success = span_is(line, e.event, "unlock") && span_is(line, e.outcome, "success");
	if (!t->gap.found && span_is(line, e.event, "audit-check") &&
	    span_is(line, e.outcome, "failure"))
		remember_gap(t, line, &e);
	return 0;
}

/* Walks the chain from the vault's genesis; stops at the first problem. */
static void check_chain(struct lfs_audit_rows *t, const uint8_t genesis[32], const uint8_t *key,
                        struct lfs_audit_report *rep)
{
	const uint8_t *exp_prev = genesis;
	uint64_t exp = 1;
	size_t last_keyed = 0;
	bool any_keyed = false;
	for (size_t i = 0; i < t->n; i++) {
		const struct lfs_audit_row *r = &t->v[i];
		if (r->why) {
			lfs_audit_classify_break(t, i, exp, exp_prev, rep);
			return;
		}
		if (key && r->keyed && !r->mac_ok) {
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_EDITED, i,
			    "entry seq %llu (line %llu): edited (MAC mismatch)", (ull)r->seq,
			    (ull)i + 1);
			return;
		}
		if (r->seq != exp || memcmp(r->prev, exp_prev, 32)) {
			lfs_audit_classify_break(t, i, exp, exp_prev, rep);
			return;
		}
		if (key && !r->keyed && r->unlock_success) {
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_EDITED, i,
			    "entry seq %llu (line %llu): edited (a successful unlock without a "
			    "MAC: its MAC was stripped)",
			    (ull)r->seq, (ull)i + 1);
			return;
		}
		if (r->keyed)
			rep->keyed++, last_keyed = i, any_keyed = true, t->last_keyed_seq = r->seq;
		rep->last_seq = r->seq;
		exp = r->seq + 1;
		exp_prev = r->hash;
	}
	rep->unsealed = any_keyed ? t->n - 1 - last_keyed : t->n;
}

int lfs_audit_verify_log(int dirfd, const char *name, const uint8_t genesis[32], const uint8_t *key,
                         struct lfs_audit_report *rep)
{
	char head[256 + sizeof(LFS_AUDIT_HEAD_SUFFIX)];
	memset(rep, 0, sizeof(*rep));
	rep->macs_checked = key != NULL;
	snprintf(head, sizeof(head), "%s%s", name, LFS_AUDIT_HEAD_SUFFIX);
	struct lfs_audit_rows t = {0};
	int r = 0;
	/* O_NONBLOCK: a FIFO planted under the name must not hang verify. */
	int fd = lfs_open_regular(dirfd, name); /* (nor a device opened) */
	if (fd < 0 && fd != -ENOENT)
		return fd;
	rep->log_present = fd >= 0;
	if (fd >= 0) {
		struct lfs_audit_reader rd;
		const char *line;
		size_t len;
		enum lfs_audit_line_status ls;
		r = lfs_audit_reader_init(&rd, fd);
		while (r == 0 && (r = lfs_audit_reader_next(&rd, &line, &len, &ls)) == 1)
			r = add_row(&t, line, len, ls, key);
		lfs_audit_reader_free(&rd);
		close(fd);
	}
	if (r < 0) {
		free(t.v);
		return r;
	}
	rep->entries = t.n;
	check_chain(&t, genesis, key, rep);
	if (rep->problem == LFS_AUDIT_INTACT)
		lfs_audit_check_gaps(&t, rep);
	if (rep->problem == LFS_AUDIT_INTACT)
		lfs_audit_check_head(&t, dirfd, head, key, rep);
	free(t.v);
	return 0;
}

int lfs_audit_verify(int vault_dirfd, const struct lfs_vault_config *cfg, const uint8_t *key,
                     struct lfs_audit_report *rep)
{
	int dirfd;
	char name[256];
	uint8_t genesis[32];
	int r = lfs_audit_locate(vault_dirfd, cfg, &dirfd, name);
	if (r < 0)
		return r;
	lfs_audit_genesis(genesis, cfg->uuid);
	r = lfs_audit_verify_log(dirfd, name, genesis, key, rep);
	close(dirfd);
	return r;
}
