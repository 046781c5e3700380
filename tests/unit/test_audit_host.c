/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the per-host audit logs of shared vaults
 * (audit/audit_host.c, audit/audit_verify_hosts.c): host names, the
 * registration in the main log, and verify's verdict on every change the
 * backing store's writer can make to the host log directory. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../audit/audit.h"
#include "../../audit/audit_host.h"
#include "../../audit/audit_verify.h"
#include "../../audit/audit_verify_hosts.h"

struct fixture {
	char dir[64];
	int dirfd;
	struct lfs_vault_config cfg;
	uint8_t key[32];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/lethefs-audit-host.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->dirfd >= 0);
	test_fill(f->cfg.uuid, 16, 0x42);
	test_fill(f->key, 32, 0x10);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	close(f->dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* n entries by host (a process of its own: a log object each time). */
static void append(struct fixture *f, const char *host, bool keyed, int n)
{
	struct lfs_audit_log *log;
	assert_int_equal(lfs_audit_open_host(&log, f->dirfd, &f->cfg, host), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(
		    lfs_audit_append(log, keyed ? f->key : NULL, "lock", "success", NULL, NULL, 0),
		    0);
	lfs_audit_close(log);
}

static void sh(struct fixture *f, const char *cmd)
{
	char full[512];
	snprintf(full, sizeof(full), "cd %s && %s", f->dir, cmd);
	assert_int_equal(system(full), 0);
}

/* Verifies; returns the report of host (NULL: the first failing entry). */
static struct lfs_audit_host_report verify(struct fixture *f, const char *host, size_t *n, bool *ok)
{
	struct lfs_audit_hosts h;
	struct lfs_audit_host_report out;
	memset(&out, 0, sizeof(out));
	assert_int_equal(lfs_audit_verify_hosts(f->dirfd, &f->cfg, f->key, false, NULL, &h), 0);
	*n = h.n;
	*ok = lfs_audit_hosts_ok(&h);
	for (size_t i = 0; i < h.n; i++)
		if (host ? !h.v[i].planted && !strcmp(h.v[i].name, host)
		         : h.v[i].planted || h.v[i].rep.problem != LFS_AUDIT_INTACT) {
			out = h.v[i];
			break;
		}
	lfs_audit_hosts_free(&h);
	return out;
}

static void test_host_names(void **state)
{
	(void)state;
	assert_true(lfs_audit_host_name_ok("lab1"));
	assert_true(lfs_audit_host_name_ok("lab-1.example_org"));
	assert_false(lfs_audit_host_name_ok(""));
	assert_false(lfs_audit_host_name_ok(".."));
	assert_false(lfs_audit_host_name_ok(".hidden"));
	assert_false(lfs_audit_host_name_ok("a/b"));
	assert_false(lfs_audit_host_name_ok("lab1.head"));
	assert_false(lfs_audit_host_name_ok("x\n"));
	char longname[80];
	memset(longname, 'a', 65);
	longname[65] = '\0';
	assert_false(lfs_audit_host_name_ok(longname));
	longname[64] = '\0';
	assert_true(lfs_audit_host_name_ok(longname));
	/* Each host's chain starts elsewhere, and nowhere near the main log's. */
	uint8_t a[32], b[32], m[32];
	uint8_t uuid[16] = {1};
	lfs_audit_host_genesis(a, uuid, "lab1");
	lfs_audit_host_genesis(b, uuid, "lab2");
	lfs_audit_genesis(m, uuid);
	assert_memory_not_equal(a, b, 32);
	assert_memory_not_equal(a, m, 32);
}

static void test_open_refuses_bad_names_and_planted_files(void **state)
{
	struct fixture *f = *state;
	struct lfs_audit_log *log;
	assert_int_equal(lfs_audit_open_host(&log, f->dirfd, &f->cfg, "../x"), -EINVAL);
	assert_int_equal(lfs_audit_open_host(&log, f->dirfd, &f->cfg, "h.head"), -EINVAL);
	sh(f, "mkdir lethefs.audit.d && ln -s /etc/passwd lethefs.audit.d/lnk && "
	      "mkfifo lethefs.audit.d/fifo && mkdir lethefs.audit.d/dir");
	assert_int_equal(lfs_audit_open_host(&log, f->dirfd, &f->cfg, "lnk"), -ELOOP);
	assert_true(lfs_audit_open_host(&log, f->dirfd, &f->cfg, "fifo") < 0);
	assert_true(lfs_audit_open_host(&log, f->dirfd, &f->cfg, "dir") < 0);
	sh(f, "rm -r lethefs.audit.d && mkdir elsewhere && ln -s elsewhere lethefs.audit.d");
	assert_int_equal(lfs_audit_open_host(&log, f->dirfd, &f->cfg, "lab1"), -ENOTDIR);
}

static void test_two_hosts_verify_and_register_once_keyed(void **state)
{
	struct fixture *f = *state;
	size_t n;
	bool ok;
	append(f, "lab1", false, 2); /* locked: no registration yet */
	append(f, "lab1", true, 3);
	append(f, "lab2", true, 1);
	struct lfs_audit_host_report r = verify(f, "lab1", &n, &ok);
	assert_true(ok);
	assert_int_equal(n, 2);
	assert_true(r.registered);
	assert_int_equal(r.rep.entries, 5);
	assert_int_equal(r.rep.keyed, 3);
	/* The main log: one registration per keyed process, and it verifies. */
	struct lfs_audit_report main_rep;
	assert_int_equal(lfs_audit_verify(f->dirfd, &f->cfg, f->key, &main_rep), 0);
	assert_int_equal(main_rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(main_rep.entries, 2);
	/* An unkeyed-only host is fine without a registration. */
	append(f, "lab3", false, 1);
	r = verify(f, "lab3", &n, &ok);
	assert_true(ok);
	assert_false(r.registered);
}

static void test_tampering_is_found(void **state)
{
	struct fixture *f = *state;
	size_t n;
	bool ok;
	append(f, "lab1", true, 3);
	append(f, "lab2", true, 3);
	sh(f, "cp -a lethefs.audit.d saved && cp lethefs.audit saved.main");
	static const struct {
		const char *cmd, *host;
		enum lfs_audit_problem p;
		const char *says;
	} cases[] = {
	    {"head -n 2 lethefs.audit.d/lab1 >t && cat t >lethefs.audit.d/lab1", "lab1",
	     LFS_AUDIT_TRUNCATED, "truncated tail"},
	    {"sed -i 's/\"lock\"/\"lick\"/' lethefs.audit.d/lab2", "lab2", LFS_AUDIT_EDITED,
	     "edited"},
	    {"rm lethefs.audit.d/lab2 lethefs.audit.d/lab2.head", "lab2", LFS_AUDIT_DELETED,
	     "registered by entry seq 2 of the main log): deleted"},
	    {"rm lethefs.audit.d/lab2", "lab2", LFS_AUDIT_DELETED, "deleted"},
	    {"cp lethefs.audit.d/lab1 lethefs.audit.d/lab2 && "
	     "cp lethefs.audit.d/lab1.head lethefs.audit.d/lab2.head",
	     "lab2", LFS_AUDIT_INSERTED, "a copy of host lab1"},
	    {"cp lethefs.audit.d/lab1 lethefs.audit.d/lab9 && "
	     "cp lethefs.audit.d/lab1.head lethefs.audit.d/lab9.head",
	     "lab9", LFS_AUDIT_INSERTED, "a copy of host lab1"},
	    {"cp lethefs.audit lethefs.audit.d/lab2 && cp lethefs.audit.head "
	     "lethefs.audit.d/lab2.head",
	     "lab2", LFS_AUDIT_INSERTED, "a copy of the main log"},
	    {"mv lethefs.audit.d/lab1 t && mv lethefs.audit.d/lab2 lethefs.audit.d/lab1 && "
	     "mv t lethefs.audit.d/lab2",
	     "lab1", LFS_AUDIT_INSERTED, "a copy of host lab2"},
	    /* Keyed entries cut away with a head rewritten to match: the
	     * registration still expects them. */
	    {"rm lethefs.audit.d/lab1 lethefs.audit.d/lab1.head && touch lethefs.audit.d/lab1",
	     "lab1", LFS_AUDIT_TRUNCATED, "holds no keyed entry"},
	    {"rm -r lethefs.audit.d", "lab1", LFS_AUDIT_DELETED, "is gone"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sh(f, cases[i].cmd);
		struct lfs_audit_host_report r = verify(f, cases[i].host, &n, &ok);
		if (r.rep.problem != cases[i].p || !strstr(r.rep.message, cases[i].says))
			fail_msg("case %zu: problem %d, message %s", i, r.rep.problem,
			         r.rep.message);
		assert_false(ok);
		sh(f, "rm -rf lethefs.audit.d && cp -a saved lethefs.audit.d && "
		      "cp saved.main lethefs.audit");
		verify(f, NULL, &n, &ok);
		assert_true(ok);
	}
}

static void test_planted_entries_fail_and_never_block(void **state)
{
	struct fixture *f = *state;
	size_t n;
	bool ok;
	append(f, "lab1", true, 1);
	const char *plants[] = {"ln -s ../lethefs.audit lethefs.audit.d/lab2",
	                        "mkfifo lethefs.audit.d/lab3",
	                        "mkdir lethefs.audit.d/lab4",
	                        "touch 'lethefs.audit.d/bad name'",
	                        ("python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("
	                         "\"lethefs.audit.d/lab5\")'"),
	                        "mkfifo lethefs.audit.d/lab1x.head"};
	for (size_t i = 0; i < sizeof(plants) / sizeof(plants[0]); i++) {
		sh(f, plants[i]);
		struct lfs_audit_host_report r = verify(f, NULL, &n, &ok);
		assert_false(ok);
		if (!strstr(r.rep.message, "planted"))
			fail_msg("plant %zu: %s", i, r.rep.message);
		sh(f, "find lethefs.audit.d -mindepth 1 ! -name 'lab1' ! -name 'lab1.head' -exec "
		      "rm -rf {} +");
		verify(f, NULL, &n, &ok);
		assert_true(ok);
	}
	/* A hidden temporary (a head replacement cut short) is not read. */
	sh(f, "mkfifo lethefs.audit.d/.lab1.head.tmp.12345678");
	verify(f, NULL, &n, &ok);
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_names),
	    cmocka_unit_test_setup_teardown(test_open_refuses_bad_names_and_planted_files, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_two_hosts_verify_and_register_once_keyed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_tampering_is_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_planted_entries_fail_and_never_block, setup,
	                                    teardown),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
