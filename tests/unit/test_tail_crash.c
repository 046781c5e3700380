/* Crash and full-disk sweep of the tail updates (fs/fileio_tail.c) under
 * the journal, for files of both header versions (a format-1 file, and a
 * format-2 file whose 152-byte header with its inode record moves every
 * block), without a mount: the backing-store calls are wrapped at link
 * time (-Wl,--wrap, see the Makefile), so a forked child can die (_exit) or
 * get ENOSPC/EIO at exactly its Nth call of an operation. After each crash
 * the one recovery function runs and the file must read back as it was
 * before the operation or as it is after it, with every block authentic;
 * after each error the operation must have failed cleanly with the old
 * contents intact. Every N from 1 to the operation's number of calls is
 * tried, for each scenario below. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../daemon/recover.h"
#include "../../fs/fileio.h"
#include "../../fs/fs.h"
#include "../../fs/obj2.h"
#include "../../common/fileutil.h"
#include "../../journal/journal.h"

/* --- the wrapped calls ------------------------------------------------ */

enum fault { FAULT_NONE, FAULT_CRASH_BEFORE, FAULT_CRASH_AFTER, FAULT_ENOSPC, FAULT_EIO };
static int fault_at; /* 0: count only */
static enum fault fault_kind;
static int calls;

/* Returns -1 with errno set when the call must fail; exits when it must
 * crash before running. */
static int before_call(void)
{
	calls++;
	if (!fault_at || calls != fault_at)
		return 0;
	switch (fault_kind) {
	case FAULT_CRASH_BEFORE:
		_exit(99);
	case FAULT_ENOSPC:
		errno = ENOSPC;
		return -1;
	case FAULT_EIO:
		errno = EIO;
		return -1;
	default:
		return 0;
	}
}

static void after_call(void)
{
	if (fault_at && calls == fault_at && fault_kind == FAULT_CRASH_AFTER)
		_exit(99);
}

ssize_t __real_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	if (before_call() < 0)
		return -1;
	ssize_t r = __real_pwrite64(fd, buf, n, off);
	after_call();
	return r;
}

int __real_ftruncate64(int fd, off_t len);
int __wrap_ftruncate64(int fd, off_t len);
int __wrap_ftruncate64(int fd, off_t len)
{
	if (before_call() < 0)
		return -1;
	int r = __real_ftruncate64(fd, len);
	after_call();
	return r;
}

int __real_fallocate64(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate64(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate64(int fd, int mode, off_t off, off_t len)
{
	if (before_call() < 0)
		return -1;
	int r = __real_fallocate64(fd, mode, off, len);
	after_call();
	return r;
}

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_fdatasync(int fd)
{
	if (before_call() < 0)
		return -1;
	int r = __real_fdatasync(fd);
	after_call();
	return r;
}

/* --- a vault without a mount ----------------------------------------- */

struct rig {
	char dir[64];
	int vault_fd, data_fd;
	struct lfs_keyring kr;
	struct lfs_journal journal;
	struct lfs_fs fs;
	char data_path[128];
};

static void rig_fs(struct rig *g)
{
	int dfd = dup(g->data_fd);
	assert_true(dfd >= 0);
	assert_int_equal(lfs_fs_init(&g->fs, &g->kr, dfd, g->dir), 0);
	assert_int_equal(lfs_journal_open(&g->journal, g->vault_fd, g->kr.uuid, true, 16), 0);
	g->fs.journal = &g->journal;
	g->fs.data_path = g->data_path;
}

static void rig_fs_done(struct rig *g)
{
	lfs_journal_close(&g->journal);
	lfs_fs_destroy(&g->fs);
}

static void rig_init(struct rig *g)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->dir, sizeof(g->dir), "/tmp/lethefs-tail.XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	g->vault_fd = open(g->dir, O_RDONLY | O_DIRECTORY);
	assert_int_equal(mkdirat(g->vault_fd, "d", 0700), 0);
	g->data_fd = openat(g->vault_fd, "d", O_RDONLY | O_DIRECTORY);
	snprintf(g->data_path, sizeof(g->data_path), "%s/d", g->dir);
	uint8_t uuid[16];
	randombytes_buf(uuid, sizeof(uuid));
	lfs_keyring_init(&g->kr, uuid, LFS_CIPHER_XCHACHA20POLY1305);
	assert_int_equal(lfs_keyring_generate(&g->kr, 2), 0);
}

static void rig_done(struct rig *g)
{
	lfs_keyring_destroy(&g->kr);
	close(g->data_fd);
	close(g->vault_fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g->dir);
	assert_int_equal(system(cmd), 0);
}

/* The file through a fresh inode (nothing cached from before). */
static struct lfs_inode *open_file(struct rig *g, int *fd)
{
	*fd = openat(g->data_fd, "f", O_RDWR | O_CREAT, 0600);
	assert_true(*fd >= 0);
	int pfd = openat(g->data_fd, "f", O_PATH);
	struct stat st;
	assert_int_equal(fstat(pfd, &st), 0);
	int err = 0;
	struct lfs_inode *in = lfs_inode_get(&g->fs, pfd, &st, &err);
	assert_non_null(in);
	return in;
}

static void put_file(struct rig *g, struct lfs_inode *in, int fd)
{
	lfs_inode_forget(&g->fs, in, 1);
	close(fd);
}

/* The header version of the files of the current sweep. */
static unsigned version = LFS_FILE_V1;

/* A format-2 file is born with its header (its record), so it exists
 * before its first write; a format-1 file has none until then. */
static void make_file(struct rig *g)
{
	if (version != LFS_FILE_V2)
		return;
	int fd = openat(g->data_fd, "f", O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	const struct lfs_epoch_keys *k;
	struct lfs_irec rec;
	struct lfs_file_header h;
	assert_int_equal(lfs_irec_make(&rec, S_IFREG | 0640, 1000, 1000, 0), 0);
	assert_int_equal(lfs_keyring_get(&g->kr, 0, &k), 0);
	assert_int_equal(lfs_obj2_write(fd, g->kr.cipher, k, &rec, NULL, 0, &h), 0);
	lfs_keyring_put(&g->kr);
	close(fd);
}

/* The file's layout, from its header. */
static void file_layout(struct rig *g, int fd, struct lfs_layout *l)
{
	uint8_t head[5];
	size_t got = 0;
	assert_int_equal(lfs_pread_full(fd, head, sizeof(head), 0, &got), 0);
	lfs_layout_init(l, g->kr.cipher,
	                lfs_header_version(head, got) == LFS_FILE_V2 ? LFS_FILE_V2 : LFS_FILE_V1);
	assert_int_equal(l->version, version);
}

/* --- scenarios -------------------------------------------------------- */

struct scenario {
	const char *name;
	size_t initial; /* bytes written (and fsync'd) before */
	char op;        /* 'w' write, 't' truncate */
	uint64_t off;   /* write offset, or the truncate's size */
	size_t len;     /* write length */
};

static const struct scenario scenarios[] = {
    {"append inside the last block", 5000, 'w', 5000, 2000},
    {"append across blocks", 5000, 'w', 5000, 10000},
    {"append to an aligned file", 8192, 'w', 8192, 100},
    {"write over the end", 9000, 'w', 6000, 9000},
    {"write after a small gap", 5000, 'w', 100000, 3000},
    {"write after a hole", 5000, 'w', 20u << 20, 3000},
    {"first write", 0, 'w', 0, 10000},
    {"first write at an offset", 0, 'w', 9000, 100},
    {"cut inside a block", 20000, 't', 7000, 0},
    {"cut at a block boundary", 20000, 't', 8192, 0},
    {"extend by truncate", 5000, 't', 50000, 0},
    {"extend by truncate past 8 MiB", 5000, 't', 9u << 20, 0},
    {"cut to zero", 20000, 't', 0, 0},
};

static uint8_t *pattern(size_t len, uint8_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 12));
	return p;
}

/* The plaintext the file must hold after the scenario's operation. */
static uint8_t *expected_after(const struct scenario *s, size_t *len)
{
	uint8_t *old = pattern(s->initial, 1);
	size_t n = s->op == 'w' ? (s->off + s->len > s->initial ? s->off + s->len : s->initial)
	                        : (size_t)s->off;
	uint8_t *out = calloc(1, n ? n : 1);
	memcpy(out, old, s->initial < n ? s->initial : n);
	if (s->op == 'w') {
		uint8_t *w = pattern(s->len, 99);
		memcpy(out + s->off, w, s->len);
		free(w);
	}
	free(old);
	*len = n;
	return out;
}

static void prepare(struct rig *g, const struct scenario *s)
{
	unlinkat(g->data_fd, "f", 0);
	make_file(g);
	rig_fs(g);
	int fd;
	struct lfs_inode *in = open_file(g, &fd);
	if (s->initial) {
		uint8_t *old = pattern(s->initial, 1);
		assert_int_equal(lfs_fileio_write(&g->fs, in, fd, (char *)old, s->initial, 0),
		                 (ssize_t)s->initial);
		free(old);
	}
	assert_int_equal(fsync(fd), 0);
	put_file(g, in, fd);
	rig_fs_done(g);
}

/* Runs the operation in a child with the given fault; returns the child's
 * exit status (0: the operation succeeded, 1: it failed, 99: crashed) and
 * the number of wrapped calls it made. */
static int run_op(struct rig *g, const struct scenario *s, int at, enum fault kind, int *ncalls)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		rig_fs(g);
		int fd;
		struct lfs_inode *in = open_file(g, &fd);
		calls = 0;
		fault_at = at;
		fault_kind = kind;
		int ok;
		if (s->op == 'w') {
			uint8_t *w = pattern(s->len, 99);
			ok = lfs_fileio_write(&g->fs, in, fd, (char *)w, s->len, s->off) ==
			     (ssize_t)s->len;
		} else {
			ok = lfs_fileio_truncate(&g->fs, in, fd, s->off) == 0;
		}
		int n = calls;
		fault_at = 0;
		ssize_t wr = write(pfd[1], &n, sizeof(n));
		(void)wr;
		_exit(ok ? 0 : 1);
	}
	close(pfd[1]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	*ncalls = 0;
	ssize_t rd = read(pfd[0], ncalls, sizeof(*ncalls));
	(void)rd;
	close(pfd[0]);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Whether every 4 KiB block of got is the old or the new one. A write that
 * overwrites existing blocks before it grows the file rewrites them in
 * place (FORMAT.md: atomic per block, like a write(2) on ext4); only the
 * change of the file's end is atomic as a whole. */
static bool block_mix(const uint8_t *got, const uint8_t *old, const uint8_t *new, size_t len)
{
	for (size_t at = 0; at < len; at += LFS_BLOCK_SIZE) {
		size_t n = len - at < LFS_BLOCK_SIZE ? len - at : LFS_BLOCK_SIZE;
		if (memcmp(got + at, old + at, n) != 0 && memcmp(got + at, new + at, n) != 0)
			return false;
	}
	return true;
}

/* Recovery, then the file must be exactly old or new and authentic.
 * Returns 0 for old, 1 for new. */
static int check_file(struct rig *g, const struct scenario *s, const char *what, int at)
{
	rig_fs(g);
	struct lfs_recovery rc = {.journal = &g->journal,
	                          .kr = &g->kr,
	                          .layout = &g->fs.layout,
	                          .data_dirfd = g->data_fd,
	                          .handle_mount_fd = g->fs.handle_mount_fd};
	assert_int_equal(lfs_recover(&rc), 0);
	unsigned pending;
	assert_int_equal(lfs_journal_pending(&g->journal, &pending), 0);
	int fd;
	struct lfs_inode *in = open_file(g, &fd);
	uint64_t bad = 0;
	long nbad = lfs_fileio_verify(&g->fs, in, fd, &bad);
	struct stat st;
	struct lfs_layout l;
	assert_int_equal(fstat(fd, &st), 0);
	file_layout(g, fd, &l);
	uint64_t plain;
	lfs_plain_size(&l, (uint64_t)st.st_size, &plain);
	uint8_t *got = malloc(plain ? plain : 1);
	ssize_t n = plain ? lfs_fileio_read(&g->fs, in, fd, (char *)got, plain, 0) : 0;
	size_t new_len;
	uint8_t *want_new = expected_after(s, &new_len);
	uint8_t *want_old = pattern(s->initial, 1);
	int side = -1;
	if (n == (ssize_t)s->initial && memcmp(got, want_old, s->initial) == 0)
		side = 0;
	else if (n == (ssize_t)new_len && memcmp(got, want_new, new_len) == 0)
		side = 1;
	else if (n == (ssize_t)s->initial && block_mix(got, want_old, want_new, s->initial))
		side = 0; /* the in-place part of a write is atomic per block */
	if (nbad != 0 || side < 0 || pending != 0)
		fail_msg("v%u %s, %s at call %d: %ld bad blocks (first %llu), read %zd bytes, "
		         "%s, %u records pending",
		         version, s->name, what, at, nbad, (unsigned long long)bad, n,
		         side < 0 ? "neither old nor new" : "ok", pending);
	free(got);
	free(want_new);
	free(want_old);
	put_file(g, in, fd);
	rig_fs_done(g);
	return side;
}

static void sweep(const struct scenario *s, unsigned *crashes, unsigned *errors)
{
	struct rig g;
	rig_init(&g);
	prepare(&g, s);
	int ncalls;
	assert_int_equal(run_op(&g, s, 0, FAULT_NONE, &ncalls), 0);
	assert_true(ncalls > 0);
	assert_int_equal(check_file(&g, s, "no fault", 0), 1);
	static const struct {
		enum fault kind;
		const char *name;
	} faults[] = {{FAULT_CRASH_BEFORE, "crash before"},
	              {FAULT_CRASH_AFTER, "crash after"},
	              {FAULT_ENOSPC, "ENOSPC"},
	              {FAULT_EIO, "EIO"}};
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		for (int at = 1; at <= ncalls; at++) {
			prepare(&g, s);
			int dummy;
			int rc = run_op(&g, s, at, faults[f].kind, &dummy);
			int side = check_file(&g, s, faults[f].name, at);
			if (faults[f].kind == FAULT_ENOSPC || faults[f].kind == FAULT_EIO) {
				/* An error is never a false success, and a failed
				 * operation costs only its own data. */
				if (rc == 1 && side != 0)
					fail_msg("v%u %s, %s at call %d: failed but changed the file",
					         version, s->name, faults[f].name, at);
				(*errors)++;
			} else {
				assert_int_equal(rc, 99);
				(*crashes)++;
			}
		}
	}
	rig_done(&g);
}

static void tail_sweep(unsigned v)
{
	unsigned crashes = 0, errors = 0;
	version = v;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		sweep(&scenarios[i], &crashes, &errors);
	printf("# tail sweep, header version %u: %zu scenarios, %u crashes and %u injected "
	       "errors, no loss\n",
	       v, sizeof(scenarios) / sizeof(scenarios[0]), crashes, errors);
}

static void test_tail_sweep(void **state)
{
	(void)state;
	tail_sweep(LFS_FILE_V1);
}

static void test_tail_sweep_format2(void **state)
{
	(void)state;
	tail_sweep(LFS_FILE_V2);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tail_sweep),
	    cmocka_unit_test(test_tail_sweep_format2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
