/* SPDX-License-Identifier: Apache-2.0 */
/* Large writes whose whole blocks are sealed on the sealing pool's helpers
 * and the handler's thread at once (fs/fileio_seal.c), without a mount:
 * written data reads back exactly (unaligned heads and tails, a write
 * across the end, gaps filled and holes, format-1 and format-2 files),
 * concurrent writers to one file, a fresh random nonce for every block
 * written, and a failing backing write reported as the error it is, never
 * as a short write, with the old contents intact. The backing-store calls
 * are wrapped (crashrig.h) so that a child can get EIO or ENOSPC at its Nth
 * call. */
#include "crashrig.h"

#include <pthread.h>

#include "../../common/fileutil.h"
#include "../../fs/fileio.h"
#include "../../fs/filelayout.h"

#define MiB (1024u * 1024u)
/* The reference plaintext covers this much (holes past it are not
 * compared byte by byte, only their zeros up to it). */
#define REF_MAX (48u * MiB)

static unsigned version = LFS_FILE_V1;

/* Deterministic bytes for a write: seed picks the stream. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint8_t s[randombytes_SEEDBYTES] = {0};
	memcpy(s, &seed, sizeof(seed));
	randombytes_buf_deterministic(p, n, s);
}

/* The rig's filesystem with three sealing helpers whatever the CPU count,
 * so that a request is always split over several threads. */
static void rig_fs_wide(struct rig *g)
{
	rig_fs(g);
	lfs_workpool_destroy(&g->fs.sealers);
	lfs_workpool_init(&g->fs.sealers, 3);
}

static struct lfs_inode *open_file(struct rig *g, int *fd)
{
	unlinkat(g->data_fd, "f", 0);
	if (version == LFS_FILE_V2)
		rig_new_file2(g, g->data_fd, "f");
	return rig_inode_at(g, g->data_fd, "f", O_RDWR | O_CREAT, fd);
}

/* The file reads back as ref[0..size) and ends there. */
static void check_reads(struct rig *g, struct lfs_inode *in, int fd, const uint8_t *ref,
                        size_t size)
{
	uint8_t *buf = malloc(MiB);
	assert_non_null(buf);
	for (size_t off = 0; off < size; off += MiB) {
		size_t want = size - off < MiB ? size - off : MiB;
		ssize_t n = lfs_fileio_read(&g->fs, in, fd, (char *)buf, MiB, off);
		assert_int_equal(n, (ssize_t)want);
		if (memcmp(buf, ref + off, want) != 0)
			fail_msg("contents differ in the MiB at %zu", off);
	}
	assert_int_equal(lfs_fileio_read(&g->fs, in, fd, (char *)buf, 4096, size), 0);
	/* One unaligned read across a block boundary too. */
	if (size > 5000) {
		assert_int_equal(lfs_fileio_read(&g->fs, in, fd, (char *)buf, 5000, size - 5000),
		                 5000);
		assert_memory_equal(buf, ref + size - 5000, 5000);
	}
	free(buf);
}

/* Writes len bytes (stream seed) at off, mirrored in ref. */
static void write_at(struct rig *g, struct lfs_inode *in, int fd, uint8_t *ref, size_t *size,
                     uint64_t off, size_t len, uint32_t seed)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	fill(p, len, seed);
	assert_int_equal(lfs_fileio_write(&g->fs, in, fd, (char *)p, len, off), (ssize_t)len);
	assert_true(off + len <= REF_MAX);
	memcpy(ref + off, p, len);
	if (off + len > *size)
		*size = off + len;
	free(p);
}

static void run_writes(void)
{
	struct rig g;
	rig_init(&g);
	rig_fs_wide(&g);
	int fd;
	struct lfs_inode *in = open_file(&g, &fd);
	uint8_t *ref = calloc(1, REF_MAX);
	assert_non_null(ref);
	size_t size = 0;
	struct {
		uint64_t off;
		size_t len;
	} steps[] = {
	    {0, 3 * MiB},                /* first write, aligned, growing */
	    {1000, MiB + 777},           /* in place, unaligned head and tail */
	    {4096, 256 * 4096},          /* in place, whole blocks only */
	    {3 * MiB - 10, 2 * MiB + 5}, /* across the end */
	    {5 * MiB + 100, MiB},        /* after a small gap (sealed zeros) */
	    {6 * MiB + 100, 32 * 4096},  /* just at the split's threshold */
	    {7 * MiB, 31 * 4096 + 1},    /* just below it */
	    {40 * MiB + 3, MiB + 4093},  /* after a hole (> 8 MiB) */
	    {12 * MiB, 2 * MiB},         /* into the hole */
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		write_at(&g, in, fd, ref, &size, steps[i].off, steps[i].len, (uint32_t)i + 1);
		check_reads(&g, in, fd, ref, size);
	}
	/* The helpers did take items (the pool started them). */
	assert_true(g.fs.sealers.started > 0);
	/* Read back through a fresh inode (nothing cached) too. */
	lfs_inode_forget(&g.fs, in, 1);
	close(fd);
	in = rig_inode_at(&g, g.data_fd, "f", O_RDWR, &fd);
	check_reads(&g, in, fd, ref, size);
	lfs_inode_forget(&g.fs, in, 1);
	close(fd);
	free(ref);
	rig_fs_done(&g);
	rig_done(&g);
}

static void test_writes_read_back_v1(void **state)
{
	(void)state;
	version = LFS_FILE_V1;
	run_writes();
}

static void test_writes_read_back_v2(void **state)
{
	(void)state;
	version = LFS_FILE_V2;
	run_writes();
}

/* --- several writers to one file ------------------------------------- */

#define WRITERS     4
#define ROUNDS_EACH 4

struct writer {
	struct rig *g;
	struct lfs_inode *in;
	int fd, id;
	uint8_t *ref;
	ssize_t bad; /* a return that was not the length written */
};

/* Writer id writes 1 MiB + id*1000 bytes at (k * WRITERS + id) MiB + id
 * for k < ROUNDS_EACH: disjoint ranges, unaligned, the file growing
 * under all of them at once. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t len = MiB - 4096 + (size_t)w->id * 1000;
	uint8_t *p = malloc(len);
	for (int k = 0; p && k < ROUNDS_EACH; k++) {
		uint64_t off = (uint64_t)(k * WRITERS + w->id) * MiB + (uint64_t)w->id;
		fill(p, len, (uint32_t)(1000 + k * WRITERS + w->id));
		ssize_t n = lfs_fileio_write(&w->g->fs, w->in, w->fd, (char *)p, len, off);
		if (n != (ssize_t)len)
			w->bad = n;
		memcpy(w->ref + off, p, len);
	}
	free(p);
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	(void)state;
	version = LFS_FILE_V2;
	struct rig g;
	rig_init(&g);
	rig_fs_wide(&g);
	int fd;
	struct lfs_inode *in = open_file(&g, &fd);
	uint8_t *ref = calloc(1, REF_MAX);
	assert_non_null(ref);
	pthread_t t[WRITERS];
	struct writer w[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.g = &g, .in = in, .fd = fd, .id = i, .ref = ref};
		assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].bad, 0);
	}
	int last = WRITERS - 1;
	size_t size = (size_t)((ROUNDS_EACH - 1) * WRITERS + last) * MiB + (size_t)last + MiB -
	              4096 + (size_t)last * 1000;
	check_reads(&g, in, fd, ref, size);
	lfs_inode_forget(&g.fs, in, 1);
	close(fd);
	free(ref);
	rig_fs_done(&g);
	rig_done(&g);
}

/* --- nonces ------------------------------------------------------------ */

static int cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, LFS_AEAD_NONCE_MAX);
}

/* Every stored block of the file carries its own nonce, including the
 * blocks of one request sealed on different threads and blocks written
 * again in place. */
static void test_fresh_nonces(void **state)
{
	(void)state;
	version = LFS_FILE_V2;
	struct rig g;
	rig_init(&g);
	rig_fs_wide(&g);
	int fd;
	struct lfs_inode *in = open_file(&g, &fd);
	size_t len = 2 * MiB;
	uint8_t *p = calloc(1, len); /* the same plaintext everywhere */
	assert_non_null(p);
	assert_int_equal(lfs_fileio_write(&g.fs, in, fd, (char *)p, len, 0), (ssize_t)len);
	struct lfs_layout l;
	assert_int_equal(lfs_inode_layout(&g.fs, in, fd, &l), 0);
	size_t nblocks = len / 4096;
	uint8_t *seen = calloc(2 * nblocks, LFS_AEAD_NONCE_MAX);
	assert_non_null(seen);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) /* the same data again, in place */
			assert_int_equal(lfs_fileio_write(&g.fs, in, fd, (char *)p, len, 0),
			                 (ssize_t)len);
		for (size_t b = 0; b < nblocks; b++) {
			size_t got = 0;
			assert_int_equal(
			    lfs_pread_full(fd, seen + (pass * nblocks + b) * LFS_AEAD_NONCE_MAX,
			                   l.nonce_len, (off_t)lfs_block_offset(&l, b), &got),
			    0);
			assert_int_equal(got, l.nonce_len);
		}
	}
	qsort(seen, 2 * nblocks, LFS_AEAD_NONCE_MAX, cmp_nonce);
	for (size_t i = 1; i < 2 * nblocks; i++)
		if (memcmp(seen + (i - 1) * LFS_AEAD_NONCE_MAX, seen + i * LFS_AEAD_NONCE_MAX,
		           LFS_AEAD_NONCE_MAX) == 0)
			fail_msg("a nonce was used twice");
	free(seen);
	free(p);
	lfs_inode_forget(&g.fs, in, 1);
	close(fd);
	rig_fs_done(&g);
	rig_done(&g);
}

/* --- a failing write -------------------------------------------------- */

struct fail_ctx {
	uint64_t off;
	size_t len;
	struct lfs_inode *in;
	int fd;
};

#define OLD_SIZE (2 * MiB + 300)

static void fail_setup(struct rig *g, void *arg)
{
	struct fail_ctx *c = arg;
	lfs_workpool_destroy(&g->fs.sealers);
	lfs_workpool_init(&g->fs.sealers, 3);
	c->in = rig_inode_at(g, g->data_fd, "f", O_RDWR, &c->fd);
}

/* The write either succeeds whole or fails with an error: a short count
 * exits with 2, which the sweep refuses. */
static bool fail_run(struct rig *g, void *arg)
{
	struct fail_ctx *c = arg;
	uint8_t *p = malloc(c->len);
	fill(p, c->len, 77);
	ssize_t n = lfs_fileio_write(&g->fs, c->in, c->fd, (char *)p, c->len, c->off);
	free(p);
	if (n >= 0 && n != (ssize_t)c->len)
		_exit(2);
	return n == (ssize_t)c->len;
}

/* After a failed write: the old length, and every block either as it was
 * or as the write made it (a write in place is atomic per block, not as a
 * whole, as on any filesystem; fs/overwrite.h), every one authentic. */
static void check_failed(struct rig *g, const struct fail_ctx *c)
{
	int fd;
	struct lfs_inode *in = rig_inode_at(g, g->data_fd, "f", O_RDWR, &fd);
	uint8_t *old = malloc(OLD_SIZE), *new = malloc(c->off + c->len);
	uint8_t *got = malloc(OLD_SIZE + 4096);
	fill(old, OLD_SIZE, 5);
	memcpy(new, old, OLD_SIZE < c->off ? OLD_SIZE : c->off);
	fill(new + c->off, c->len, 77);
	assert_int_equal(lfs_fileio_read(&g->fs, in, fd, (char *)got, OLD_SIZE + 4096, 0),
	                 (ssize_t)OLD_SIZE);
	for (size_t b = 0; b * 4096 < OLD_SIZE; b++) {
		size_t at = b * 4096, n = OLD_SIZE - at < 4096 ? OLD_SIZE - at : 4096;
		if (memcmp(got + at, old + at, n) != 0 &&
		    (at + n > c->off + c->len || memcmp(got + at, new + at, n) != 0))
			fail_msg("block %zu is neither old nor new after a failed write", b);
	}
	free(old);
	free(new);
	free(got);
	lfs_inode_forget(&g->fs, in, 1);
	close(fd);
}

static void test_errors_reported(void **state)
{
	(void)state;
	version = LFS_FILE_V2;
	struct rig g;
	rig_init(&g);
	struct {
		uint64_t off;
		size_t len;
	} cases[] = {{1000, MiB + 777}, {2 * MiB - 5, MiB + 9}};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		rig_fs(&g);
		int fd;
		struct lfs_inode *in = open_file(&g, &fd);
		uint8_t *old = malloc(OLD_SIZE);
		fill(old, OLD_SIZE, 5);
		assert_int_equal(lfs_fileio_write(&g.fs, in, fd, (char *)old, OLD_SIZE, 0),
		                 (ssize_t)OLD_SIZE);
		free(old);
		lfs_inode_forget(&g.fs, in, 1);
		close(fd);
		rig_fs_done(&g);
		struct fail_ctx c = {.off = cases[k].off, .len = cases[k].len};
		struct rig_op op = {.setup = fail_setup, .run = fail_run, .ctx = &c};
		int ncalls = 0;
		assert_int_equal(rig_run(&g, &op, 0, FAULT_NONE, &ncalls), 0);
		assert_true(ncalls > 0);
		/* The successful run changed the file: start again from the
		 * old contents for each faulted call. */
		enum fault kinds[] = {FAULT_EIO, FAULT_ENOSPC};
		for (int at = 1; at <= ncalls; at++)
			for (size_t f = 0; f < 2; f++) {
				rig_fs(&g);
				in = open_file(&g, &fd);
				old = malloc(OLD_SIZE);
				fill(old, OLD_SIZE, 5);
				assert_int_equal(
				    lfs_fileio_write(&g.fs, in, fd, (char *)old, OLD_SIZE, 0),
				    (ssize_t)OLD_SIZE);
				free(old);
				lfs_inode_forget(&g.fs, in, 1);
				close(fd);
				rig_fs_done(&g);
				int n2 = 0;
				int st = rig_run(&g, &op, at, kinds[f], &n2);
				assert_int_not_equal(st, 2); /* never a short write */
				if (st == 1) {               /* failed */
					rig_fs(&g);
					check_failed(&g, &c);
					rig_fs_done(&g);
				}
			}
	}
	rig_done(&g);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_writes_read_back_v1), cmocka_unit_test(test_writes_read_back_v2),
	    cmocka_unit_test(test_concurrent_writers),  cmocka_unit_test(test_fresh_nonces),
	    cmocka_unit_test(test_errors_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
