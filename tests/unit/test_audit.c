/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the audit log (the audit/ room): appends chain and seal
 * entries, verify names each kind of tampering, entries written without a
 * key are sealed by the next keyed one, concurrent writers (threads and
 * processes) keep one valid chain, and hostile strings cannot break a line. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../audit/audit.h"
#include "../../audit/audit_verify.h"
#include "../../keymgmt/kdf.h"

struct fixture {
	char dir[64];
	int dirfd;
	struct lfs_vault_config cfg;
	uint8_t key[32];
	struct lfs_audit_log *log;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t master[32];
	strcpy(f->dir, "/tmp/lethefs-audit-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->dirfd >= 0);
	test_fill(f->cfg.uuid, 16, 0x42);
	test_fill(master, 32, 0x10);
	lfs_audit_derive_key(f->key, master);
	assert_int_equal(lfs_audit_open(&f->log, f->dirfd, &f->cfg), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	lfs_audit_close(f->log);
	close(f->dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void append(struct fixture *f, bool keyed, const char *event, long long n)
{
	struct lfs_audit_caller c;
	struct lfs_audit_detail d[] = {{"n", NULL, n}, {"reason", "manual", 0}};
	lfs_audit_caller_self(&c);
	assert_int_equal(lfs_audit_append(f->log, keyed ? f->key : NULL, event, "success", &c, d, 2),
			 0);
}

static void append_n(struct fixture *f, bool keyed, int n)
{
	for (int i = 0; i < n; i++)
		append(f, keyed, "lock", i);
}

/* The log as an array of lines (with their newlines), for tampering. */
struct lines {
	char *v[256];
	int n;
};

static void path_of(const struct fixture *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->dir, name);
}

static void read_lines(const struct fixture *f, struct lines *l)
{
	char path[128], buf[LFS_AUDIT_LINE_MAX + 2];
	path_of(f, LFS_AUDIT_DEFAULT_NAME, path, sizeof(path));
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	l->n = 0;
	while (fgets(buf, sizeof(buf), fp))
		l->v[l->n++] = strdup(buf);
	fclose(fp);
}

static void write_lines(const struct fixture *f, struct lines *l)
{
	char path[128];
	path_of(f, LFS_AUDIT_DEFAULT_NAME, path, sizeof(path));
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < l->n; i++) {
		fputs(l->v[i], fp);
		free(l->v[i]);
	}
	fclose(fp);
}

static struct lfs_audit_report verify(struct fixture *f, bool with_key)
{
	struct lfs_audit_report rep;
	assert_int_equal(lfs_audit_verify(f->dirfd, &f->cfg, with_key ? f->key : NULL, &rep), 0);
	return rep;
}

/* Verifies (with and without the key when both should agree) and checks
 * the kind, the line and a fragment of the message. */
static void expect(struct fixture *f, bool with_key, enum lfs_audit_problem p, uint64_t line,
		   const char *fragment)
{
	struct lfs_audit_report rep = verify(f, with_key);
	if (rep.problem != p || rep.line != line || !strstr(rep.message, fragment))
		fail_msg("got %s at line %llu: \"%s\"; expected %s at line %llu with \"%s\"",
			 lfs_audit_problem_name(rep.problem), (unsigned long long)rep.line,
			 rep.message, lfs_audit_problem_name(p), (unsigned long long)line,
			 fragment);
}

/* ---- round trip and sealing ------------------------------------------ */

static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, 0);
	append_n(f, true, 5);
	rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, 5);
	assert_int_equal(rep.last_seq, 5);
	assert_int_equal(rep.keyed, 5);
	assert_int_equal(rep.unsealed, 0);
	assert_true(rep.macs_checked && rep.head_present && rep.head_keyed);
	rep = verify(f, false);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_false(rep.macs_checked);
	struct stat st;
	char path[128];
	path_of(f, LFS_AUDIT_DEFAULT_NAME, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_wrong_key_is_edited(void **state)
{
	struct fixture *f = *state;
	append_n(f, true, 2);
	f->key[0] ^= 1;
	expect(f, true, LFS_AUDIT_EDITED, 1, "MAC mismatch");
}

static void test_unkeyed_then_keyed(void **state)
{
	struct fixture *f = *state;
	append_n(f, false, 3);
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.keyed, 0);
	assert_int_equal(rep.unsealed, 3);
	append_n(f, true, 1);
	rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.keyed, 1);
	assert_int_equal(rep.unsealed, 0);
	append_n(f, false, 2);
	rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.unsealed, 2);
	/* The unkeyed appends carried the anchor over: the head still vouches
	 * for the keyed entry, seq 4. */
	assert_true(rep.head_keyed);
	assert_int_equal(rep.anchor_seq, 4);
}

/* An unkeyed entry sealed by a later keyed one cannot be edited, even with
 * its hash recomputed into the next link, because that link is under a MAC. */
static void test_sealed_unkeyed_edit_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	append_n(f, false, 2);
	append_n(f, true, 1);
	read_lines(f, &l);
	char *p = strstr(l.v[1], "\"n\":1");
	assert_non_null(p);
	p[4] = '7';
	write_lines(f, &l);
	expect(f, true, LFS_AUDIT_EDITED, 2, "entry seq 2 (line 2): edited");
	expect(f, false, LFS_AUDIT_EDITED, 2, "entry seq 2 (line 2): edited");
}

static void test_unlock_success_needs_key(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(lfs_audit_append(f->log, NULL, "unlock", "success", NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(lfs_audit_append(f->log, NULL, "unlock", "failure", NULL, NULL, 0), 0);
	assert_int_equal(lfs_audit_append(f->log, f->key, "unlock", "success", NULL, NULL, 0), 0);
	/* Strip the MAC of the last entry and fix up the head as an attacker
	 * would: the successful unlock without a MAC gives it away. */
	struct lines l;
	read_lines(f, &l);
	char *mac = strstr(l.v[1], ",\"mac\":");
	assert_non_null(mac);
	strcpy(mac, "}\n");
	struct lfs_audit_head hd = {.seq = 2};
	char head[LFS_AUDIT_HEAD_MAX], path[128];
	lfs_audit_line_hash(hd.hash, l.v[1], strlen(l.v[1]) - 1);
	int n = lfs_audit_format_head(head, sizeof(head), &hd);
	write_lines(f, &l);
	path_of(f, LFS_AUDIT_DEFAULT_NAME LFS_AUDIT_HEAD_SUFFIX, path, sizeof(path));
	FILE *fp = fopen(path, "w");
	fwrite(head, 1, (size_t)n, fp);
	fclose(fp);
	expect(f, true, LFS_AUDIT_EDITED, 2, "MAC was stripped");
}

static void test_bad_names_rejected(void **state)
{
	struct fixture *f = *state;
	struct lfs_audit_detail bad_key = {"Bad Key", "x", 0};
	struct lfs_audit_detail dup[] = {{"a", "x", 0}, {"a", NULL, 1}};
	struct lfs_audit_detail many[LFS_AUDIT_MAX_DETAILS + 1];
	for (size_t i = 0; i < LFS_AUDIT_MAX_DETAILS + 1; i++)
		many[i] = (struct lfs_audit_detail){"k", NULL, 0};
	assert_int_equal(lfs_audit_append(f->log, NULL, "Mount", "success", NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(lfs_audit_append(f->log, NULL, "mount", "", NULL, NULL, 0), -EINVAL);
	assert_int_equal(lfs_audit_append(f->log, NULL, "mount", "ok", NULL, &bad_key, 1), -EINVAL);
	assert_int_equal(lfs_audit_append(f->log, NULL, "mount", "ok", NULL, dup, 2), -EINVAL);
	assert_int_equal(lfs_audit_append(f->log, NULL, "mount", "ok", NULL, many,
					  LFS_AUDIT_MAX_DETAILS + 1),
			 -EINVAL);
	assert_int_equal(verify(f, true).entries, 0);
}

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

static void drop(struct lines *l, int i)
{
	free(l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(l->v[0]));
	l->n--;
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
	struct lfs_audit_record rec = {.seq = 3, .time_ms = 1, .event = "lock", .outcome = "success"};
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
	struct lfs_audit_record rec = {.seq = 9, .time_ms = 1, .event = "lock", .outcome = "success"};
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

/* ---- concurrency -------------------------------------------------------- */

#define WRITERS 4
#define EACH    25

static void *writer(void *arg)
{
	struct fixture *f = arg;
	for (int i = 0; i < EACH; i++)
		if (lfs_audit_append(f->log, (i & 1) ? f->key : NULL, "lock", "success", NULL, NULL,
				     0) != 0)
			return (void *)1;
	return NULL;
}

static void test_concurrent_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t th[WRITERS];
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer, f), 0);
	for (int i = 0; i < WRITERS; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, WRITERS * EACH);
}

/* Children inherit the parent's log object: each append must still take
 * its own lock. */
static void test_concurrent_processes(void **state)
{
	struct fixture *f = *state;
	pid_t pids[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(writer(f) ? 1 : 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, WRITERS * EACH);
	assert_int_equal(rep.keyed, WRITERS * (EACH / 2));
}

/* ---- formatting and parsing --------------------------------------------- */

static void test_escaping_hostile_strings(void **state)
{
	struct fixture *f = *state;
	struct lfs_audit_caller c = {.known = true, .uid = 1000, .pid = 42};
	strcpy(c.exe, "/tmp/a\"b\\c\nd\re\tf\x01\x7f\xff\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\x80"
		      "\"},\"mac\":\"x");
	struct lfs_audit_detail d = {"error", "line1\nline2\x1b[31m", 0};
	uint8_t prev[32] = {0};
	char line[LFS_AUDIT_LINE_MAX + 1];
	struct lfs_audit_record rec = {.seq = 7, .time_ms = 1764401856123LL, .event = "unlock",
				       .outcome = "failure", .caller = &c, .details = &d,
				       .ndetails = 1};
	int n = lfs_audit_format_line(line, &rec, prev, f->key);
	assert_true(n > 0 && line[n - 1] == '\n');
	for (int i = 0; i < n - 1; i++)
		assert_true(line[i] >= 0x20 && line[i] < 0x7f);
	assert_non_null(strstr(line, "\"exe\":\"/tmp/a\\\"b\\\\c\\nd\\re\\tf\\u0001\\u007f\\ufffd"
				     "\\u20ac\\ud83d\\ude00\\ufffd\\ufffd\\ufffd\\\"},\\\"mac\\\":"
				     "\\\"x\""));
	assert_non_null(strstr(line, "\"details\":{\"error\":\"line1\\nline2\\u001b[31m\"}"));
	assert_non_null(strstr(line, "\"time\":\"2025-11-29T07:37:36.123Z\""));
	struct lfs_audit_entry e;
	const char *why = NULL;
	assert_int_equal(lfs_audit_parse_line(line, (size_t)n - 1, &e, &why), 0);
	assert_int_equal(e.seq, 7);
	assert_int_equal(e.time_ms, 1764401856123LL);
	assert_true(e.has_caller && e.uid == 1000 && e.pid == 42);
	assert_true(e.has_login && e.loginuid == 0 && e.sessionid == 0);
	assert_true(e.has_mac);
	assert_true(lfs_audit_mac_ok(f->key, line, &e));
	/* Appended through the log, it verifies. */
	assert_int_equal(lfs_audit_append(f->log, f->key, "unlock", "failure", &c, &d, 1), 0);
	assert_int_equal(verify(f, true).problem, LFS_AUDIT_INTACT);
}

static void test_long_strings_are_cut(void **state)
{
	(void)state;
	static char big[20000];
	memset(big, '\x01', sizeof(big) - 1);
	struct lfs_audit_caller c = {.known = true};
	memset(c.exe, 'x', sizeof(c.exe) - 1);
	struct lfs_audit_detail d[LFS_AUDIT_MAX_DETAILS];
	const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	for (int i = 0; i < LFS_AUDIT_MAX_DETAILS; i++)
		d[i] = (struct lfs_audit_detail){keys[i], big, 0};
	uint8_t prev[32] = {0}, key[32] = {0};
	char line[LFS_AUDIT_LINE_MAX + 1];
	struct lfs_audit_record rec = {.seq = UINT64_MAX - 1, .time_ms = 253402300799999LL,
				       .event = "keyslot-remove-aaaaaaaaaaaaaaaaa",
				       .outcome = "refused", .caller = &c, .details = d,
				       .ndetails = LFS_AUDIT_MAX_DETAILS};
	int n = lfs_audit_format_line(line, &rec, prev, key);
	assert_true(n > 0 && n <= LFS_AUDIT_LINE_MAX);
	assert_non_null(strstr(line, "\\u0001\\u2026\""));
	struct lfs_audit_entry e;
	assert_int_equal(lfs_audit_parse_line(line, (size_t)n - 1, &e, NULL), 0);
	assert_int_equal(e.ndetails, LFS_AUDIT_MAX_DETAILS);
	assert_true(e.detail[0].str.len <= LFS_AUDIT_STR_MAX);
	/* A string exactly at the cap is kept whole. */
	char exact[LFS_AUDIT_STR_MAX + 1];
	memset(exact, 'y', LFS_AUDIT_STR_MAX);
	exact[LFS_AUDIT_STR_MAX] = '\0';
	d[0].str = exact;
	rec.ndetails = 1;
	n = lfs_audit_format_line(line, &rec, prev, NULL);
	assert_non_null(strstr(line, exact));
	assert_null(strstr(line, "\\u2026"));
}

static void test_parser_is_strict(void **state)
{
	(void)state;
	uint8_t prev[32] = {0};
	char good[LFS_AUDIT_LINE_MAX + 1];
	struct lfs_audit_detail d[] = {{"slot", NULL, -2}, {"type", "passphrase", 0}};
	struct lfs_audit_record rec = {.seq = 12, .time_ms = 1000, .event = "keyslot-add",
				       .outcome = "success", .details = d, .ndetails = 2};
	int n = lfs_audit_format_line(good, &rec, prev, NULL);
	struct lfs_audit_entry e;
	assert_int_equal(lfs_audit_parse_line(good, (size_t)n - 1, &e, NULL), 0);
	assert_false(e.has_caller || e.has_mac);
	assert_int_equal(e.detail[0].num, -2);
	assert_true(e.detail[1].is_str);
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"{\"seq\":12", "{ \"seq\":12"},   {"\"seq\":12", "\"seq\":012"},
		{"\"seq\":12", "\"seq\":0"},	   {"\"seq\":12", "\"seq\":-12"},
		{"1970", "197a"},		   {"01.000Z", "01.000"},
		{"keyslot-add", "Keyslot-add"},	   {"\"slot\":-2", "\"slot\":-0"},
		{"\"slot\":-2", "\"slot\":2.5"},   {"\"type\"", "\"slot\""},
		{"passphrase", "pass\\/phrase"},   {"passphrase", "pass\\u0041"},
		{"passphrase", "pass\\ud800"},	   {"passphrase", "pass\\u00E9"},
		{"\"prev\":\"00", "\"prev\":\"0A"}, {"\"prev\":\"00", "\"prev\":\"0"},
		{"00\"}\n", "00\"} \n"},			   {"\"outcome\"", "\"result\""},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char bad[2 * LFS_AUDIT_LINE_MAX];
		const char *at = strstr(good, edits[i].from);
		assert_non_null(at);
		snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(at - good), good, edits[i].to,
			 at + strlen(edits[i].from));
		const char *why = NULL;
		if (lfs_audit_parse_line(bad, strlen(bad) - 1, &e, &why) == 0)
			fail_msg("accepted: %s", bad);
		assert_non_null(why);
	}
	/* Trailing bytes, and the newline itself, are not part of an entry. */
	assert_int_equal(lfs_audit_parse_line(good, (size_t)n, &e, NULL), -EBADMSG);
	assert_int_equal(lfs_audit_parse_line(good, (size_t)n - 2, &e, NULL), -EBADMSG);
}

static void test_head_format(void **state)
{
	(void)state;
	uint8_t key[32] = {1};
	char text[LFS_AUDIT_HEAD_MAX];
	struct lfs_audit_head in = {.seq = 99}, head;
	test_fill(in.hash, 32, 0xa0);
	uint8_t kh[32];
	test_fill(kh, 32, 0xb0);
	lfs_audit_set_anchor(&in, key, 97, kh);
	int n = lfs_audit_format_head(text, sizeof(text), &in);
	assert_true(n > 0 && (size_t)n <= LFS_AUDIT_HEAD_MAX);
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), 0);
	assert_int_equal(head.seq, 99);
	assert_memory_equal(head.hash, in.hash, 32);
	assert_true(head.has_anchor && !head.legacy);
	assert_int_equal(head.keyed_seq, 97);
	assert_memory_equal(head.keyed_hash, kh, 32);
	assert_true(lfs_audit_anchor_ok(key, &head));
	key[0] ^= 1;
	assert_false(lfs_audit_anchor_ok(key, &head));
	key[0] ^= 1;
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n - 1, &head), -EBADMSG);
	/* The largest head fits. */
	in.seq = in.keyed_seq = UINT64_MAX;
	memcpy(in.hash, in.keyed_hash, 32);
	n = lfs_audit_format_head(text, sizeof(text), &in);
	assert_true(n > 0);
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), 0);
	/* Without an anchor. */
	in.seq = 1;
	in.has_anchor = false;
	n = lfs_audit_format_head(text, sizeof(text), &in);
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), 0);
	assert_false(head.has_anchor);
	/* Anchors beyond the head, or at the head with another hash. */
	const char *bad[] = {
	    "{\"seq\":2,\"hash\":\"%s\",\"keyed_seq\":3,\"keyed_hash\":\"%s\",\"keyed_mac\":\"%s\"}\n",
	    "{\"seq\":2,\"hash\":\"%s\",\"keyed_seq\":0,\"keyed_hash\":\"%s\",\"keyed_mac\":\"%s\"}\n",
	};
	char a[65], b[65];
	memset(a, 'a', 64), memset(b, 'b', 64);
	a[64] = b[64] = '\0';
	for (size_t i = 0; i < 2; i++) {
		n = snprintf(text, sizeof(text), bad[i], a, b, a);
		assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), -EBADMSG);
	}
	n = snprintf(text, sizeof(text), bad[0], a, b, a);
	text[33 + 64 + 14] = '2'; /* keyed_seq 2 == seq, but hash b != a */
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &head), -EBADMSG);
}

/* The older keyed head {"seq","hash","mac"} is an anchor: its MAC is the
 * anchor MAC of the same entry, so logs written before anchors existed
 * keep verifying and their anchor is carried over. */
static void test_legacy_keyed_head(void **state)
{
	(void)state;
	uint8_t key[32] = {7}, hash[32], mac[32];
	char text[LFS_AUDIT_HEAD_MAX], hex[65], mhex[65];
	test_fill(hash, 32, 0x33);
	sodium_bin2hex(hex, sizeof(hex), hash, 32);
	int n = snprintf(text, sizeof(text), "{\"seq\":5,\"hash\":\"%s\"", hex);
	lfs_audit_head_mac(mac, key, text, (size_t)n);
	sodium_bin2hex(mhex, sizeof(mhex), mac, 32);
	n = snprintf(text, sizeof(text), "{\"seq\":5,\"hash\":\"%s\",\"mac\":\"%s\"}\n", hex, mhex);
	struct lfs_audit_head h;
	assert_int_equal(lfs_audit_parse_head(text, (size_t)n, &h), 0);
	assert_true(h.has_anchor && h.legacy && h.keyed_seq == 5);
	assert_memory_equal(h.keyed_hash, hash, 32);
	assert_true(lfs_audit_anchor_ok(key, &h));
}

/* The audit key is its own branch of the key tree (FORMAT.md section 5). */
static void test_key_derivation(void **state)
{
	(void)state;
	uint8_t master[32], key[32], want[32];
	test_fill(master, 32, 0);
	lfs_audit_derive_key(key, master);
	lfs_kdf_derive(want, master, 1, LFS_KDF_CTX_AUDIT);
	assert_memory_equal(key, want, 32);
	lfs_kdf_derive(want, master, 1, LFS_KDF_CTX_KEYRING);
	assert_memory_not_equal(key, want, 32);
}

static void test_caller(void **state)
{
	(void)state;
	struct lfs_audit_caller c;
	lfs_audit_caller_self(&c);
	assert_true(c.known);
	assert_int_equal(c.pid, getpid());
	assert_non_null(strstr(c.exe, "test_audit"));
	char buf[32] = "";
	FILE *fp = fopen("/proc/self/loginuid", "r");
	if (fp) {
		assert_non_null(fgets(buf, sizeof(buf), fp));
		fclose(fp);
		long long want = strtoll(buf, NULL, 10);
		assert_int_equal(c.loginuid, want == 4294967295LL ? LFS_AUDIT_UNSET : want);
	}
	lfs_audit_caller_from_pid(&c, 0, 0x7ffffff0);
	assert_string_equal(c.exe, "");
	assert_int_equal(c.loginuid, LFS_AUDIT_UNSET);
	assert_int_equal(c.sessionid, LFS_AUDIT_UNSET);
}

static void test_custom_path(void **state)
{
	struct fixture *f = *state;
	struct lfs_audit_log *log;
	char path[128];
	path_of(f, "logs", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	strcpy(f->cfg.audit_log, "logs/vault.audit");
	assert_int_equal(lfs_audit_open(&log, f->dirfd, &f->cfg), 0);
	assert_int_equal(lfs_audit_append(log, f->key, "mount", "success", NULL, NULL, 0), 0);
	lfs_audit_close(log);
	path_of(f, "logs/vault.audit.head", path, sizeof(path));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(verify(f, true).entries, 1);
	strcpy(f->cfg.audit_log, "logs/");
	assert_int_equal(lfs_audit_open(&log, f->dirfd, &f->cfg), -EINVAL);
	strcpy(f->cfg.audit_log, "nodir/x");
	assert_int_equal(lfs_audit_open(&log, f->dirfd, &f->cfg), -ENOENT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_roundtrip),
		T(test_wrong_key_is_edited),
		T(test_unkeyed_then_keyed),
		T(test_sealed_unkeyed_edit_detected),
		T(test_unlock_success_needs_key),
		T(test_bad_names_rejected),
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
		T(test_concurrent_threads),
		T(test_concurrent_processes),
		T(test_escaping_hostile_strings),
		T(test_long_strings_are_cut),
		T(test_parser_is_strict),
		T(test_head_format),
		T(test_legacy_keyed_head),
		T(test_key_derivation),
		T(test_caller),
		T(test_custom_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
