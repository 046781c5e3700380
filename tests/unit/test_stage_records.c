/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for what decides a staging directory's life without a mount:
 * the retention record (what its MAC binds, that a record without one
 * never authenticates), the staging clock (its files, that it never goes
 * back and that a mark only raises it), the scan of VAULT/staging, the
 * keyless view (the earliest claim wins) and key destruction. Real files
 * in a temporary directory; no mocks. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/fileutil.h"
#include "../../fs/dirmeta.h"
#include "../../keymgmt/keyring.h"
#include "../../staging/stage.h"

#define ID 0x8000abcdu

static void unlocked(struct lfs_keyring *kr, uint8_t fill)
{
	uint8_t uuid[LFS_UUID_LEN];
	memset(uuid, fill, sizeof(uuid));
	lfs_keyring_init(kr, uuid, LFS_CIPHER_XCHACHA20POLY1305);
	assert_int_equal(lfs_keyring_generate(kr, 2), 0);
}

static int tmpdir(char path[64])
{
	snprintf(path, 64, "/tmp/test-stage.XXXXXX");
	assert_non_null(mkdtemp(path));
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	return fd;
}

static void rmtree(const char *path)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void test_record(void **state)
{
	(void)state;
	struct lfs_keyring kr, other;
	unlocked(&kr, 1);
	unlocked(&other, 2);
	struct lfs_stage_exp e = {
	    .id = ID, .owner = 1000, .created = 100, .expires = 200, .quota = 5};
	struct lfs_stage_exp back;
	uint8_t rec[LFS_STAGE_EXP_LEN];
	lfs_stage_exp_encode(&kr, &e, rec);
	assert_memory_equal(rec, "LTHSTE01", 8);
	assert_int_equal(lfs_stage_exp_parse(rec, sizeof(rec), ID, &back), 0);
	assert_int_equal(back.expires, 200);
	assert_int_equal(back.owner, 1000);
	assert_int_equal(back.quota, 5);
	assert_int_equal(lfs_stage_exp_verify(&kr, rec, sizeof(rec)), 0);
	/* Every byte before the MAC is bound, and so is the vault. */
	for (size_t i = 0; i < 48; i++) {
		rec[i] ^= 0x40;
		assert_int_equal(lfs_stage_exp_verify(&kr, rec, sizeof(rec)), -EBADMSG);
		rec[i] ^= 0x40;
	}
	assert_int_equal(lfs_stage_exp_verify(&other, rec, sizeof(rec)), -EBADMSG);
	assert_int_equal(lfs_stage_exp_parse(rec, sizeof(rec), ID + 1, &back), -EINVAL);
	assert_int_equal(lfs_stage_exp_parse(rec, sizeof(rec) - 1, ID, &back), -EINVAL);
	/* A record written without a key (a shred intent) parses but never
	 * authenticates. */
	lfs_stage_exp_encode(NULL, &e, rec);
	assert_int_equal(lfs_stage_exp_parse(rec, sizeof(rec), ID, &back), 0);
	assert_int_equal(lfs_stage_exp_verify(&kr, rec, sizeof(rec)), -EBADMSG);
	/* Negative times and reserved bytes are malformed. */
	e.expires = -1;
	lfs_stage_exp_encode(&kr, &e, rec);
	assert_int_equal(lfs_stage_exp_parse(rec, sizeof(rec), ID, &back), -EINVAL);
	e.expires = 200;
	lfs_stage_exp_encode(&kr, &e, rec);
	rec[44] = 1;
	assert_int_equal(lfs_stage_exp_parse(rec, sizeof(rec), ID, &back), -EINVAL);
	lfs_keyring_lock(&kr);
	assert_int_equal(lfs_stage_exp_verify(&kr, rec, sizeof(rec)), -EACCES);
	lfs_keyring_destroy(&kr);
	lfs_keyring_destroy(&other);
}

static void test_clock_files(void **state)
{
	(void)state;
	int64_t m, b;
	char boot[LFS_STAGE_CLOCK_BOOT_ID], out[256];
	const char *ok = "lethefs-staging-clock 1\n1700000000\n";
	assert_int_equal(lfs_stage_clock_parse(ok, strlen(ok), &m, NULL, NULL), 0);
	assert_int_equal(m, 1700000000);
	const char *host =
	    "lethefs-staging-clock 1\n1700000000123 5000 0123abcd-0000-1111-2222-333344445555\n";
	assert_int_equal(lfs_stage_clock_parse(host, strlen(host), &m, &b, boot), 0);
	assert_int_equal(b, 5000);
	assert_string_equal(boot, "0123abcd-0000-1111-2222-333344445555");
	int n = lfs_stage_clock_format(out, sizeof(out), m, &b, boot);
	assert_int_equal((size_t)n, strlen(host));
	assert_string_equal(out, host);
	const char *bad[] = {
	    "",
	    "lethefs-staging-clock 2\n1\n",
	    "lethefs-staging-clock 1\n-5\n",
	    "lethefs-staging-clock 1\n12a\n",
	    "lethefs-staging-clock 1\n1\n\n",
	    "lethefs-staging-clock 1\n1",
	    "lethefs-staging-clock 1\n1234567890123456789\n", /* 19 digits */
	    "lethefs-staging-clock 1\n0123\n",                /* leading zero */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lfs_stage_clock_parse(bad[i], strlen(bad[i]), &m, NULL, NULL),
		                 -EINVAL);
	/* A host line is required where one is asked for, and refused where
	 * it is not. */
	assert_int_equal(lfs_stage_clock_parse(ok, strlen(ok), &m, &b, boot), -EINVAL);
	assert_int_equal(lfs_stage_clock_parse(host, strlen(host), &m, NULL, NULL), -EINVAL);
}

static void test_clock_mark(void **state)
{
	(void)state;
	char dir[64];
	int dfd = tmpdir(dir);
	uint8_t uuid[16];
	randombytes_buf(uuid, sizeof(uuid));
	/* A mark a day ahead: the staging clock is at least there (a higher
	 * mark only shreds sooner), and it never goes back between calls. */
	int64_t ahead = (int64_t)time(NULL) + 86400;
	char text[64];
	int n = lfs_stage_clock_format(text, sizeof(text), ahead, NULL, NULL);
	assert_int_equal(lfs_replace_file(dfd, LFS_STAGE_CLOCK_NAME, text, (size_t)n, 0600), 0);
	struct lfs_stage_clock c;
	lfs_stage_clock_init(&c, uuid, dfd);
	int64_t a = lfs_stage_clock_now(&c);
	assert_true(a >= ahead);
	usleep(1100000);
	int64_t b2 = lfs_stage_clock_now(&c);
	assert_true(b2 >= a + 1); /* runs on with real time from the mark */
	/* A garbage mark is no mark: the wall clock rules. */
	assert_int_equal(lfs_replace_file(dfd, LFS_STAGE_CLOCK_NAME, "junk", 4, 0600), 0);
	struct lfs_stage_clock g;
	lfs_stage_clock_init(&g, uuid, dfd);
	int64_t w = lfs_stage_clock_now(&g);
	assert_true(w >= (int64_t)time(NULL) - 1 && w <= (int64_t)time(NULL) + 1);
	/* Stored, the mark comes back as at least what was handed out. */
	lfs_stage_clock_store(&c, dfd, true);
	struct lfs_stage_clock c2;
	lfs_stage_clock_init(&c2, uuid, dfd);
	assert_true(lfs_stage_clock_now(&c2) >= b2);
	lfs_stage_clock_destroy(&c);
	lfs_stage_clock_destroy(&c2);
	lfs_stage_clock_destroy(&g);
	close(dfd);
	rmtree(dir);
	char run[128];
	sodium_bin2hex(text, sizeof(text), uuid, 16);
	snprintf(run, sizeof(run), "/run/lethefs/staging-clock-%s", text);
	unlink(run);
}

static void touch(int dfd, const char *name, const void *data, size_t len)
{
	assert_int_equal(lfs_replace_file(dfd, name, data, len, 0600), 0);
}

static void test_scan_and_view(void **state)
{
	(void)state;
	char dir[64];
	int dfd = tmpdir(dir);
	struct lfs_keyring kr;
	unlocked(&kr, 3);
	/* 8000abcd: complete (record says 500, index claims 300: 300 wins);
	 * 8000abce: key and tree, no record and no index entry;
	 * 8000abcf: key only (a creation that never committed);
	 * 8000abd0: a hidden tree only; other names are ignored. */
	assert_int_equal(lfs_stage_key_create(dfd, &kr, 0x8000abcd), 0);
	assert_int_equal(mkdirat(dfd, "8000abcd", 0700), 0);
	struct lfs_stage_exp e = {.id = 0x8000abcd, .created = 100, .expires = 500};
	assert_int_equal(lfs_stage_exp_store(dfd, &kr, &e), 0);
	assert_int_equal(lfs_stage_key_create(dfd, &kr, 0x8000abce), 0);
	assert_int_equal(mkdirat(dfd, "8000abce", 0700), 0);
	assert_int_equal(lfs_stage_key_create(dfd, &kr, 0x8000abcf), 0);
	assert_int_equal(mkdirat(dfd, ".lethefs.tmp.8000abd0", 0700), 0);
	const char ix[] = "lethefs-staging-index 1\n8000abcd 100 300 0 7\n";
	touch(dfd, "index", ix, strlen(ix));
	touch(dfd, "0000abcd.key", "x", 1); /* not a staging id */
	touch(dfd, "8000abcd.bak", "x", 1);
	struct lfs_stage_found *f;
	size_t n;
	assert_int_equal(lfs_stage_scan(dfd, &f, &n), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		if (f[i].id == 0x8000abcd)
			assert_true(f[i].key && f[i].exp && f[i].tree && !f[i].hidden_tree);
		else if (f[i].id == 0x8000abce)
			assert_true(f[i].key && !f[i].exp && f[i].tree);
		else if (f[i].id == 0x8000abcf)
			assert_true(f[i].key && !f[i].exp && !f[i].tree);
		else
			assert_true(f[i].id == 0x8000abd0 && f[i].hidden_tree && !f[i].key);
	}
	free(f);
	struct lfs_stage_index v;
	bool damaged = true;
	assert_int_equal(lfs_staging_view(dfd, &v, &damaged), 0);
	assert_false(damaged);
	assert_int_equal(v.n, 2); /* only committed ones */
	struct lfs_stage_entry *a = lfs_stage_index_find(&v, 0x8000abcd);
	assert_non_null(a);
	assert_int_equal(a->expires, 300); /* the earliest claim */
	assert_int_equal(a->used, 7);
	assert_null(a->why);
	struct lfs_stage_entry *b = lfs_stage_index_find(&v, 0x8000abce);
	assert_non_null(b);
	assert_non_null(b->why); /* nothing says it may live */
	lfs_stage_index_free(&v);
	/* A record that claims later than the index does not postpone it;
	 * a damaged index is reported and the records still count. */
	touch(dfd, "index", "garbage", 7);
	assert_int_equal(lfs_staging_view(dfd, &v, &damaged), 0);
	assert_true(damaged);
	assert_int_equal(lfs_stage_index_find(&v, 0x8000abcd)->expires, 500);
	lfs_stage_index_free(&v);
	lfs_keyring_destroy(&kr);
	close(dfd);
	rmtree(dir);
}

static void test_key_destroy(void **state)
{
	(void)state;
	char dir[64];
	int dfd = tmpdir(dir);
	struct lfs_keyring kr;
	unlocked(&kr, 4);
	assert_int_equal(lfs_stage_key_create(dfd, &kr, ID), 0);
	/* Overwritten before it goes: the inode kept open shows new bytes. */
	int keep = openat(dfd, "8000abcd.key", O_RDONLY);
	assert_true(keep >= 0);
	uint8_t before[LFS_STAGE_KEY_FILE_LEN], after[LFS_STAGE_KEY_FILE_LEN];
	size_t got;
	assert_int_equal(lfs_pread_full(keep, before, sizeof(before), 0, &got), 0);
	assert_int_equal(lfs_stage_key_destroy(dfd, ID), 0);
	assert_int_equal(faccessat(dfd, "8000abcd.key", F_OK, 0), -1);
	assert_int_equal(lfs_pread_full(keep, after, sizeof(after), 0, &got), 0);
	assert_int_equal(got, sizeof(after));
	assert_memory_not_equal(before, after, sizeof(after));
	assert_memory_not_equal(after, "LTHSTK01", 8);
	close(keep);
	/* Gone already: nothing to do. A planted symlink just goes. */
	assert_int_equal(lfs_stage_key_destroy(dfd, ID), 0);
	assert_int_equal(symlinkat("/etc/passwd", dfd, "8000abcd.key"), 0);
	assert_int_equal(lfs_stage_key_destroy(dfd, ID), 0);
	assert_int_equal(faccessat(dfd, "8000abcd.key", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	lfs_keyring_destroy(&kr);
	close(dfd);
	rmtree(dir);
}

/* What an interrupted adoption leaves (docs/FORMAT.md 12.7), and what the
 * backing-store writer can plant in its place: only a directory named ID
 * is a tree; removing a non-directory there unlinks the entry, never what
 * it names; a pending .lethefs.dir is put in place only when it is one of
 * that id and the directory's own is not. */
static void test_adoption_leftovers(void **state)
{
	(void)state;
	char dir[64], cmd[160];
	int dfd = tmpdir(dir);
	struct lfs_keyring kr;
	unlocked(&kr, 4);
	assert_int_equal(lfs_stage_key_create(dfd, &kr, 0x8000abd1), 0);
	assert_int_equal(mkdirat(dfd, "outside", 0700), 0);
	int ofd = openat(dfd, "outside", O_RDONLY | O_DIRECTORY);
	assert_true(ofd >= 0);
	touch(ofd, "p", "precious", 8);
	close(ofd);
	assert_int_equal(symlinkat("outside", dfd, "8000abd1"), 0);
	touch(dfd, "8000abd2", "x", 1);
	struct lfs_stage_found *f;
	size_t n;
	assert_int_equal(lfs_stage_scan(dfd, &f, &n), 0);
	int seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (f[i].id == 0x8000abd1 || f[i].id == 0x8000abd2) {
			assert_false(f[i].tree);
			assert_true(f[i].placeholder);
			assert_int_equal(f[i].key, f[i].id == 0x8000abd1);
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	free(f);
	uint64_t files, bytes;
	assert_int_equal(lfs_stage_remove_tree(dfd, 0x8000abd1, &files, &bytes), 0);
	assert_int_equal(lfs_stage_remove_tree(dfd, 0x8000abd2, &files, &bytes), 0);
	struct stat st;
	assert_int_equal(fstatat(dfd, "8000abd1", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(fstatat(dfd, "8000abd2", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(fstatat(dfd, "outside/p", &st, 0), 0);

	/* A directory being adopted as ID: its old .lethefs.dir (data epoch). */
	assert_int_equal(lfs_stage_key_create(dfd, &kr, ID), 0);
	assert_int_equal(mkdirat(dfd, "t", 0700), 0);
	int tfd = openat(dfd, "t", O_RDONLY | O_DIRECTORY);
	assert_true(tfd >= 0);
	assert_int_equal(lfs_dirmeta_create_root(tfd, &kr), 0);
	struct lfs_dirmeta m, old;
	assert_int_equal(lfs_dirmeta_load(tfd, &old), 0);
	assert_int_not_equal(old.epoch, ID);
	assert_int_equal(lfs_stage_meta_finish(tfd, ID), 0); /* nothing pending */
	/* A pending file of another id is removed, never put in place. */
	assert_int_equal(lfs_stage_meta_stage(&kr, tfd, ID), 0);
	assert_int_equal(lfs_stage_meta_finish(tfd, ID + 1), -EINVAL);
	assert_int_equal(fstatat(tfd, LFS_STAGE_META_PENDING, &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(lfs_dirmeta_load(tfd, &m), 0);
	assert_memory_equal(m.dirid, old.dirid, sizeof(m.dirid));
	/* A symlink as pending file: removed, what it names untouched. */
	assert_int_equal(symlinkat("../outside/p", tfd, LFS_STAGE_META_PENDING), 0);
	assert_int_equal(lfs_stage_meta_finish(tfd, ID), -EINVAL);
	assert_int_equal(fstatat(tfd, LFS_STAGE_META_PENDING, &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(fstatat(dfd, "outside/p", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	/* Its own: put in place, once. */
	assert_int_equal(lfs_stage_meta_stage(&kr, tfd, ID), 0);
	assert_int_equal(lfs_stage_meta_finish(tfd, ID), 1);
	assert_int_equal(lfs_dirmeta_load(tfd, &m), 0);
	assert_int_equal(m.epoch, ID);
	assert_int_equal(lfs_stage_meta_finish(tfd, ID), 0);
	/* The directory's own is of ID already: a pending one is removed. */
	struct lfs_dirmeta now = m;
	assert_int_equal(lfs_stage_meta_stage(&kr, tfd, ID), 0);
	assert_int_equal(lfs_stage_meta_finish(tfd, ID), 0);
	assert_int_equal(fstatat(tfd, LFS_STAGE_META_PENDING, &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(lfs_dirmeta_load(tfd, &m), 0);
	assert_memory_equal(m.dirid, now.dirid, sizeof(m.dirid));
	close(tfd);
	lfs_keyring_destroy(&kr);
	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record),      cmocka_unit_test(test_clock_files),
	    cmocka_unit_test(test_clock_mark),  cmocka_unit_test(test_scan_and_view),
	    cmocka_unit_test(test_key_destroy), cmocka_unit_test(test_adoption_leftovers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
