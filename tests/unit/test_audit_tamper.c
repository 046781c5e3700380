/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the audit log's verify (audit/audit_verify.c): each kind
 * of tampering is named, at its line, with and without the key: an edited
 * or malformed entry, entries deleted (one, a range, the first, the tail),
 * inserted (a copy, a forged link, a foreign entry), reordered, a partial
 * last line, the head file edited or missing, another vault's log. */
#define _GNU_SOURCE
#include "auditrig.h"

/* ---- each kind of tampering ------------------------------------------- */

static void test_edited_keyed(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 5);
	read_lines(f, &l);
	char *p = strstr(l.v[2], "manual");
	memcpy(p, "forced", 6);
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_EDITED, 3, "entry seq 3 (line 3): edited (MAC mismatch)");
	/* Without the key the break shows at the next link. */
	expect(f, false, LFS_AUDIT_EDITED, 3, "entry seq 3 (line 3): edited");
}

static void test_malformed_line(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 3);
	read_lines(f, &l);
	l.v[1][0] = '[';
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_EDITED, 2, "not a valid entry");
}

static void test_deleted(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 8);
	read_lines(f, &l);
	drop(&l, 2);
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_DELETED, 3, "entry seq 3: deleted");
	read_lines(f, &l);
	drop(&l, 3);
	drop(&l, 3);
	write_lines(f, &l);
	/* The first problem is still the first deletion. */
	expect(f, false, LFS_AUDIT_DELETED, 3, "entry seq 3: deleted");
}

static void test_deleted_range_and_head(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 8);
	read_lines(f, &l);
	drop(&l, 4);
	drop(&l, 4);
	drop(&l, 4);
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_DELETED, 5, "entries 5-7: deleted");
	read_lines(f, &l);
	drop(&l, 0);
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_DELETED, 1, "entry seq 1: deleted");
}

static void test_inserted_copy(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 4);
	read_lines(f, &l);
	l.v[4] = l.v[3];
	l.v[3] = strdup(l.v[1]);
	l.n = 5;
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_INSERTED, 4, "a copy of line 2");
}

/* A forged entry that links correctly to its predecessor: the genuine
 * entry after it still links to the predecessor, which exposes the fork. */
static void test_inserted_forged(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 4);
	read_lines(f, &l);
	uint8_t prev[32];
	char forged[LFS_AUDIT_LINE_MAX + 1];
	lfs_audit_line_hash(prev, l.v[1], strlen(l.v[1]) - 1);
	struct lfs_audit_record rec = {
	    .seq = 3, .time_ms = 1, .event = "lock", .outcome = "success"};
	assert_true(lfs_audit_format_line(forged, &rec, prev, NULL) > 0);
	memmove(&l.v[3], &l.v[2], 2 * sizeof(l.v[0]));
	l.v[2] = strdup(forged);
	l.n = 5;
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_INSERTED, 3, "line 3: inserted");
	expect(f, false, LFS_AUDIT_INSERTED, 3, "line 3: inserted");
}

static void test_inserted_foreign(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 4);
	read_lines(f, &l);
	uint8_t prev[32] = {0};
	char forged[LFS_AUDIT_LINE_MAX + 1];
	struct lfs_audit_record rec = {
	    .seq = 9, .time_ms = 1, .event = "lock", .outcome = "success"};
	assert_true(lfs_audit_format_line(forged, &rec, prev, NULL) > 0);
	memmove(&l.v[3], &l.v[2], 2 * sizeof(l.v[0]));
	l.v[2] = strdup(forged);
	l.n = 5;
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_INSERTED, 3, "line 3 (seq 9): inserted");
}

static void test_reordered(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 6);
	read_lines(f, &l);
	char *t = l.v[2];
	l.v[2] = l.v[3];
	l.v[3] = t;
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_REORDERED, 3, "entry seq 4 (line 3): reordered");
	expect(f, false, LFS_AUDIT_REORDERED, 3, "reordered");
}

static void test_truncated_at_line_boundary(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 5);
	read_lines(f, &l);
	drop(&l, 4);
	drop(&l, 3);
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_TRUNCATED, 4, "truncated tail: entries 4-5 deleted");
	/* The whole log gone, the head left. */
	read_lines(f, &l);
	while (l.n)
		drop(&l, 0);
	write_lines(f, &l);
	expect(f, false, LFS_AUDIT_TRUNCATED, 1, "entries 1-5 deleted");
}

static void test_partial_last_line(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 3);
	read_lines(f, &l);
	l.v[2][40] = '\0';
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_TRUNCATED, 3, "truncated tail: line 3 is a partial entry");
	/* The next append closes the fragment and chains past it; verify
	 * still shows it. The head named the entry that is now a fragment, so
	 * the append also records that the log was cut. */
	append_n(f, true, 1);
	expect(f, true, LFS_AUDIT_INSERTED, 3, "cut short by a crash");
	read_lines(f, &l);
	assert_int_equal(l.n, 5);
	assert_non_null(strstr(l.v[3], "{\"seq\":3,"));
	assert_non_null(strstr(l.v[3], "\"event\":\"audit-check\",\"outcome\":\"failure\""));
	assert_non_null(strstr(l.v[4], "{\"seq\":4,"));
	write_lines(f, &l);
}

/* An entry that lost only its newline is complete: the next append
 * closes it and chains to it. */
static void test_missing_final_newline(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, true, 2);
	read_lines(f, &l);
	l.v[1][strlen(l.v[1]) - 1] = '\0';
	write_lines(f, &l);
	assert_int_equal(verify(f, true).problem, LFS_AUDIT_INTACT);
	append_n(f, true, 1);
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, 3);
}

static void test_head_missing_or_edited(void **state)
{
	struct fixture *f = *state;
	char path[128];
	append_n(f, true, 2);
	path_of(f, LFS_AUDIT_DEFAULT_NAME LFS_AUDIT_HEAD_SUFFIX, path, sizeof(path));
	FILE *fp = fopen(path, "r+");
	assert_non_null(fp);
	fseek(fp, 30, SEEK_SET);
	int c = fgetc(fp);
	fseek(fp, 30, SEEK_SET);
	fputc(c == 'a' ? 'b' : 'a', fp);
	fclose(fp);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, 0, "head file");
	assert_int_equal(unlink(path), 0);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, 2, "is missing");
	/* The next append writes a new head, and records that it found none:
	 * a deleted head is how a cut at a line boundary is hidden. */
	append_n(f, true, 1);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, 3, "the head file is missing");
}

static void test_other_vault(void **state)
{
	struct fixture *f = *state;
	append_n(f, false, 2);
	f->cfg.uuid[0] ^= 1;
	expect(f, false, LFS_AUDIT_EDITED, 1, "another vault");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_edited_keyed),
	    T(test_malformed_line),
	    T(test_deleted),
	    T(test_deleted_range_and_head),
	    T(test_inserted_copy),
	    T(test_inserted_forged),
	    T(test_inserted_foreign),
	    T(test_reordered),
	    T(test_truncated_at_line_boundary),
	    T(test_partial_last_line),
	    T(test_missing_final_newline),
	    T(test_head_missing_or_edited),
	    T(test_other_vault),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
