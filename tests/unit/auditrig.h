/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the audit log's unit tests (test_audit_*.c): a log in a
 * temporary directory with its key (setup, teardown), appends, the log as
 * an array of lines to tamper with, and verify with the expected problem.
 * Header-only, like testutil.h, so that each test_*.c stays one binary. */
#ifndef LETHEFS_AUDITRIG_H
#define LETHEFS_AUDITRIG_H

#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../audit/audit.h"
#include "../../audit/audit_verify.h"

struct fixture {
	char dir[64];
	int dirfd;
	struct lfs_vault_config cfg;
	uint8_t key[32];
	struct lfs_audit_log *log;
};

static inline int setup(void **state)
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

static inline int teardown(void **state)
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

static inline void append(struct fixture *f, bool keyed, const char *event, long long n)
{
	struct lfs_audit_caller c;
	struct lfs_audit_detail d[] = {{"n", NULL, n}, {"reason", "manual", 0}};
	lfs_audit_caller_self(&c);
	assert_int_equal(
	    lfs_audit_append(f->log, keyed ? f->key : NULL, event, "success", &c, d, 2), 0);
}

static inline void append_n(struct fixture *f, bool keyed, int n)
{
	for (int i = 0; i < n; i++)
		append(f, keyed, "lock", i);
}

/* The log as an array of lines (with their newlines), for tampering. */
struct lines {
	char *v[256];
	int n;
};

static inline void path_of(const struct fixture *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->dir, name);
}

static inline void read_lines(const struct fixture *f, struct lines *l)
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

static inline void write_lines(const struct fixture *f, struct lines *l)
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

static inline struct lfs_audit_report verify(struct fixture *f, bool with_key)
{
	struct lfs_audit_report rep;
	assert_int_equal(lfs_audit_verify(f->dirfd, &f->cfg, with_key ? f->key : NULL, &rep), 0);
	return rep;
}

/* Verifies (with and without the key when both should agree) and checks
 * the kind, the line and a fragment of the message. */
static inline void expect(struct fixture *f, bool with_key, enum lfs_audit_problem p, uint64_t line,
                          const char *fragment)
{
	struct lfs_audit_report rep = verify(f, with_key);
	if (rep.problem != p || rep.line != line || !strstr(rep.message, fragment))
		fail_msg("got %s at line %llu: \"%s\"; expected %s at line %llu with \"%s\"",
		         lfs_audit_problem_name(rep.problem), (unsigned long long)rep.line,
		         rep.message, lfs_audit_problem_name(p), (unsigned long long)line,
		         fragment);
}

static inline void drop(struct lines *l, int i)
{
	free(l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(l->v[0]));
	l->n--;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#endif
