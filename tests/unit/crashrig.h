/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the crash sweeps that run without a mount (test_tail_crash.c,
 * test_rename_crash.c, test_rotbatch_crash.c): the backing-store calls are
 * wrapped at link time (-Wl,--wrap, see the Makefile), so a forked child can
 * die (_exit) or get ENOSPC/EIO at exactly its Nth call (rig_run); and a
 * vault (keyring, journal, inode table) set up in a temporary directory.
 * Header-only, for one test each. */
#ifndef LETHEFS_CRASHRIG_H
#define LETHEFS_CRASHRIG_H

#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../daemon/recover.h"
#include "../../fs/fs.h"
#include "../../fs/obj2.h"
#include "../../journal/journal.h"

/* --- the wrapped calls ------------------------------------------------ */

/* FAULT_TEAR_FIRST/LAST: a write killed part way, as a kill -9 leaves it:
 * the kernel copies page by page and stops at a page boundary once a fatal
 * signal is pending, so the bytes up to the first (or the last) page
 * boundary inside the write land and the rest does not. */
enum fault {
	FAULT_NONE,
	FAULT_CRASH_BEFORE,
	FAULT_CRASH_AFTER,
	FAULT_ENOSPC,
	FAULT_EIO,
	FAULT_TEAR_FIRST,
	FAULT_TEAR_LAST
};
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

/* A tear of a call that writes no data (ftruncate, fsync, ...) is a crash
 * after it. */
static void after_call(void)
{
	if (fault_at && calls == fault_at &&
	    (fault_kind == FAULT_CRASH_AFTER || fault_kind == FAULT_TEAR_FIRST ||
	     fault_kind == FAULT_TEAR_LAST))
		_exit(99);
}

ssize_t __real_pwrite64(int fd, const void *buf, size_t n, off_t off);

/* Where a torn write of n bytes at off stops: a page boundary strictly
 * inside it, or off itself (nothing lands) when there is none. */
static off_t tear_point(off_t off, size_t n)
{
	off_t first = (off / 4096 + 1) * 4096, last = ((off + (off_t)n - 1) / 4096) * 4096;
	if (first >= off + (off_t)n)
		return off;
	return fault_kind == FAULT_TEAR_FIRST ? first : last;
}

static bool tearing_now(void)
{
	return fault_at && calls == fault_at &&
	       (fault_kind == FAULT_TEAR_FIRST || fault_kind == FAULT_TEAR_LAST);
}

ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	if (before_call() < 0)
		return -1;
	if (tearing_now()) {
		off_t cut = tear_point(off, n);
		if (cut > off && __real_pwrite64(fd, buf, (size_t)(cut - off), off) < 0)
			_exit(98);
		_exit(99);
	}
	ssize_t r = __real_pwrite64(fd, buf, n, off);
	after_call();
	return r;
}

ssize_t __real_pwritev64(int fd, const struct iovec *v, int cnt, off_t off);
ssize_t __wrap_pwritev64(int fd, const struct iovec *v, int cnt, off_t off);
ssize_t __wrap_pwritev64(int fd, const struct iovec *v, int cnt, off_t off)
{
	if (before_call() < 0)
		return -1;
	if (tearing_now()) {
		size_t n = 0;
		for (int i = 0; i < cnt; i++)
			n += v[i].iov_len;
		off_t cut = tear_point(off, n), at = off;
		for (int i = 0; i < cnt && at < cut; i++) {
			size_t k =
			    (size_t)(cut - at) < v[i].iov_len ? (size_t)(cut - at) : v[i].iov_len;
			if (__real_pwrite64(fd, v[i].iov_base, k, at) < 0)
				_exit(98);
			at += (off_t)k;
		}
		_exit(99);
	}
	ssize_t r = __real_pwritev64(fd, v, cnt, off);
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

int __real_syncfs(int fd);
int __wrap_syncfs(int fd);
int __wrap_syncfs(int fd)
{
	if (before_call() < 0)
		return -1;
	int r = __real_syncfs(fd);
	after_call();
	return r;
}

int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
	if (before_call() < 0)
		return -1;
	int r = __real_fsync(fd);
	after_call();
	return r;
}

int __real_renameat2(int ofd, const char *o, int nfd, const char *n, unsigned flags);
int __wrap_renameat2(int ofd, const char *o, int nfd, const char *n, unsigned flags);
int __wrap_renameat2(int ofd, const char *o, int nfd, const char *n, unsigned flags)
{
	if (before_call() < 0)
		return -1;
	int r = __real_renameat2(ofd, o, nfd, n, flags);
	after_call();
	return r;
}

int __real_unlinkat(int fd, const char *p, int flags);
int __wrap_unlinkat(int fd, const char *p, int flags);
int __wrap_unlinkat(int fd, const char *p, int flags)
{
	if (before_call() < 0)
		return -1;
	int r = __real_unlinkat(fd, p, flags);
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

/* Mounts of the rig with -o powersafe (fs/durable.h): its durable
 * rewrites then run under every fault too. */
static bool rig_powersafe;

static void rig_fs(struct rig *g)
{
	int dfd = dup(g->data_fd);
	assert_true(dfd >= 0);
	assert_int_equal(lfs_fs_init(&g->fs, &g->kr, dfd, g->dir), 0);
	assert_int_equal(lfs_journal_open(&g->journal, g->vault_fd, g->kr.uuid, true, 16), 0);
	g->fs.journal = &g->journal;
	g->fs.data_path = g->data_path;
	g->fs.powersafe = rig_powersafe;
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
	/* A second data epoch, not current, for conversions to it. */
	uint32_t e2;
	assert_int_equal(lfs_keyring_add_epoch(&g->kr, &e2), 0);
	assert_int_equal(e2, 2);
	assert_int_equal(lfs_keyring_set_current(&g->kr, 1), 0);
}

/* --- the operation in a child ---------------------------------------- */

/* What a sweep cuts short: setup (may be NULL) runs in the child before
 * anything is counted (opening the file, say), run is the operation, armed,
 * and says whether it succeeded. */
struct rig_op {
	void (*setup)(struct rig *g, void *ctx);
	bool (*run)(struct rig *g, void *ctx);
	void *ctx;
};

/* Runs op in a forked child over a fresh rig_fs, with fault kind at its
 * wrapped call number at (0: none). Returns the child's exit status (0: the
 * operation succeeded, 1: it failed, 99: it died at the fault) and in
 * *ncalls the number of wrapped calls it made (0 when it died). */
static __attribute__((unused)) int rig_run(struct rig *g, const struct rig_op *op, int at,
                                           enum fault kind, int *ncalls)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		rig_fs(g);
		if (op->setup)
			op->setup(g, op->ctx);
		calls = 0;
		fault_at = at;
		fault_kind = kind;
		bool ok = op->run(g, op->ctx);
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

/* A format-2 file dirfd/name holding only its record (a regular file,
 * 0640, uid and gid 1000) under epoch 1; removed first if present. */
static __attribute__((unused)) void rig_new_file2(struct rig *g, int dirfd, const char *name)
{
	unlinkat(dirfd, name, 0);
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	const struct lfs_epoch_keys *k;
	struct lfs_irec rec;
	struct lfs_file_header h;
	assert_int_equal(lfs_irec_make(&rec, S_IFREG | 0640, 1000, 1000, 0), 0);
	assert_int_equal(lfs_keyring_get(&g->kr, 1, &k), 0);
	assert_int_equal(lfs_obj2_write(fd, g->kr.cipher, k, &rec, NULL, 0, 0, &h), 0);
	lfs_keyring_put(&g->kr);
	close(fd);
}

/* dirfd/name opened with flags into *fd, through a fresh inode of the
 * rig's filesystem (nothing cached from before). */
static __attribute__((unused)) struct lfs_inode *rig_inode_at(struct rig *g, int dirfd,
                                                              const char *name, int flags, int *fd)
{
	*fd = openat(dirfd, name, flags, 0600);
	assert_true(*fd >= 0);
	int pfd = openat(dirfd, name, O_PATH);
	struct stat st;
	assert_int_equal(fstat(pfd, &st), 0);
	int err = 0;
	struct lfs_inode *in = lfs_inode_get(&g->fs, pfd, &st, &err);
	assert_non_null(in);
	return in;
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

#endif
