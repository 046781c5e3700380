/* SPDX-License-Identifier: Apache-2.0 */
/* Naming a broken link of the audit chain (audit_verify_int.h): deleted,
 * inserted, reordered or edited. Every case is a failure; only the wording
 * varies. */
#include "audit_verify_int.h"

#include <string.h>

static long find_hash(const struct lfs_audit_rows *t, const uint8_t hash[32], size_t not )
{
	for (size_t i = 0; i < t->n; i++)
		if (i != not &&!t->v[i].why && !memcmp(t->v[i].hash, hash, 32))
			return (long)i;
	return -1;
}

static long find_seq(const struct lfs_audit_rows *t, uint64_t seq, size_t from)
{
	for (size_t i = from; i < t->n; i++)
		if (!t->v[i].why && t->v[i].seq == seq)
			return (long)i;
	return -1;
}

/* The first line K > i where the chain resumes as if lines i..K-1 were not
 * there, or -1. */
static long chain_resumes(const struct lfs_audit_rows *t, size_t i, uint64_t seq,
                          const uint8_t prev[32])
{
	for (size_t k = i + 1; k < t->n; k++)
		if (!t->v[k].why && t->v[k].seq == seq && !memcmp(t->v[k].prev, prev, 32))
			return (long)k;
	return -1;
}

/* Line i breaks the chain (expected seq exp after prev exp_prev): name the
 * likeliest tampering. Every case is a failure; only the wording varies. */
void lfs_audit_classify_break(const struct lfs_audit_rows *t, size_t i, uint64_t exp,
                              const uint8_t exp_prev[32], struct lfs_audit_report *rep)
{
	const struct lfs_audit_row *r = &t->v[i];
	ull L = i + 1, s = r->seq;
	long k = chain_resumes(t, i, exp, exp_prev);
	if (r->why) {
		if (r->partial)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_TRUNCATED, i,
			    "truncated tail: line %llu is a partial entry (cut short: "
			    "truncated, or a crash during a write)",
			    L);
		else if (k > 0)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_INSERTED, i,
			    "line %llu: inserted (not a valid entry: %s; the chain continues "
			    "around it, so it was inserted or is an entry cut short by a crash)",
			    L, r->why);
		else
			lfs_audit_report_problem(rep, LFS_AUDIT_EDITED, i,
			                         "line %llu: edited (not a valid entry: %s)", L,
			                         r->why);
		return;
	}
	if (!memcmp(r->prev, exp_prev, 32)) {
		lfs_audit_report_problem(
		    rep, LFS_AUDIT_EDITED, i,
		    "entry seq %llu (line %llu): edited (seq %llu expected; its link to the "
		    "previous entry is intact)",
		    s, L, (ull)exp);
		return;
	}
	long dup = find_hash(t, r->hash, i);
	if (dup >= 0 && (size_t)dup < i) {
		lfs_audit_report_problem(rep, LFS_AUDIT_INSERTED, i,
		                         "line %llu (seq %llu): inserted (a copy of line %llu)", L,
		                         s, (ull)dup + 1);
		return;
	}
	long m = find_hash(t, r->prev, i);
	if (m >= 0 && s == t->v[m].seq + 1) {
		if ((size_t)m > i)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_REORDERED, i,
			    "entry seq %llu (line %llu): reordered (it follows seq %llu, which "
			    "is at line %llu)",
			    s, L, s - 1, (ull)m + 1);
		else if ((size_t)m + 2 == i)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_INSERTED, (size_t)m + 1,
			    "line %llu: inserted (the entry after it, seq %llu at line %llu, "
			    "links to line %llu)",
			    (ull)i, s, L, (ull)m + 1);
		else
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_INSERTED, (size_t)m + 1,
			    "lines %llu-%llu: inserted (the entry after them, seq %llu at line "
			    "%llu, links to line %llu)",
			    (ull)m + 2, (ull)i, s, L, (ull)m + 1);
		return;
	}
	if (k > 0) {
		if ((size_t)k == i + 1)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_INSERTED, i,
			    "line %llu (seq %llu): inserted (the chain continues around it)", L, s);
		else
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_INSERTED, i,
			    "lines %llu-%llu: inserted (the chain continues around them)", L,
			    (ull)k);
		return;
	}
	if (s > exp) {
		long at = find_seq(t, exp, i + 1);
		if (at >= 0)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_REORDERED, i,
			    "entry seq %llu (line %llu): reordered (seq %llu comes later, at "
			    "line %llu)",
			    s, L, (ull)exp, (ull)at + 1);
		else if (s - 1 == exp)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_DELETED, i,
			    "entry seq %llu: deleted (it belonged before line %llu, seq %llu)",
			    (ull)exp, L, s);
		else
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_DELETED, i,
			    "entries %llu-%llu: deleted (they belonged before line %llu, seq "
			    "%llu)",
			    (ull)exp, s - 1, L, s);
		return;
	}
	if (s == exp) {
		if (i == 0)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_EDITED, i,
			    "entry seq 1 (line 1): edited (it does not start this vault's "
			    "chain: edited, or the log of another vault)");
		else if (t->v[i - 1].mac_ok)
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_EDITED, i,
			    "entry seq %llu (line %llu): edited (its link to the previous, "
			    "authentic entry is wrong)",
			    s, L);
		else
			lfs_audit_report_problem(
			    rep, LFS_AUDIT_EDITED, i - 1,
			    "entry seq %llu (line %llu): edited (its hash no longer matches the "
			    "link stored in seq %llu, line %llu; or that link was edited)",
			    s - 1, L - 1, s, L);
		return;
	}
	long first = find_seq(t, s, 0);
	if (first >= 0 && (size_t)first < i)
		lfs_audit_report_problem(
		    rep, LFS_AUDIT_INSERTED, i,
		    "line %llu (seq %llu): inserted (seq %llu is already at line %llu)", L, s, s,
		    (ull)first + 1);
	else
		lfs_audit_report_problem(
		    rep, LFS_AUDIT_EDITED, i,
		    "entry seq %llu (line %llu): edited (seq %llu expected, link broken)", s, L,
		    (ull)exp);
}
