/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the rule that decides which rewrites in place must go
 * through the journal durably (fs/durable.c, docs/FORMAT.md 12.11): a
 * rewrite that leaves durable bytes of a block untouched or writes them
 * again unchanged must; one that changes every durable byte (random data
 * over a whole block) or touches no durable byte need not. And the
 * inode's durable size: what the first write after an fsync finds. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "../../fs/durable.h"
#include "../../fs/fs.h"

#define B 4096

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 131 + (i >> 7) * 7);
}

static void test_untouched_durable_bytes_are_kept(void **state)
{
	(void)state;
	static uint8_t old[B], new_[B];
	fill(old, B, 1);
	fill(new_, B, 99);
	/* Durable [0, 100); an append from 100 leaves all 100 untouched. */
	assert_true(lfs_durable_kept(old, new_, 0, 100, 100, 200));
	/* A write of the middle of a wholly durable block. */
	assert_true(lfs_durable_kept(old, new_, 0, B, 1000, 2000));
	/* A write of the first half, durable bytes up to 3000. */
	assert_true(lfs_durable_kept(old, new_, 0, 3000, 0, 2048));
}

static void test_changed_durable_bytes_are_not_kept(void **state)
{
	(void)state;
	static uint8_t old[B], new_[B];
	fill(old, B, 1);
	fill(new_, B, 99);
	/* A whole block of other data over a durable block (fio). */
	assert_false(lfs_durable_kept(old, new_, 0, B, 0, B));
	/* Durable bytes only in the first 100, all rewritten with others. */
	assert_false(lfs_durable_kept(old, new_, 0, 100, 0, 300));
	/* A block with no durable bytes at all. */
	assert_false(lfs_durable_kept(old, new_, 8192, 8192, 8192, 8192 + 10));
}

static void test_durable_bytes_written_again_unchanged_are_kept(void **state)
{
	(void)state;
	static uint8_t old[B], new_[B];
	fill(old, B, 1);
	fill(new_, B, 99);
	/* A database page rewritten whole, its first 4,000 bytes as they were. */
	memcpy(new_, old, 4000);
	assert_true(lfs_durable_kept(old, new_, 0, B, 0, B));
	/* Eight equal bytes anywhere in the durable part are enough. */
	fill(new_, B, 99);
	memcpy(new_ + 2000, old + 2000, 8);
	assert_true(lfs_durable_kept(old, new_, 0, B, 0, B));
	/* Seven are what unrelated data may share: not enough. */
	fill(new_, B, 99);
	memcpy(new_ + 2000, old + 2000, 7);
	assert_false(lfs_durable_kept(old, new_, 0, B, 0, B));
	/* Fewer durable bytes than eight: all of them equal is enough. */
	fill(new_, B, 99);
	memcpy(new_, old, 3);
	assert_true(lfs_durable_kept(old, new_, 0, 3, 0, B));
	new_[1] ^= 1;
	assert_false(lfs_durable_kept(old, new_, 0, 3, 0, B));
}

static void test_durable_size_follows_fsync(void **state)
{
	(void)state;
	struct lfs_inode in;
	memset(&in, 0, sizeof(in));
	pthread_mutex_init(&in.meta_lock, NULL);
	/* Found on disk: all of it as the first write finds it. */
	assert_int_equal(lfs_durable_size(&in, 5000), 5000);
	/* Later writes grow the file; what was durable stays. */
	assert_int_equal(lfs_durable_size(&in, 9000), 5000);
	/* An fsync: the size the next write finds. */
	lfs_durable_all(&in);
	assert_int_equal(lfs_durable_size(&in, 9000), 9000);
	assert_int_equal(lfs_durable_size(&in, 12000), 9000);
	pthread_mutex_destroy(&in.meta_lock);
}

static void test_failed_sync_reported_once(void **state)
{
	(void)state;
	struct lfs_inode in;
	memset(&in, 0, sizeof(in));
	pthread_mutex_init(&in.meta_lock, NULL);
	assert_int_equal(lfs_durable_take_error(&in), 0);
	lfs_durable_failed(&in, EIO);
	lfs_durable_failed(&in, ENOSPC); /* the first one counts */
	assert_int_equal(lfs_durable_take_error(&in), EIO);
	assert_int_equal(lfs_durable_take_error(&in), 0);
	pthread_mutex_destroy(&in.meta_lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_untouched_durable_bytes_are_kept),
	    cmocka_unit_test(test_changed_durable_bytes_are_not_kept),
	    cmocka_unit_test(test_durable_bytes_written_again_unchanged_are_kept),
	    cmocka_unit_test(test_durable_size_follows_fsync),
	    cmocka_unit_test(test_failed_sync_reported_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
