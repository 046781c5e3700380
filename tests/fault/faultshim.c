/* Fault-injection shim for the crash-safety tests (docs/TESTING.md).
 *
 * Loaded with LD_PRELOAD into the lethefs daemon or a CLI command. It
 * interposes the libc calls that change a backing store and, for the calls
 * that touch the vault under test while the shim is armed, counts them, logs
 * each one, and at the Nth either kills the process (_exit(137), before or
 * after performing the call) or fails the call with a chosen errno, once,
 * from then on, or after performing half of a write (a disk filling up in
 * the middle of a write).
 *
 * Environment (nothing set: every call passes straight through):
 *   LFS_FAULT_VAULT   the vault directory; only calls on paths below it count
 *   LFS_FAULT_ARM     a file: calls count only while it exists (unset: always)
 *   LFS_FAULT_LOG     a file to append one line per counted call to
 *   LFS_FAULT_KINDS   comma-separated kinds to count (default: all); kinds are
 *                     write truncate fsync rename unlink rmdir mkdir create
 *                     link symlink mknod fallocate setxattr removexattr
 *                     chmod chown utimes
 *   LFS_FAULT_AT      the number of the counted call to fault (unset or 0:
 *                     count and log only)
 *   LFS_FAULT_MODE    crash-before | crash-after | fail-once | fail-from |
 *                     short-write (half the bytes, then fail-from)
 *   LFS_FAULT_ERRNO   ENOSPC (default), EIO, EDQUOT, EROFS, or a number
 *   LFS_FAULT_SPARE   1: in fail-from and short-write modes, spare the calls a
 *                     full disk still allows: writes entirely inside the
 *                     file's allocated extent (no hole, not past its end)
 *                     and O_CREAT opens of files that exist
 *
 * Log line (tab-separated): pid, number, kind, function, path below the
 * vault, detail (offset/length, target of a rename, flags), and what happened:
 * "ok", "err=NAME" (the real call failed), "inject=NAME", "short=BYTES",
 * "crash-before", "crash-after(ok|err=NAME)".
 *
 * Counted calls are serialised (one mutex held across the real call) so that
 * numbers are in execution order and nothing numbered above N starts before
 * a crash at N. Built without _FILE_OFFSET_BITS and _FORTIFY_SOURCE so that
 * both the plain and the 64-bit names can be defined. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

enum kind {
	K_WRITE,
	K_TRUNCATE,
	K_FSYNC,
	K_RENAME,
	K_UNLINK,
	K_RMDIR,
	K_MKDIR,
	K_CREATE,
	K_LINK,
	K_SYMLINK,
	K_MKNOD,
	K_FALLOCATE,
	K_SETXATTR,
	K_REMOVEXATTR,
	K_CHMOD,
	K_CHOWN,
	K_UTIMES,
	K_COUNT
};

static const char *const kind_names[K_COUNT] = {
    "write",    "truncate",    "fsync", "rename",  "unlink", "rmdir",
    "mkdir",    "create",      "link",  "symlink", "mknod",  "fallocate",
    "setxattr", "removexattr", "chmod", "chown",   "utimes",
};

enum mode { M_COUNT, M_CRASH_BEFORE, M_CRASH_AFTER, M_FAIL_ONCE, M_FAIL_FROM, M_SHORT_WRITE };

static struct {
	bool active;
	char vault[PATH_MAX];
	char vault_real[PATH_MAX];
	const char *arm;
	int log_fd;
	unsigned kinds;
	unsigned long at;
	enum mode mode;
	int err;
	bool spare;
	unsigned long count;
	bool shorted; /* short-write done */
	pthread_mutex_t lock;
} S = {.log_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

/* The real functions, looked up once. */
#define REAL(name)                real_##name
#define DECL_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
DECL_REAL(ssize_t, write, int, const void *, size_t);
DECL_REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
DECL_REAL(ssize_t, pwrite64, int, const void *, size_t, off64_t);
DECL_REAL(ssize_t, writev, int, const struct iovec *, int);
DECL_REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
DECL_REAL(ssize_t, pwritev64, int, const struct iovec *, int, off64_t);
DECL_REAL(ssize_t, pwritev2, int, const struct iovec *, int, off_t, int);
DECL_REAL(ssize_t, pwritev64v2, int, const struct iovec *, int, off64_t, int);
DECL_REAL(int, ftruncate, int, off_t);
DECL_REAL(int, ftruncate64, int, off64_t);
DECL_REAL(int, truncate, const char *, off_t);
DECL_REAL(int, truncate64, const char *, off64_t);
DECL_REAL(int, fsync, int);
DECL_REAL(int, fdatasync, int);
DECL_REAL(int, sync_file_range, int, off64_t, off64_t, unsigned int);
DECL_REAL(int, rename, const char *, const char *);
DECL_REAL(int, renameat, int, const char *, int, const char *);
DECL_REAL(int, renameat2, int, const char *, int, const char *, unsigned int);
DECL_REAL(int, unlink, const char *);
DECL_REAL(int, unlinkat, int, const char *, int);
DECL_REAL(int, rmdir, const char *);
DECL_REAL(int, mkdir, const char *, mode_t);
DECL_REAL(int, mkdirat, int, const char *, mode_t);
DECL_REAL(int, mknod, const char *, mode_t, dev_t);
DECL_REAL(int, mknodat, int, const char *, mode_t, dev_t);
DECL_REAL(int, open, const char *, int, ...);
DECL_REAL(int, open64, const char *, int, ...);
DECL_REAL(int, openat, int, const char *, int, ...);
DECL_REAL(int, openat64, int, const char *, int, ...);
DECL_REAL(int, __open_2, const char *, int);
DECL_REAL(int, __open64_2, const char *, int);
DECL_REAL(int, __openat_2, int, const char *, int);
DECL_REAL(int, __openat64_2, int, const char *, int);
DECL_REAL(int, creat, const char *, mode_t);
DECL_REAL(int, creat64, const char *, mode_t);
DECL_REAL(int, link, const char *, const char *);
DECL_REAL(int, linkat, int, const char *, int, const char *, int);
DECL_REAL(int, symlink, const char *, const char *);
DECL_REAL(int, symlinkat, const char *, int, const char *);
DECL_REAL(int, fallocate, int, int, off_t, off_t);
DECL_REAL(int, fallocate64, int, int, off64_t, off64_t);
DECL_REAL(int, posix_fallocate, int, off_t, off_t);
DECL_REAL(int, posix_fallocate64, int, off64_t, off64_t);
DECL_REAL(int, setxattr, const char *, const char *, const void *, size_t, int);
DECL_REAL(int, lsetxattr, const char *, const char *, const void *, size_t, int);
DECL_REAL(int, fsetxattr, int, const char *, const void *, size_t, int);
DECL_REAL(int, removexattr, const char *, const char *);
DECL_REAL(int, lremovexattr, const char *, const char *);
DECL_REAL(int, fremovexattr, int, const char *);
DECL_REAL(int, chmod, const char *, mode_t);
DECL_REAL(int, fchmod, int, mode_t);
DECL_REAL(int, fchmodat, int, const char *, mode_t, int);
DECL_REAL(int, chown, const char *, uid_t, gid_t);
DECL_REAL(int, fchown, int, uid_t, gid_t);
DECL_REAL(int, lchown, const char *, uid_t, gid_t);
DECL_REAL(int, fchownat, int, const char *, uid_t, gid_t, int);
DECL_REAL(int, utimensat, int, const char *, const struct timespec[2], int);
DECL_REAL(int, futimens, int, const struct timespec[2]);
DECL_REAL(long, syscall, long, ...);

static void *next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	return p;
}

#define LOAD(name) real_##name = next(#name)

static pthread_once_t loaded = PTHREAD_ONCE_INIT;

/* Another library's constructor may call an interposed function before
 * ours has run, so every entry point makes sure the real ones are known. */
#define ENSURE() pthread_once(&loaded, load_reals)

static void load_reals(void)
{
	LOAD(write);
	LOAD(pwrite);
	LOAD(pwrite64);
	LOAD(writev);
	LOAD(pwritev);
	LOAD(pwritev64);
	LOAD(pwritev2);
	LOAD(pwritev64v2);
	LOAD(ftruncate);
	LOAD(ftruncate64);
	LOAD(truncate);
	LOAD(truncate64);
	LOAD(fsync);
	LOAD(fdatasync);
	LOAD(sync_file_range);
	LOAD(rename);
	LOAD(renameat);
	LOAD(renameat2);
	LOAD(unlink);
	LOAD(unlinkat);
	LOAD(rmdir);
	LOAD(mkdir);
	LOAD(mkdirat);
	LOAD(mknod);
	LOAD(mknodat);
	LOAD(open);
	LOAD(open64);
	LOAD(openat);
	LOAD(openat64);
	LOAD(__open_2);
	LOAD(__open64_2);
	LOAD(__openat_2);
	LOAD(__openat64_2);
	LOAD(creat);
	LOAD(creat64);
	LOAD(link);
	LOAD(linkat);
	LOAD(symlink);
	LOAD(symlinkat);
	LOAD(fallocate);
	LOAD(fallocate64);
	LOAD(posix_fallocate);
	LOAD(posix_fallocate64);
	LOAD(setxattr);
	LOAD(lsetxattr);
	LOAD(fsetxattr);
	LOAD(removexattr);
	LOAD(lremovexattr);
	LOAD(fremovexattr);
	LOAD(chmod);
	LOAD(fchmod);
	LOAD(fchmodat);
	LOAD(chown);
	LOAD(fchown);
	LOAD(lchown);
	LOAD(fchownat);
	LOAD(utimensat);
	LOAD(futimens);
	LOAD(syscall);
}

static int parse_errno(const char *s)
{
	static const struct {
		const char *name;
		int value;
	} names[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO},       {"EDQUOT", EDQUOT},
	             {"EROFS", EROFS},   {"ENOMEM", ENOMEM}, {"EPERM", EPERM}};
	if (!s || !*s)
		return ENOSPC;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].value;
	int v = atoi(s);
	return v > 0 ? v : ENOSPC;
}

static const char *errno_name(int e)
{
	switch (e) {
	case ENOSPC:
		return "ENOSPC";
	case EIO:
		return "EIO";
	case EDQUOT:
		return "EDQUOT";
	case EROFS:
		return "EROFS";
	case ENOENT:
		return "ENOENT";
	case EEXIST:
		return "EEXIST";
	case ENOTEMPTY:
		return "ENOTEMPTY";
	case ENODATA:
		return "ENODATA";
	case EINVAL:
		return "EINVAL";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	default:
		return "E?";
	}
}

static unsigned parse_kinds(const char *s)
{
	if (!s || !*s)
		return (1u << K_COUNT) - 1;
	unsigned mask = 0;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", s);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		for (int k = 0; k < K_COUNT; k++)
			if (strcmp(t, kind_names[k]) == 0)
				mask |= 1u << k;
	return mask;
}

static enum mode parse_mode(const char *s)
{
	if (!s)
		return M_COUNT;
	if (strcmp(s, "crash-before") == 0)
		return M_CRASH_BEFORE;
	if (strcmp(s, "crash-after") == 0)
		return M_CRASH_AFTER;
	if (strcmp(s, "fail-once") == 0)
		return M_FAIL_ONCE;
	if (strcmp(s, "fail-from") == 0)
		return M_FAIL_FROM;
	if (strcmp(s, "short-write") == 0)
		return M_SHORT_WRITE;
	return M_COUNT;
}

__attribute__((constructor)) static void shim_init(void)
{
	ENSURE();
	const char *v = getenv("LFS_FAULT_VAULT");
	if (!v || !*v)
		return;
	snprintf(S.vault, sizeof(S.vault), "%s", v);
	size_t n = strlen(S.vault);
	while (n > 1 && S.vault[n - 1] == '/')
		S.vault[--n] = '\0';
	if (!realpath(S.vault, S.vault_real))
		snprintf(S.vault_real, sizeof(S.vault_real), "%s", S.vault);
	S.arm = getenv("LFS_FAULT_ARM");
	const char *log = getenv("LFS_FAULT_LOG");
	if (log && *log)
		S.log_fd = real_open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	S.kinds = parse_kinds(getenv("LFS_FAULT_KINDS"));
	const char *at = getenv("LFS_FAULT_AT");
	S.at = at ? strtoul(at, NULL, 10) : 0;
	S.mode = parse_mode(getenv("LFS_FAULT_MODE"));
	S.err = parse_errno(getenv("LFS_FAULT_ERRNO"));
	const char *spare = getenv("LFS_FAULT_SPARE");
	S.spare = spare && strcmp(spare, "1") == 0;
	S.active = true;
}

/* Returns the part of path below the vault ("" for the vault itself), or
 * NULL when path is not in the vault. */
static const char *below_vault(const char *path)
{
	const char *roots[2] = {S.vault, S.vault_real};
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(roots[i]);
		if (strncmp(path, roots[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
			return path[n] == '/' ? path + n + 1 : path + n;
	}
	return NULL;
}

static bool fd_path(int fd, char *out, size_t size)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, out, size - 1);
	if (n < 0)
		return false;
	out[n] = '\0';
	return true;
}

/* The absolute path that (dirfd, name) designates, as far as it can be told
 * without following the last component. /proc/self/fd/N is resolved. */
static bool resolve(int dirfd, const char *name, char *out, size_t size)
{
	if (name && strncmp(name, "/proc/self/fd/", 14) == 0) {
		char *end;
		long fd = strtol(name + 14, &end, 10);
		if (*end == '\0')
			return fd_path((int)fd, out, size);
	}
	if (name && name[0] == '/') {
		snprintf(out, size, "%s", name);
		return true;
	}
	char dir[PATH_MAX];
	if (dirfd == AT_FDCWD) {
		if (!getcwd(dir, sizeof(dir)))
			return false;
	} else if (!fd_path(dirfd, dir, sizeof(dir))) {
		return false;
	}
	int n = !name || !*name ? snprintf(out, size, "%s", dir)
	                        : snprintf(out, size, "%s/%s", dir, name);
	return n >= 0 && (size_t)n < size;
}

struct call {
	enum kind kind;
	const char *func;
	char path[PATH_MAX];
	char detail[PATH_MAX + 64];
	const char *rel; /* path below the vault */
	bool spare;      /* a full disk would still allow this call */
	unsigned long n;
};

/* Decides whether a call is counted: active, kind selected, armed, and on a
 * path in the vault (either path of a rename or link). */
static bool wanted(struct call *c, enum kind k, const char *func, int dirfd, const char *name,
                   int dirfd2, const char *name2)
{
	if (!S.active || !(S.kinds & (1u << k)))
		return false;
	if (S.arm && access(S.arm, F_OK) != 0)
		return false;
	memset(c, 0, sizeof(*c));
	c->kind = k;
	c->func = func;
	if (!resolve(dirfd, name, c->path, sizeof(c->path)))
		return false;
	c->rel = below_vault(c->path);
	char other[PATH_MAX];
	const char *other_rel = NULL;
	if (name2 && resolve(dirfd2, name2, other, sizeof(other))) {
		other_rel = below_vault(other);
		snprintf(c->detail, sizeof(c->detail), "-> %s", other_rel ? other_rel : other);
	}
	if (!c->rel && other_rel)
		c->rel = c->path;
	return c->rel != NULL;
}

static bool wanted_fd(struct call *c, enum kind k, const char *func, int fd)
{
	return wanted(c, k, func, fd, "", AT_FDCWD, NULL);
}

static void log_line(const struct call *c, const char *outcome)
{
	if (S.log_fd < 0)
		return;
	char line[3 * PATH_MAX];
	int n = snprintf(line, sizeof(line), "%d\t%lu\t%s\t%s\t%s\t%s\t%s\n", (int)getpid(), c->n,
	                 kind_names[c->kind], c->func, c->rel, c->detail, outcome);
	if (n > 0)
		real_write(S.log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* What to do with counted call c, decided under the lock. */
enum action { A_PERFORM, A_FAIL, A_CRASH_BEFORE, A_CRASH_AFTER, A_SHORT };

static enum action begin(struct call *c)
{
	pthread_mutex_lock(&S.lock);
	c->n = ++S.count;
	bool at = S.at && c->n == S.at, from = S.at && c->n >= S.at;
	switch (S.mode) {
	case M_CRASH_BEFORE:
		if (at) {
			log_line(c, "crash-before");
			_exit(137);
		}
		break;
	case M_CRASH_AFTER:
		if (at)
			return A_CRASH_AFTER;
		break;
	case M_FAIL_ONCE:
		if (at)
			return A_FAIL;
		break;
	case M_FAIL_FROM:
		if (from && !c->spare)
			return A_FAIL;
		break;
	case M_SHORT_WRITE:
		if (!from || c->spare)
			break;
		if (!S.shorted && c->kind == K_WRITE) {
			S.shorted = true;
			return A_SHORT;
		}
		return A_FAIL;
	case M_COUNT:
		break;
	}
	return A_PERFORM;
}

/* Logs the outcome of a performed call (ret < 0 with errno set means it
 * failed), crashes if asked, releases the lock and restores errno. */
static void end(struct call *c, enum action a, long ret, int saved_errno)
{
	char outcome[64];
	if (ret < 0)
		snprintf(outcome, sizeof(outcome), "err=%s", errno_name(saved_errno));
	else
		snprintf(outcome, sizeof(outcome), "ok");
	if (a == A_CRASH_AFTER) {
		char crash[96];
		snprintf(crash, sizeof(crash), "crash-after(%s)", outcome);
		log_line(c, crash);
		_exit(137);
	}
	if (a == A_SHORT) {
		snprintf(outcome, sizeof(outcome), "short=%ld", ret);
	}
	log_line(c, outcome);
	pthread_mutex_unlock(&S.lock);
	errno = saved_errno;
}

static void fail(struct call *c)
{
	char outcome[64];
	snprintf(outcome, sizeof(outcome), "inject=%s", errno_name(S.err));
	log_line(c, outcome);
	pthread_mutex_unlock(&S.lock);
	errno = S.err;
}

/* The body shared by every interposer: count, maybe fail or crash, perform,
 * log. EXPR is the real call; FAILVAL what the function returns on error. */
#define FAULTED(c, EXPR, FAILVAL)                                                                  \
	do {                                                                                       \
		enum action a_ = begin(&(c));                                                      \
		if (a_ == A_FAIL) {                                                                \
			fail(&(c));                                                                \
			return FAILVAL;                                                            \
		}                                                                                  \
		long r_ = (long)(EXPR);                                                            \
		int e_ = errno;                                                                    \
		end(&(c), a_, r_ < 0 ? -1 : r_, e_);                                               \
		return r_;                                                                         \
	} while (0)

#define PASS(EXPR) return EXPR

/* Writes. A short write stops where a file system that just filled up
 * would: at the end of the page holding the file's current end (its last
 * partly used page is already allocated), or after half the bytes when that
 * boundary is not inside the write. */
static long long write_offset(int fd, long long off)
{
	if (off >= 0)
		return off;
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_APPEND) && fstat(fd, &st) == 0)
		return st.st_size;
	return lseek(fd, 0, SEEK_CUR);
}

static size_t short_len(int fd, long long off, size_t len)
{
	struct stat st;
	off = write_offset(fd, off);
	if (off >= 0 && fstat(fd, &st) == 0) {
		long long page_end = (st.st_size + 4095) / 4096 * 4096;
		if (page_end > off && page_end < off + (long long)len)
			return (size_t)(page_end - off);
	}
	return len > 1 ? len / 2 : len;
}

/* Whether [off, off + len) of fd is allocated already: inside the file and
 * free of holes, so that even a full disk lets it be overwritten. off < 0
 * means the file position (or the end, for O_APPEND). */
static bool allocated(int fd, long long off, size_t len)
{
	struct stat st;
	if (!S.spare || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if ((off = write_offset(fd, off)) < 0)
		return false;
	if (off + (long long)len > st.st_size)
		return false;
	off_t hole = lseek(fd, (off_t)off, SEEK_HOLE);
	return hole >= 0 && (long long)hole >= off + (long long)len;
}

#define WRITE_BODY(FUNC, FD, LEN, OFF, EXPR, SHORT_EXPR)                                           \
	ENSURE();                                                                                  \
	struct call c;                                                                             \
	if (!wanted_fd(&c, K_WRITE, FUNC, FD))                                                     \
		PASS(EXPR);                                                                        \
	snprintf(c.detail, sizeof(c.detail), "off=%lld len=%zu", (long long)(OFF), (size_t)(LEN)); \
	c.spare = allocated(FD, (long long)(OFF), (size_t)(LEN));                                  \
	enum action a_ = begin(&c);                                                                \
	if (a_ == A_FAIL) {                                                                        \
		fail(&c);                                                                          \
		return -1;                                                                         \
	}                                                                                          \
	ssize_t r_ = a_ == A_SHORT ? (SHORT_EXPR) : (EXPR);                                        \
	int e_ = errno;                                                                            \
	end(&c, a_, r_, e_);                                                                       \
	return r_

ssize_t write(int fd, const void *buf, size_t len)
{
	WRITE_BODY("write", fd, len, -1, real_write(fd, buf, len),
	           real_write(fd, buf, short_len(fd, -1, len)));
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	WRITE_BODY("pwrite", fd, len, off, real_pwrite(fd, buf, len, off),
	           real_pwrite(fd, buf, short_len(fd, off, len), off));
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	WRITE_BODY("pwrite64", fd, len, off, real_pwrite64(fd, buf, len, off),
	           real_pwrite64(fd, buf, short_len(fd, off, len), off));
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
		one->iov_len = short_len(fd, off, one->iov_len);
	return 1;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct iovec one;
	WRITE_BODY("writev", fd, iov_len(iov, n), -1, real_writev(fd, iov, n),
	           real_writev(fd, &one, short_iov(fd, -1, iov, n, &one)));
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	struct iovec one;
	WRITE_BODY("pwritev", fd, iov_len(iov, n), off, real_pwritev(fd, iov, n, off),
	           real_pwritev(fd, &one, short_iov(fd, off, iov, n, &one), off));
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off)
{
	struct iovec one;
	WRITE_BODY("pwritev64", fd, iov_len(iov, n), off, real_pwritev64(fd, iov, n, off),
	           real_pwritev64(fd, &one, short_iov(fd, off, iov, n, &one), off));
}

ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	struct iovec one;
	WRITE_BODY("pwritev2", fd, iov_len(iov, n), off, real_pwritev2(fd, iov, n, off, flags),
	           real_pwritev2(fd, &one, short_iov(fd, off, iov, n, &one), off, flags));
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags)
{
	struct iovec one;
	WRITE_BODY("pwritev64v2", fd, iov_len(iov, n), off,
	           real_pwritev64v2(fd, iov, n, off, flags),
	           real_pwritev64v2(fd, &one, short_iov(fd, off, iov, n, &one), off, flags));
}

/* Size changes. */
#define FD_BODY(KIND, FUNC, FD, DETAIL_FMT, DETAIL_ARG, EXPR)                                      \
	ENSURE();                                                                                  \
	struct call c;                                                                             \
	if (!wanted_fd(&c, KIND, FUNC, FD))                                                        \
		PASS(EXPR);                                                                        \
	snprintf(c.detail, sizeof(c.detail), DETAIL_FMT, DETAIL_ARG);                              \
	FAULTED(c, EXPR, -1)

int ftruncate(int fd, off_t len)
{
	FD_BODY(K_TRUNCATE, "ftruncate", fd, "len=%lld", (long long)len, real_ftruncate(fd, len));
}

int ftruncate64(int fd, off64_t len)
{
	FD_BODY(K_TRUNCATE, "ftruncate64", fd, "len=%lld", (long long)len,
	        real_ftruncate64(fd, len));
}

#define PATH_BODY(KIND, FUNC, DIRFD, NAME, DETAIL_FMT, DETAIL_ARG, EXPR)                           \
	ENSURE();                                                                                  \
	struct call c;                                                                             \
	if (!wanted(&c, KIND, FUNC, DIRFD, NAME, AT_FDCWD, NULL))                                  \
		PASS(EXPR);                                                                        \
	snprintf(c.detail, sizeof(c.detail), DETAIL_FMT, DETAIL_ARG);                              \
	FAULTED(c, EXPR, -1)

int truncate(const char *path, off_t len)
{
	PATH_BODY(K_TRUNCATE, "truncate", AT_FDCWD, path, "len=%lld", (long long)len,
	          real_truncate(path, len));
}

int truncate64(const char *path, off64_t len)
{
	PATH_BODY(K_TRUNCATE, "truncate64", AT_FDCWD, path, "len=%lld", (long long)len,
	          real_truncate64(path, len));
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	FD_BODY(K_FALLOCATE, "fallocate", fd, "mode=%d", mode, real_fallocate(fd, mode, off, len));
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	FD_BODY(K_FALLOCATE, "fallocate64", fd, "mode=%d", mode,
	        real_fallocate64(fd, mode, off, len));
}

/* posix_fallocate returns an error number instead of setting errno. */
#define POSIX_FALLOCATE_BODY(FUNC, EXPR)                                                           \
	ENSURE();                                                                                  \
	struct call c;                                                                             \
	if (!wanted_fd(&c, K_FALLOCATE, FUNC, fd))                                                 \
		PASS(EXPR);                                                                        \
	enum action a_ = begin(&c);                                                                \
	if (a_ == A_FAIL) {                                                                        \
		fail(&c);                                                                          \
		return S.err;                                                                      \
	}                                                                                          \
	int r_ = EXPR;                                                                             \
	end(&c, a_, r_ ? -1 : 0, r_);                                                              \
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
	FD_BODY(K_FSYNC, "fsync", fd, "%s", "", real_fsync(fd));
}

int fdatasync(int fd)
{
	FD_BODY(K_FSYNC, "fdatasync", fd, "%s", "", real_fdatasync(fd));
}

int sync_file_range(int fd, off64_t off, off64_t len, unsigned int flags)
{
	FD_BODY(K_FSYNC, "sync_file_range", fd, "%s", "",
	        real_sync_file_range(fd, off, len, flags));
}

/* Names. Renames and links count when either side is in the vault. */
#define TWO_PATH_BODY(KIND, FUNC, D1, N1, D2, N2, EXPR)                                            \
	ENSURE();                                                                                  \
	struct call c;                                                                             \
	if (!wanted(&c, KIND, FUNC, D1, N1, D2, N2))                                               \
		PASS(EXPR);                                                                        \
	FAULTED(c, EXPR, -1)

int rename(const char *from, const char *to)
{
	TWO_PATH_BODY(K_RENAME, "rename", AT_FDCWD, from, AT_FDCWD, to, real_rename(from, to));
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	TWO_PATH_BODY(K_RENAME, "renameat", fd1, from, fd2, to, real_renameat(fd1, from, fd2, to));
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned int flags)
{
	TWO_PATH_BODY(K_RENAME, "renameat2", fd1, from, fd2, to,
	              real_renameat2(fd1, from, fd2, to, flags));
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
 * "truncate"); every other open passes through. */
static int open_kind(int flags)
{
	if (flags & O_CREAT)
		return K_CREATE;
	if (flags & O_TRUNC)
		return K_TRUNCATE;
	return -1;
}

#define OPEN_BODY(FUNC, DIRFD, PATH, FLAGS, EXPR)                                                  \
	ENSURE();                                                                                  \
	struct call c;                                                                             \
	int k_ = open_kind(FLAGS);                                                                 \
	if (k_ < 0 || !wanted(&c, (enum kind)k_, FUNC, DIRFD, PATH, AT_FDCWD, NULL))               \
		PASS(EXPR);                                                                        \
	snprintf(c.detail, sizeof(c.detail), "flags=%#x", (unsigned)(FLAGS));                      \
	struct stat st_;                                                                           \
	c.spare = S.spare && k_ == K_CREATE && lstat(c.path, &st_) == 0;                           \
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
	ENSURE();
	struct call c;
	if (nr == SYS_renameat2 && wanted(&c, K_RENAME, "syscall(renameat2)", (int)a[0],
	                                  (const char *)a[1], (int)a[2], (const char *)a[3])) {
		FAULTED(c, real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]), -1);
	}
	if (nr == SYS_fchmodat2 && wanted(&c, K_CHMOD, "syscall(fchmodat2)", (int)a[0],
	                                  (const char *)a[1], AT_FDCWD, NULL)) {
		FAULTED(c, real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]), -1);
	}
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
