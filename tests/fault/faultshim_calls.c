/* SPDX-License-Identifier: Apache-2.0 */
/* Fault-injection shim (docs/TESTING.md): the interposed libc functions.
 * Each asks the core whether the call counts; if not it passes straight
 * through, else the core numbers it and says whether to perform it, fail
 * it, cut it short or crash around it. Built without _FILE_OFFSET_BITS and
 * _FORTIFY_SOURCE so that both the plain and the 64-bit names can be
 * defined. */
#define _GNU_SOURCE
#include "faultshim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The body shared by every interposer: count, maybe fail or crash, perform,
 * log. EXPR is the real call; FAILVAL what the function returns on error. */
#define FAULTED(c, EXPR, FAILVAL)                                                                  \
	do {                                                                                       \
		enum action a_ = shim_begin(&(c));                                                 \
		if (a_ == A_FAIL) {                                                                \
			shim_fail(&(c));                                                           \
			return FAILVAL;                                                            \
		}                                                                                  \
		long r_ = (long)(EXPR);                                                            \
		int e_ = errno;                                                                    \
		shim_end(&(c), a_, r_ < 0 ? -1 : r_, e_);                                          \
		return r_;                                                                         \
	} while (0)

#define PASS(EXPR) return EXPR

/* What the power-cut model needs to know of a call (faultshim_power.c). */
static void set_op(struct call *c, enum pc_op pc, int fd, long long off, long long len, int flags)
{
	c->pc = pc;
	c->fd = fd;
	c->off = off;
	c->len = len;
	c->flags = flags;
}

#define WRITE_BODY(FUNC, FD, LEN, OFF, FLAGS, EXPR, SHORT_EXPR)                                    \
	shim_ensure();                                                                             \
	struct call c;                                                                             \
	if (!shim_wanted_fd(&c, K_WRITE, FUNC, FD))                                                \
		PASS(EXPR);                                                                        \
	snprintf(c.detail, sizeof(c.detail), "off=%lld len=%zu", (long long)(OFF), (size_t)(LEN)); \
	c.spare = shim_allocated(FD, (long long)(OFF), (size_t)(LEN));                             \
	set_op(&c, PC_WRITE, FD, shim_write_offset(FD, (long long)(OFF)), (long long)(LEN),        \
	       FLAGS);                                                                             \
	enum action a_ = shim_begin(&c);                                                           \
	if (a_ == A_FAIL) {                                                                        \
		shim_fail(&c);                                                                     \
		return -1;                                                                         \
	}                                                                                          \
	ssize_t r_ = a_ == A_SHORT ? (SHORT_EXPR) : (EXPR);                                        \
	int e_ = errno;                                                                            \
	shim_end(&c, a_, r_, e_);                                                                  \
	return r_

ssize_t write(int fd, const void *buf, size_t len)
{
	WRITE_BODY("write", fd, len, -1, 0, real_write(fd, buf, len),
	           real_write(fd, buf, shim_short_len(fd, -1, len)));
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	WRITE_BODY("pwrite", fd, len, off, 0, real_pwrite(fd, buf, len, off),
	           real_pwrite(fd, buf, shim_short_len(fd, off, len), off));
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	WRITE_BODY("pwrite64", fd, len, off, 0, real_pwrite64(fd, buf, len, off),
	           real_pwrite64(fd, buf, shim_short_len(fd, off, len), off));
}

static size_t iov_len(const struct iovec *iov, int n)
{
	size_t t = 0;
	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* A vectored short write keeps the first vector only (cut if alone). */
static int short_iov(int fd, long long off, const struct iovec *iov, int n, struct iovec *one)
{
	*one = iov[0];
	if (n == 1)
		one->iov_len = shim_short_len(fd, off, one->iov_len);
	return 1;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct iovec one;
	WRITE_BODY("writev", fd, iov_len(iov, n), -1, 0, real_writev(fd, iov, n),
	           real_writev(fd, &one, short_iov(fd, -1, iov, n, &one)));
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	struct iovec one;
	WRITE_BODY("pwritev", fd, iov_len(iov, n), off, 0, real_pwritev(fd, iov, n, off),
	           real_pwritev(fd, &one, short_iov(fd, off, iov, n, &one), off));
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off)
{
	struct iovec one;
	WRITE_BODY("pwritev64", fd, iov_len(iov, n), off, 0, real_pwritev64(fd, iov, n, off),
	           real_pwritev64(fd, &one, short_iov(fd, off, iov, n, &one), off));
}

ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	struct iovec one;
	WRITE_BODY("pwritev2", fd, iov_len(iov, n), off, flags,
	           real_pwritev2(fd, iov, n, off, flags),
	           real_pwritev2(fd, &one, short_iov(fd, off, iov, n, &one), off, flags));
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags)
{
	struct iovec one;
	WRITE_BODY("pwritev64v2", fd, iov_len(iov, n), off, flags,
	           real_pwritev64v2(fd, iov, n, off, flags),
	           real_pwritev64v2(fd, &one, short_iov(fd, off, iov, n, &one), off, flags));
}

/* Size changes. */
#define FD_BODY_OP(KIND, FUNC, FD, DETAIL_FMT, DETAIL_ARG, PC, OFF, LEN, FLAGS, EXPR)              \
	shim_ensure();                                                                             \
	struct call c;                                                                             \
	if (!shim_wanted_fd(&c, KIND, FUNC, FD))                                                   \
		PASS(EXPR);                                                                        \
	snprintf(c.detail, sizeof(c.detail), DETAIL_FMT, DETAIL_ARG);                              \
	set_op(&c, PC, FD, OFF, LEN, FLAGS);                                                       \
	FAULTED(c, EXPR, -1)

#define FD_BODY(KIND, FUNC, FD, DETAIL_FMT, DETAIL_ARG, EXPR)                                      \
	FD_BODY_OP(KIND, FUNC, FD, DETAIL_FMT, DETAIL_ARG, PC_NONE, 0, 0, 0, EXPR)

int ftruncate(int fd, off_t len)
{
	FD_BODY_OP(K_TRUNCATE, "ftruncate", fd, "len=%lld", (long long)len, PC_TRUNCATE, len, 0, 0,
	           real_ftruncate(fd, len));
}

int ftruncate64(int fd, off64_t len)
{
	FD_BODY_OP(K_TRUNCATE, "ftruncate64", fd, "len=%lld", (long long)len, PC_TRUNCATE, len, 0,
	           0, real_ftruncate64(fd, len));
}

#define PATH_BODY_OP(KIND, FUNC, DIRFD, NAME, DETAIL_FMT, DETAIL_ARG, PC, OFF, EXPR)               \
	shim_ensure();                                                                             \
	struct call c;                                                                             \
	if (!shim_wanted(&c, KIND, FUNC, DIRFD, NAME, AT_FDCWD, NULL))                             \
		PASS(EXPR);                                                                        \
	snprintf(c.detail, sizeof(c.detail), DETAIL_FMT, DETAIL_ARG);                              \
	set_op(&c, PC, -1, OFF, 0, 0);                                                             \
	FAULTED(c, EXPR, -1)

#define PATH_BODY(KIND, FUNC, DIRFD, NAME, DETAIL_FMT, DETAIL_ARG, EXPR)                           \
	PATH_BODY_OP(KIND, FUNC, DIRFD, NAME, DETAIL_FMT, DETAIL_ARG, PC_NONE, 0, EXPR)

int truncate(const char *path, off_t len)
{
	PATH_BODY_OP(K_TRUNCATE, "truncate", AT_FDCWD, path, "len=%lld", (long long)len,
	             PC_TRUNCATE, len, real_truncate(path, len));
}

int truncate64(const char *path, off64_t len)
{
	PATH_BODY_OP(K_TRUNCATE, "truncate64", AT_FDCWD, path, "len=%lld", (long long)len,
	             PC_TRUNCATE, len, real_truncate64(path, len));
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	FD_BODY_OP(K_FALLOCATE, "fallocate", fd, "mode=%d", mode, PC_FALLOCATE, off, len, mode,
	           real_fallocate(fd, mode, off, len));
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	FD_BODY_OP(K_FALLOCATE, "fallocate64", fd, "mode=%d", mode, PC_FALLOCATE, off, len, mode,
	           real_fallocate64(fd, mode, off, len));
}

/* posix_fallocate returns an error number instead of setting errno. */
#define POSIX_FALLOCATE_BODY(FUNC, EXPR)                                                           \
	shim_ensure();                                                                             \
	struct call c;                                                                             \
	if (!shim_wanted_fd(&c, K_FALLOCATE, FUNC, fd))                                            \
		PASS(EXPR);                                                                        \
	set_op(&c, PC_FALLOCATE, fd, (long long)off, (long long)len, 0);                           \
	enum action a_ = shim_begin(&c);                                                           \
	if (a_ == A_FAIL) {                                                                        \
		shim_fail(&c);                                                                     \
		return shim_errno();                                                               \
	}                                                                                          \
	int r_ = EXPR;                                                                             \
	shim_end(&c, a_, r_ ? -1 : 0, r_);                                                         \
	return r_

int posix_fallocate(int fd, off_t off, off_t len)
{
	POSIX_FALLOCATE_BODY("posix_fallocate", real_posix_fallocate(fd, off, len));
}

int posix_fallocate64(int fd, off64_t off, off64_t len)
{
	POSIX_FALLOCATE_BODY("posix_fallocate64", real_posix_fallocate64(fd, off, len));
}

/* Syncs. */
int fsync(int fd)
{
	FD_BODY_OP(K_FSYNC, "fsync", fd, "%s", "", PC_SYNC, 0, 0, 0, real_fsync(fd));
}

int fdatasync(int fd)
{
	FD_BODY_OP(K_FSYNC, "fdatasync", fd, "%s", "", PC_SYNC, 0, 0, 0, real_fdatasync(fd));
}

int syncfs(int fd)
{
	FD_BODY_OP(K_FSYNC, "syncfs", fd, "%s", "", PC_SYNCFS, 0, 0, 0, real_syncfs(fd));
}

int sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
	FD_BODY_OP(K_FSYNC, "sync_file_range", fd, "flags=%u", flags, PC_SYNC_RANGE, off, len,
	           (int)flags, real_sync_file_range(fd, off, len, flags));
}

/* Names. Renames and links count when either side is in the vault. */
#define TWO_PATH_BODY(KIND, FUNC, D1, N1, D2, N2, EXPR)                                            \
	shim_ensure();                                                                             \
	struct call c;                                                                             \
	if (!shim_wanted(&c, KIND, FUNC, D1, N1, D2, N2))                                          \
		PASS(EXPR);                                                                        \
	FAULTED(c, EXPR, -1)

/* A rename onto a name that exists (a replacement, an exchange) only
 * rewrites directory entries in place: a full ext4 or tmpfs still performs
 * it (measured), so LFS_FAULT_SPARE spares it. */
#define RENAME_BODY(FUNC, D1, N1, D2, N2, EXPR)                                                    \
	shim_ensure();                                                                             \
	struct call c;                                                                             \
	if (!shim_wanted(&c, K_RENAME, FUNC, D1, N1, D2, N2))                                      \
		PASS(EXPR);                                                                        \
	c.spare = shim_spare_rename(D2, N2);                                                       \
	FAULTED(c, EXPR, -1)

int rename(const char *from, const char *to)
{
	RENAME_BODY("rename", AT_FDCWD, from, AT_FDCWD, to, real_rename(from, to));
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	RENAME_BODY("renameat", fd1, from, fd2, to, real_renameat(fd1, from, fd2, to));
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned int flags)
{
	RENAME_BODY("renameat2", fd1, from, fd2, to, real_renameat2(fd1, from, fd2, to, flags));
}

int link(const char *from, const char *to)
{
	TWO_PATH_BODY(K_LINK, "link", AT_FDCWD, from, AT_FDCWD, to, real_link(from, to));
}

int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
	TWO_PATH_BODY(K_LINK, "linkat", fd1, from, fd2, to, real_linkat(fd1, from, fd2, to, flags));
}

int symlink(const char *target, const char *path)
{
	PATH_BODY(K_SYMLINK, "symlink", AT_FDCWD, path, "%s", "", real_symlink(target, path));
}

int symlinkat(const char *target, int dirfd, const char *path)
{
	PATH_BODY(K_SYMLINK, "symlinkat", dirfd, path, "%s", "",
	          real_symlinkat(target, dirfd, path));
}

int unlink(const char *path)
{
	PATH_BODY(K_UNLINK, "unlink", AT_FDCWD, path, "%s", "", real_unlink(path));
}

int unlinkat(int dirfd, const char *path, int flags)
{
	PATH_BODY((flags & AT_REMOVEDIR) ? K_RMDIR : K_UNLINK, "unlinkat", dirfd, path, "%s", "",
	          real_unlinkat(dirfd, path, flags));
}

int rmdir(const char *path)
{
	PATH_BODY(K_RMDIR, "rmdir", AT_FDCWD, path, "%s", "", real_rmdir(path));
}

int mkdir(const char *path, mode_t mode)
{
	PATH_BODY(K_MKDIR, "mkdir", AT_FDCWD, path, "%s", "", real_mkdir(path, mode));
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	PATH_BODY(K_MKDIR, "mkdirat", dirfd, path, "%s", "", real_mkdirat(dirfd, path, mode));
}

int mknod(const char *path, mode_t mode, dev_t dev)
{
	PATH_BODY(K_MKNOD, "mknod", AT_FDCWD, path, "%s", "", real_mknod(path, mode, dev));
}

int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	PATH_BODY(K_MKNOD, "mknodat", dirfd, path, "%s", "", real_mknodat(dirfd, path, mode, dev));
}

/* Opens count when they create (O_CREAT: "create") or truncate (O_TRUNC:
 * "truncate"); every other open is of kind "open", counted only when
 * LFS_FAULT_KINDS names it. */
static int open_kind(int flags)
{
	if (flags & O_CREAT)
		return K_CREATE;
	if (flags & O_TRUNC)
		return K_TRUNCATE;
	return K_OPEN;
}

#define OPEN_BODY(FUNC, DIRFD, PATH, FLAGS, EXPR)                                                  \
	shim_ensure();                                                                             \
	struct call c;                                                                             \
	int k_ = open_kind(FLAGS);                                                                 \
	if (k_ < 0 || !shim_wanted(&c, (enum kind)k_, FUNC, DIRFD, PATH, AT_FDCWD, NULL))          \
		PASS(EXPR);                                                                        \
	snprintf(c.detail, sizeof(c.detail), "flags=%#x", (unsigned)(FLAGS));                      \
	c.spare = shim_spare_create(&c);                                                           \
	if ((FLAGS)&O_TRUNC)                                                                       \
		set_op(&c, PC_OPEN_TRUNC, -1, 0, 0, 0);                                            \
	FAULTED(c, EXPR, -1)

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	OPEN_BODY("open", AT_FDCWD, path, flags, real_open(path, flags, m));
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	OPEN_BODY("open64", AT_FDCWD, path, flags, real_open64(path, flags, m));
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	OPEN_BODY("openat", dirfd, path, flags, real_openat(dirfd, path, flags, m));
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	OPEN_BODY("openat64", dirfd, path, flags, real_openat64(dirfd, path, flags, m));
}

int __open_2(const char *path, int flags)
{
	OPEN_BODY("__open_2", AT_FDCWD, path, flags, real___open_2(path, flags));
}

int __open64_2(const char *path, int flags)
{
	OPEN_BODY("__open64_2", AT_FDCWD, path, flags, real___open64_2(path, flags));
}

int __openat_2(int dirfd, const char *path, int flags)
{
	OPEN_BODY("__openat_2", dirfd, path, flags, real___openat_2(dirfd, path, flags));
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	OPEN_BODY("__openat64_2", dirfd, path, flags, real___openat64_2(dirfd, path, flags));
}

int creat(const char *path, mode_t mode)
{
	OPEN_BODY("creat", AT_FDCWD, path, O_CREAT | O_TRUNC, real_creat(path, mode));
}

int creat64(const char *path, mode_t mode)
{
	OPEN_BODY("creat64", AT_FDCWD, path, O_CREAT | O_TRUNC, real_creat64(path, mode));
}

/* Extended attributes. */
int setxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
	PATH_BODY(K_SETXATTR, "setxattr", AT_FDCWD, path, "%s", name,
	          real_setxattr(path, name, v, n, flags));
}

int lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
	PATH_BODY(K_SETXATTR, "lsetxattr", AT_FDCWD, path, "%s", name,
	          real_lsetxattr(path, name, v, n, flags));
}

int fsetxattr(int fd, const char *name, const void *v, size_t n, int flags)
{
	FD_BODY(K_SETXATTR, "fsetxattr", fd, "%s", name, real_fsetxattr(fd, name, v, n, flags));
}

int removexattr(const char *path, const char *name)
{
	PATH_BODY(K_REMOVEXATTR, "removexattr", AT_FDCWD, path, "%s", name,
	          real_removexattr(path, name));
}

int lremovexattr(const char *path, const char *name)
{
	PATH_BODY(K_REMOVEXATTR, "lremovexattr", AT_FDCWD, path, "%s", name,
	          real_lremovexattr(path, name));
}

int fremovexattr(int fd, const char *name)
{
	FD_BODY(K_REMOVEXATTR, "fremovexattr", fd, "%s", name, real_fremovexattr(fd, name));
}

/* Modes, owners, times. */
int chmod(const char *path, mode_t mode)
{
	PATH_BODY(K_CHMOD, "chmod", AT_FDCWD, path, "mode=%o", mode, real_chmod(path, mode));
}

int fchmod(int fd, mode_t mode)
{
	FD_BODY(K_CHMOD, "fchmod", fd, "mode=%o", mode, real_fchmod(fd, mode));
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	PATH_BODY(K_CHMOD, "fchmodat", dirfd, path, "mode=%o", mode,
	          real_fchmodat(dirfd, path, mode, flags));
}

int chown(const char *path, uid_t u, gid_t g)
{
	PATH_BODY(K_CHOWN, "chown", AT_FDCWD, path, "%s", "", real_chown(path, u, g));
}

int fchown(int fd, uid_t u, gid_t g)
{
	FD_BODY(K_CHOWN, "fchown", fd, "%s", "", real_fchown(fd, u, g));
}

int lchown(const char *path, uid_t u, gid_t g)
{
	PATH_BODY(K_CHOWN, "lchown", AT_FDCWD, path, "%s", "", real_lchown(path, u, g));
}

int fchownat(int dirfd, const char *path, uid_t u, gid_t g, int flags)
{
	PATH_BODY(K_CHOWN, "fchownat", dirfd, path, "%s", "",
	          real_fchownat(dirfd, path, u, g, flags));
}

int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
	/* utimensat(fd, NULL, ...) is futimens. */
	PATH_BODY(K_UTIMES, "utimensat", dirfd, path, "%s", "",
	          real_utimensat(dirfd, path, ts, flags));
}

int futimens(int fd, const struct timespec ts[2])
{
	FD_BODY(K_UTIMES, "futimens", fd, "%s", "", real_futimens(fd, ts));
}

/* syscall(2): the calls the code makes this way where glibc has no
 * wrapper (fchmodat2) or had none (renameat2). Six arguments are read
 * whatever the call, as glibc's own syscall() does. */
long syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	shim_ensure();
	struct call c;
	if (nr == SYS_renameat2 && shim_wanted(&c, K_RENAME, "syscall(renameat2)", (int)a[0],
	                                       (const char *)a[1], (int)a[2], (const char *)a[3])) {
		c.spare = shim_spare_rename((int)a[2], (const char *)a[3]);
		FAULTED(c, real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]), -1);
	}
	if (nr == SYS_fchmodat2 && shim_wanted(&c, K_CHMOD, "syscall(fchmodat2)", (int)a[0],
	                                       (const char *)a[1], AT_FDCWD, NULL)) {
		FAULTED(c, real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]), -1);
	}
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
