/* SPDX-License-Identifier: Apache-2.0 */
/* Recovery's check of the blocks a growth wrote before its check block
 * (lfs_tail_body_ok, fs/tail.c; docs/FORMAT.md 12.11): every block must
 * authenticate, or read as zeros in a file whose header allows holes. A
 * growth by truncate leaves a hole of any size; its check must not read
 * it block by block (that of a record of `truncate -s 1T` had not finished
 * after 60 s, the mount waiting on it), and must still find a bad block
 * inside it. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../common/fileutil.h"
#include "../../fs/content.h"
#include "../../fs/tail.h"

struct body {
	char path[64];
	int fd;
	struct lfs_layout l;
	struct lfs_file_header h;
	struct lfs_aead_key k;
};

static void body_open(struct body *s, bool sparse)
{
	snprintf(s->path, sizeof(s->path), "/tmp/lethefs-tailbody.XXXXXX");
	s->fd = mkstemp(s->path);
	assert_true(s->fd >= 0);
	lfs_layout_init(&s->l, LFS_CIPHER_XCHACHA20POLY1305, LFS_FILE_V1);
	lfs_header_new(&s->h, LFS_CIPHER_XCHACHA20POLY1305, 1, LFS_FILE_V1);
	if (sparse)
		s->h.flags |= LFS_HDR_FLAG_SPARSE;
	static const uint8_t root[32] = {7};
	assert_int_equal(lfs_file_key(&s->k, s->l.cipher, root, s->h.file_id), 0);
}

static void body_close(struct body *s)
{
	close(s->fd);
	unlink(s->path);
}

/* Block b sealed (not final, 4096 bytes of pattern) at its place. */
static void put_block(struct body *s, uint64_t b)
{
	uint8_t plain[LFS_BLOCK_SIZE], out[LFS_BLOCK_SIZE + 64];
	test_fill(plain, sizeof(plain), (uint8_t)b);
	randombytes_buf(out, s->l.nonce_len);
	assert_int_equal(lfs_block_seal(&s->l, &s->k, &s->h, b, false, plain, sizeof(plain), out),
	                 0);
	assert_int_equal(
	    lfs_pwrite_full(s->fd, out, s->l.block_disk, (off_t)lfs_block_offset(&s->l, b)), 0);
}

/* A growth from block 0 (the pivot) to check block n, its record holding
 * the old pivot (so that it can be undone, and is checked). */
static struct lfs_tail growth(struct body *s, uint64_t n)
{
	struct lfs_tail t = {.pivot_block = 0,
	                     .check_block = n,
	                     .old_pivot_len = (uint32_t)s->l.overhead + 1,
	                     .new_pivot_len = (uint32_t)s->l.block_disk};
	t.new_backing = lfs_block_offset(&s->l, n) + s->l.overhead + 1;
	assert_int_equal(ftruncate(s->fd, (off_t)t.new_backing), 0);
	return t;
}

static bool body_ok(struct body *s, const struct lfs_tail *t)
{
	bool ok = false;
	assert_int_equal(lfs_tail_body_ok(&s->l, &s->k, &s->h, s->fd, t, &ok), 0);
	return ok;
}

static void test_written_blocks(void **state)
{
	(void)state;
	struct body s;
	body_open(&s, false);
	struct lfs_tail t = growth(&s, 5);
	for (uint64_t b = 1; b < 5; b++)
		put_block(&s, b);
	assert_true(body_ok(&s, &t));
	/* One byte of block 3 changed: the growth is not on disk. */
	uint8_t c;
	off_t at = (off_t)lfs_block_offset(&s.l, 3) + 100;
	assert_int_equal(pread(s.fd, &c, 1, at), 1);
	c ^= 1;
	assert_int_equal(pwrite(s.fd, &c, 1, at), 1);
	assert_false(body_ok(&s, &t));
	body_close(&s);
}

/* 2^28 blocks of hole (a terabyte), then one written block before the
 * check block: the hole is fine in a sparse file, not in another one, and
 * a bad block in the middle of it is found. */
static void test_huge_hole(void **state)
{
	(void)state;
	uint64_t n = 1ull << 28;
	struct body s;
	body_open(&s, true);
	struct lfs_tail t = growth(&s, n);
	put_block(&s, n - 1);
	alarm(60); /* block by block: not done after 60 s */
	assert_true(body_ok(&s, &t));
	alarm(0);
	/* Garbage planted far inside the hole. */
	uint8_t junk[64];
	test_fill(junk, sizeof(junk), 1);
	assert_int_equal(
	    pwrite(s.fd, junk, sizeof(junk), (off_t)lfs_block_offset(&s.l, n / 2) + 1000),
	    (ssize_t)sizeof(junk));
	alarm(60);
	assert_false(body_ok(&s, &t));
	alarm(0);
	body_close(&s);
	/* A file whose header allows no hole: its first hole block fails. */
	body_open(&s, false);
	t = growth(&s, n);
	put_block(&s, n - 1);
	alarm(60);
	assert_false(body_ok(&s, &t));
	alarm(0);
	body_close(&s);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_written_blocks),
	    cmocka_unit_test(test_huge_hole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
