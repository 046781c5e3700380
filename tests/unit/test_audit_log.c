/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the audit log (the audit/ room), its life as a log:
 * appends chain and seal entries, entries written without a key are sealed
 * by the next keyed one, a successful unlock needs the key, bad names are
 * refused, the log may live at a configured path, and the audit key and
 * the caller's identity come from where they should. Tampering, concurrent
 * writers and the line format have their own test_audit_*.c. */
#define _GNU_SOURCE
#include "auditrig.h"

#include "../../keymgmt/kdf.h"

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
	assert_int_equal(
	    lfs_audit_append(f->log, NULL, "mount", "ok", NULL, many, LFS_AUDIT_MAX_DETAILS + 1),
	    -EINVAL);
	assert_int_equal(verify(f, true).entries, 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_roundtrip),
	    T(test_wrong_key_is_edited),
	    T(test_unkeyed_then_keyed),
	    T(test_sealed_unkeyed_edit_detected),
	    T(test_unlock_success_needs_key),
	    T(test_bad_names_rejected),
	    T(test_key_derivation),
	    T(test_caller),
	    T(test_custom_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
