/* SPDX-License-Identifier: Apache-2.0 */
/* Long symlink targets (FORMAT.md 8.1): the reference grammar, and the
 * sidecar round trip and its checks on a real directory. */
#define _GNU_SOURCE
#include "testutil.h"
#include "../../fs/longlink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH "ysXTf3sHtNC5qbS2CLzCjFX-jeOiOILvmv86xFnG07I"

static void test_parse(void **state)
{
	(void)state;
	char h[LFS_LONGLINK_HASH + 1];
	size_t n = 0;
	const char *good = "lethefs-longlink:" HASH ":4095";
	assert_true(lfs_longlink_parse(good, strlen(good), h, &n));
	assert_string_equal(h, HASH);
	assert_int_equal(n, 4095);
	const char *bad[] = {
	    "lethefs-longlink:" HASH ":4096", /* past PATH_MAX - 1 */
	    "lethefs-longlink:" HASH ":0000", /* empty target */
	    "lethefs-longlink:" HASH ":40a5", /* not decimal */
	    "lethefs-longlink:" HASH ";4095", /* separator */
	    "lethefs-longlinX:" HASH ":4095", /* prefix */
	    "lethefs-longlink:" HASH ":409",  /* length */
	    "lethefs-longlink:ysXTf3sHtNC5qbS2CLzCjFX-jeOiOILvmv86xFnG07=:4095",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(lfs_longlink_parse(bad[i], strlen(bad[i]), h, &n));
}

static void test_round_trip_and_tamper(void **state)
{
	(void)state;
	char dir[] = "/tmp/lethefs-longlink.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int tfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(tfd >= 0);
	/* An encoding too long for a backing symlink (any base64url text
	 * will do here: the crypto is tested in test_names). */
	size_t plain_len = 4000;
	size_t len = lfs_link_encoded_len(plain_len);
	char *enc = malloc(len + 1), *back = malloc(LFS_LINK_ENC_MAX + 1);
	assert_non_null(enc);
	assert_non_null(back);
	for (size_t i = 0; i < len; i++)
		enc[i] = (char)('A' + i % 26);
	enc[len] = '\0';
	assert_int_equal(lfs_link_make(tfd, tfd, "l", enc, plain_len), 0);
	assert_int_equal(lfs_link_read(tfd, tfd, "l", back), (ssize_t)len);
	assert_memory_equal(back, enc, len);
	struct stat st;
	assert_int_equal(fstatat(tfd, "l", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_size, LFS_LONGLINK_REF_LEN);
	int lfd = openat(tfd, "l", O_PATH | O_NOFOLLOW);
	lfs_link_fix_size(lfd, &st);
	assert_int_equal(st.st_size, (off_t)plain_len);
	close(lfd);
	/* A short encoding stays inline. */
	assert_int_equal(lfs_link_make(tfd, tfd, "s", "QUJD", 1), 0);
	assert_int_equal(lfs_link_read(tfd, tfd, "s", back), 4);
	/* One changed byte in the sidecar: its hash no longer matches. */
	char hash[LFS_LONGLINK_HASH + 1], path[256];
	assert_true(lfs_link_last_long(tfd, "l", hash));
	snprintf(path, sizeof(path), "%s/%s%s", dir, LFS_LONGLINK_FILE, hash);
	chmod(path, 0600);
	int fd = open(path, O_WRONLY);
	assert_int_equal(pwrite(fd, "Z", 1, 10), 1);
	close(fd);
	assert_int_equal(lfs_link_read(tfd, tfd, "l", back), -EIO);
	lfs_link_drop(tfd, hash);
	assert_int_equal(lfs_link_read(tfd, tfd, "l", back), -EIO);
	unlinkat(tfd, "l", 0);
	unlinkat(tfd, "s", 0);
	close(tfd);
	assert_int_equal(rmdir(dir), 0);
	free(enc);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_round_trip_and_tamper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
