/* SPDX-License-Identifier: Apache-2.0 */
/* The verifier's end checks (audit_verify_int.h): entries in which an
 * append recorded a cut it found, and the head file with its anchor, the
 * newest keyed entry, authenticated under the audit key. */
#include "audit_verify_int.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lfs_audit_check_gaps(const struct lfs_audit_rows *t, struct lfs_audit_report *rep)
{
	const struct lfs_audit_gap_seen *g = &t->gap;
	if (!g->found)
		return;
	lfs_audit_report_problem(
	    rep, g->cut ? LFS_AUDIT_TRUNCATED : LFS_AUDIT_HEAD_MISMATCH, g->line_idx,
	    "entry seq %llu (line %llu) records that the log was tampered with "
	    "before it was written: %s",
	    (ull)g->seq, (ull)g->line_idx + 1, g->error);
}

/* The head names the log's last entry (or the one before, when an append
 * was interrupted between its entry and the head). */
static bool check_position(const struct lfs_audit_rows *t, const char *head_name,
                           const struct lfs_audit_head *h, struct lfs_audit_report *rep)
{
	ull last = rep->last_seq;
	if (h->seq > last) {
		if (last + 1 == h->seq)
			lfs_audit_report_problem(rep, LFS_AUDIT_TRUNCATED, t->n,
			                         "truncated tail: entry seq %llu deleted (the head "
			                         "file records it; the log ends at seq %llu)",
			                         (ull)h->seq, last);
		else
			lfs_audit_report_problem(rep, LFS_AUDIT_TRUNCATED, t->n,
			                         "truncated tail: entries %llu-%llu deleted (the "
			                         "head file records seq %llu; the log ends at seq "
			                         "%llu)",
			                         last + 1, (ull)h->seq, (ull)h->seq, last);
		return false;
	}
	/* In an intact chain, seq s is on line s. */
	if (memcmp(t->v[h->seq - 1].hash, h->hash, 32) != 0) {
		lfs_audit_report_problem(rep, LFS_AUDIT_HEAD_MISMATCH, (size_t)h->seq - 1,
		                         "head file %s does not match entry seq %llu (line %llu): "
		                         "the entry or the head was replaced",
		                         head_name, (ull)h->seq, (ull)h->seq);
		return false;
	}
	if (h->seq + 1 < last) {
		lfs_audit_report_problem(rep, LFS_AUDIT_HEAD_MISMATCH, (size_t)h->seq - 1,
		                         "head file %s records seq %llu, %llu entries before the "
		                         "end of the log: it was rolled back to an older copy, or "
		                         "updates of it failed",
		                         head_name, (ull)h->seq, last - h->seq);
		return false;
	}
	rep->head_behind = h->seq < last;
	return true;
}

/* The anchor must name the log's last keyed entry: a log cut after a
 * keyed entry leaves an anchor beyond its end, and an anchor cannot be
 * forged without the audit key. */
static void check_anchor(const struct lfs_audit_rows *t, const char *head_name,
                         const struct lfs_audit_head *h, const uint8_t *key,
                         struct lfs_audit_report *rep)
{
	ull K = t->last_keyed_seq;
	if (!h->has_anchor) {
		if (K)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_TRUNCATED, t->n - 1,
			    "head file %s is not authenticated (it carries no keyed anchor), yet "
			    "the log holds keyed entries, the last at seq %llu: the log was cut "
			    "after a later keyed entry and the head rewritten (or the head was "
			    "last written, while locked, by a lethefs without anchors)",
			    head_name, K);
		return;
	}
	if (key && !lfs_audit_anchor_ok(key, h)) {
		lfs_audit_report_problem(rep, LFS_AUDIT_HEAD_MISMATCH, t->n - 1,
		                         "head file %s: edited (its anchor's MAC does not match)",
		                         head_name);
		return;
	}
	const struct lfs_audit_row *a = &t->v[h->keyed_seq - 1]; /* keyed_seq <= seq <= n */
	if (!a->keyed || memcmp(a->hash, h->keyed_hash, 32) != 0) {
		lfs_audit_report_problem(rep, LFS_AUDIT_HEAD_MISMATCH, (size_t)h->keyed_seq - 1,
		                         "head file %s vouches for keyed entry seq %llu, but line "
		                         "%llu is not that entry (replaced, or its MAC stripped)",
		                         head_name, (ull)h->keyed_seq, (ull)h->keyed_seq);
		return;
	}
	/* A later keyed entry is fine only as the one append the head missed. */
	if (h->keyed_seq < K && !(rep->head_behind && K == rep->last_seq))
		lfs_audit_report_problem(
		    rep, LFS_AUDIT_HEAD_MISMATCH, (size_t)K - 1,
		    "head file %s vouches for keyed entry seq %llu, but the "
		    "log holds later keyed entries up to seq %llu: the head was "
		    "rolled back to an older copy",
		    head_name, (ull)h->keyed_seq, K);
}

void lfs_audit_check_head(const struct lfs_audit_rows *t, int dirfd, const char *head_name,
                          const uint8_t *key, struct lfs_audit_report *rep)
{
	unsigned char *text;
	size_t len;
	struct lfs_audit_head h;
	int r = lfs_read_small_file(dirfd, head_name, LFS_AUDIT_HEAD_MAX, &text, &len);
	if (r == -ENOENT) {
		if (t->n)
			lfs_audit_report_problem(rep, LFS_AUDIT_HEAD_MISMATCH, t->n - 1,
			                         "head file %s is missing: a cut at the end of the "
			                         "log cannot be ruled out",
			                         head_name);
		return;
	}
	rep->head_present = true;
	if (r == 0) {
		r = lfs_audit_parse_head((const char *)text, len, &h);
		free(text);
	}
	if (r < 0) {
		lfs_audit_report_problem(rep, LFS_AUDIT_HEAD_MISMATCH, 0,
		                         "head file %s is unreadable or malformed", head_name);
		rep->line = 0;
		return;
	}
	rep->head_seq = h.seq;
	rep->head_keyed = h.has_anchor;
	rep->anchor_seq = h.has_anchor ? h.keyed_seq : 0;
	if (check_position(t, head_name, &h, rep))
		check_anchor(t, head_name, &h, key, rep);
}
