/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the audit log's end (audit/audit_end.c and the head
 * checks of verify): the cut attack (first lines kept, an unkeyed head
 * naming the last kept line) fails verify, and the next append, keyed or
 * not, records a cut instead of continuing it; the anchor survives
 * unkeyed appends; a head rolled back or forged is caught; an append
 * interrupted between its entry and the head is not a problem. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../audit/audit.h"
#include "../../audit/audit_end.h"
#include "../../audit/audit_verify.h"

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
	strcpy(f->dir, "/tmp/lethefs-audit-end.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->dirfd >= 0);
	test_fill(f->cfg.uuid, 16, 0x42);
	test_fill(f->key, 32, 0x10);
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

/* Appends through a log object of its own, as another process would
 * (the fixture's object remembers what it wrote). */
static int append_other(struct fixture *f, bool keyed, const char *event)
{
	struct lfs_audit_log *log;
	assert_int_equal(lfs_audit_open(&log, f->dirfd, &f->cfg), 0);
	int r = lfs_audit_append(log, keyed ? f->key : NULL, event, "success", NULL, NULL, 0);
	lfs_audit_close(log);
	return r;
}

static void append(struct fixture *f, bool keyed, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(append_other(f, keyed, "lock"), 0);
}

static void path_of(const struct fixture *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->dir, name);
}

static size_t slurp(const struct fixture *f, const char *name, char *buf, size_t cap)
{
	char path[128];
	path_of(f, name, path, sizeof(path));
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(buf, 1, cap - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return n;
}

static void spit(const struct fixture *f, const char *name, const char *buf, size_t len)
{
	char path[128];
	path_of(f, name, path, sizeof(path));
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	fclose(fp);
}

#define LOG  LFS_AUDIT_DEFAULT_NAME
#define HEAD LFS_AUDIT_DEFAULT_NAME LFS_AUDIT_HEAD_SUFFIX

/* Keeps the first n lines of the log. */
static void cut_to(struct fixture *f, int n)
{
	static char buf[1 << 16];
	slurp(f, LOG, buf, sizeof(buf));
	char *p = buf;
	for (int i = 0; i < n; i++)
		p = strchr(p, '\n') + 1;
	spit(f, LOG, buf, (size_t)(p - buf));
}

/* The attacker's head: unkeyed, naming line n (seq n) by its hash. */
static void forge_head(struct fixture *f, int n)
{
	static char buf[1 << 16];
	slurp(f, LOG, buf, sizeof(buf));
	char *p = buf, *e;
	for (int i = 1; i < n; i++)
		p = strchr(p, '\n') + 1;
	e = strchr(p, '\n');
	struct lfs_audit_head h = {.seq = (uint64_t)n};
	lfs_audit_line_hash(h.hash, p, (size_t)(e - p));
	char text[LFS_AUDIT_HEAD_MAX];
	int len = lfs_audit_format_head(text, sizeof(text), &h);
	spit(f, HEAD, text, (size_t)len);
}

static struct lfs_audit_report verify(struct fixture *f, bool with_key)
{
	struct lfs_audit_report rep;
	assert_int_equal(lfs_audit_verify(f->dirfd, &f->cfg, with_key ? f->key : NULL, &rep), 0);
	return rep;
}

static void expect(struct fixture *f, bool with_key, enum lfs_audit_problem p, const char *frag)
{
	struct lfs_audit_report rep = verify(f, with_key);
	if (rep.problem != p || !strstr(rep.message, frag))
		fail_msg("got %s: \"%s\"; expected %s with \"%s\"",
		         lfs_audit_problem_name(rep.problem), rep.message,
		         lfs_audit_problem_name(p), frag);
}

/* ---- the cut attack ------------------------------------------------------- */

static void test_cut_with_unkeyed_head(void **state)
{
	struct fixture *f = *state;
	append(f, true, 6);
	cut_to(f, 4);
	forge_head(f, 4);
	expect(f, true, LFS_AUDIT_TRUNCATED, "is not authenticated");
	expect(f, false, LFS_AUDIT_TRUNCATED, "the last at seq 4");
}

static void test_cut_then_keyed_append(void **state)
{
	struct fixture *f = *state;
	append(f, true, 6);
	cut_to(f, 4);
	forge_head(f, 4);
	append(f, true, 1);
	expect(f, true, LFS_AUDIT_TRUNCATED,
	       "entry seq 5 (line 5) records that the log was "
	       "tampered with");
	expect(f, true, LFS_AUDIT_TRUNCATED, "no authenticated anchor");
	/* The entry itself follows the recorded gap, and later appends keep
	 * the evidence in place. */
	append(f, true, 2);
	expect(f, true, LFS_AUDIT_TRUNCATED, "entry seq 5 (line 5)");
}

static void test_cut_then_unkeyed_append(void **state)
{
	struct fixture *f = *state;
	append(f, true, 6);
	cut_to(f, 3); /* the authentic head (seq 6, anchor 6) is kept */
	expect(f, true, LFS_AUDIT_TRUNCATED, "entries 4-6 deleted");
	append(f, false, 1);
	expect(f, false, LFS_AUDIT_TRUNCATED,
	       "the head file records seq 6 but the log ends at "
	       "seq 3");
}

static void test_cut_with_head_deleted(void **state)
{
	struct fixture *f = *state;
	char path[128];
	append(f, true, 5);
	cut_to(f, 2);
	path_of(f, HEAD, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	append(f, true, 1);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "the head file is missing");
}

/* A cut made while this process keeps appending (the daemon's log object)
 * is caught by what the object remembers, even when the attacker rolled
 * everything back to an unkeyed state. */
static void test_cut_seen_by_the_running_writer(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(lfs_audit_append(f->log, NULL, "lock", "success", NULL, NULL, 0),
		                 0);
	cut_to(f, 1);
	forge_head(f, 1);
	assert_int_equal(verify(f, true).problem, LFS_AUDIT_INTACT); /* nothing keyed: unsealed */
	assert_int_equal(lfs_audit_append(f->log, NULL, "lock", "success", NULL, NULL, 0), 0);
	expect(f, true, LFS_AUDIT_TRUNCATED, "this process appended seq 3");
}

/* ---- the anchor ------------------------------------------------------------ */

static void test_anchor_survives_unkeyed_appends(void **state)
{
	struct fixture *f = *state;
	append(f, false, 2);
	append(f, true, 2);
	append(f, false, 3);
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.anchor_seq, 4);
	assert_int_equal(rep.unsealed, 3);
	/* Cutting only unsealed entries and forging a head that keeps the
	 * anchor is the documented limit: they were never sealed. */
}

static void test_head_rolled_back(void **state)
{
	struct fixture *f = *state;
	static char old[LFS_AUDIT_HEAD_MAX + 1];
	append(f, true, 3);
	size_t n = slurp(f, HEAD, old, sizeof(old));
	append(f, true, 3);
	spit(f, HEAD, old, n);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "rolled back");
	/* The next append records it: it cannot be smoothed over. */
	append(f, true, 1);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "entry seq 7 (line 7) records");
}

static void test_forged_anchor(void **state)
{
	struct fixture *f = *state;
	static char buf[LFS_AUDIT_HEAD_MAX + 1];
	append(f, true, 2);
	size_t n = slurp(f, HEAD, buf, sizeof(buf));
	char *mac = strstr(buf, "\"keyed_mac\":\"");
	assert_non_null(mac);
	mac[14] = mac[14] == 'a' ? 'b' : 'a';
	spit(f, HEAD, buf, n);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "anchor's MAC does not match");
	assert_int_equal(verify(f, false).problem, LFS_AUDIT_INTACT); /* no key: not provable */
	append(f, true, 1);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "the head was forged");
}

/* The anchor names a keyed entry whose MAC was stripped, the chain after
 * it repaired and the head's position rewritten: the anchor no longer
 * matches that entry. */
static void test_anchor_on_stripped_entry(void **state)
{
	struct fixture *f = *state;
	static char buf[1 << 14];
	append(f, true, 2);
	append(f, false, 1);
	slurp(f, LOG, buf, sizeof(buf));
	char *l2 = strchr(buf, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	char *mac = strstr(l2, ",\"mac\":");
	assert_true(mac && mac < l3);
	memmove(mac, mac + 73, strlen(mac + 73) + 1); /* ,"mac":"<64 hex>" */
	l3 = strchr(l2, '\n') + 1;
	uint8_t h[32];
	char hex[65];
	lfs_audit_line_hash(h, l2, (size_t)(l3 - 1 - l2));
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	char *prev = strstr(l3, "\"prev\":\"") + 8;
	memcpy(prev, hex, 64);
	spit(f, LOG, buf, strlen(buf));
	struct lfs_audit_head hd;
	static char head[LFS_AUDIT_HEAD_MAX + 1];
	size_t hn = slurp(f, HEAD, head, sizeof(head));
	assert_int_equal(lfs_audit_parse_head(head, hn, &hd), 0);
	assert_true(hd.has_anchor && hd.keyed_seq == 2 && hd.seq == 3);
	lfs_audit_line_hash(hd.hash, l3, strlen(l3) - 1);
	char text[LFS_AUDIT_HEAD_MAX];
	int len = lfs_audit_format_head(text, sizeof(text), &hd);
	spit(f, HEAD, text, (size_t)len);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "is not that entry");
	expect(f, false, LFS_AUDIT_HEAD_MISMATCH, "is not that entry");
}

/* ---- honest interruptions ---------------------------------------------------- */

static void test_interrupted_between_entry_and_head(void **state)
{
	struct fixture *f = *state;
	static char old[LFS_AUDIT_HEAD_MAX + 1];
	append(f, true, 3);
	size_t n = slurp(f, HEAD, old, sizeof(old));
	append(f, true, 1);
	spit(f, HEAD, old, n); /* the head update of seq 4 never happened */
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_true(rep.head_behind);
	/* The next append is not a gap either. Keyed, it re-anchors. */
	append(f, true, 1);
	rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, 5);
	assert_int_equal(rep.anchor_seq, 5);
	/* Unkeyed, it cannot: the anchor stays one keyed entry behind and
	 * verify cannot tell that from a head rolled back, until the next
	 * keyed append (AUDIT.md section 3). */
	append(f, true, 1);
	n = slurp(f, HEAD, old, sizeof(old));
	append(f, true, 1);
	spit(f, HEAD, old, n);
	append(f, false, 1);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "rolled back");
	append(f, true, 1);
	rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, 9);
}

/* A head naming the log's last entry, which is keyed, while vouching for
 * an older keyed entry was rolled back: the append records it. */
static void test_old_anchor_at_keyed_end(void **state)
{
	struct fixture *f = *state;
	static char old[LFS_AUDIT_HEAD_MAX + 1];
	append(f, true, 2);
	slurp(f, HEAD, old, sizeof(old));
	append(f, true, 1);
	struct lfs_audit_head h;
	assert_int_equal(lfs_audit_parse_head(old, strlen(old), &h), 0);
	static char buf[1 << 14];
	slurp(f, LOG, buf, sizeof(buf));
	char *l3 = strchr(strchr(buf, '\n') + 1, '\n') + 1;
	h.seq = 3;
	lfs_audit_line_hash(h.hash, l3, strlen(l3) - 1);
	char text[LFS_AUDIT_HEAD_MAX];
	int len = lfs_audit_format_head(text, sizeof(text), &h);
	spit(f, HEAD, text, (size_t)len);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "rolled back");
	append(f, true, 1);
	expect(f, true, LFS_AUDIT_HEAD_MISMATCH, "entry seq 4 (line 4) records");
}

/* The anchor's MAC, pinned (computed independently with Python's hashlib:
 * BLAKE2b-256, key 10 11 .. 2f, person "lethefs-audit-hd", message
 * {"seq":7,"hash":"33..33"). It is part of the format (AUDIT.md 3). */
static void test_anchor_mac_known_answer(void **state)
{
	(void)state;
	uint8_t key[32], hash[32], mac[32];
	test_fill(key, 32, 0x10);
	memset(hash, 0x33, 32);
	lfs_audit_anchor_mac(mac, key, 7, hash);
	assert_hex_equal(mac, 32,
	                 "d93dfd2cdcecedc7872f36d03e75b03f3780a59b9cf6fd0fcfae11009f97c402");
}

static void test_fresh_log_is_no_gap(void **state)
{
	struct fixture *f = *state;
	append(f, false, 1);
	append(f, true, 1);
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, 2);
}

static void test_last_keyed_scan(void **state)
{
	struct fixture *f = *state;
	append(f, false, 2);
	append(f, true, 2);
	append(f, false, 1);
	char path[128];
	path_of(f, LOG, path, sizeof(path));
	int fd = open(path, O_RDONLY);
	uint64_t k;
	assert_int_equal(lfs_audit_last_keyed(fd, &k), 0);
	close(fd);
	assert_int_equal(k, 4);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_cut_with_unkeyed_head),
	    T(test_cut_then_keyed_append),
	    T(test_cut_then_unkeyed_append),
	    T(test_cut_with_head_deleted),
	    T(test_cut_seen_by_the_running_writer),
	    T(test_anchor_survives_unkeyed_appends),
	    T(test_head_rolled_back),
	    T(test_forged_anchor),
	    T(test_anchor_on_stripped_entry),
	    T(test_interrupted_between_entry_and_head),
	    T(test_old_anchor_at_keyed_end),
	    T(test_fresh_log_is_no_gap),
	    cmocka_unit_test(test_anchor_mac_known_answer),
	    T(test_last_keyed_scan),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
