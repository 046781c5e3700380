/* SPDX-License-Identifier: Apache-2.0 */
/* The fault-injection shim's shared parts (docs/TESTING.md): the real libc
 * functions, what a counted call is, and the decisions of the core that the
 * interposers (faultshim_calls.c) consult. Nothing here is exported from
 * the shared object except the interposed functions themselves. */
#ifndef LFS_FAULTSHIM_H
#define LFS_FAULTSHIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define SHIM_HIDDEN __attribute__((visibility("hidden")))

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
	K_OPEN, /* an open that neither creates nor truncates: only when named */
	K_COUNT
};

/* What a call does to a file's contents, for the power-cut model
 * (faultshim_power.c). */
enum pc_op {
	PC_NONE,
	PC_WRITE,      /* fd, off (the resolved offset), len, flags (RWF_*) */
	PC_TRUNCATE,   /* fd (or -1: path), off = the new length */
	PC_OPEN_TRUNC, /* path: an open with O_TRUNC */
	PC_FALLOCATE,  /* fd, flags = mode, off, len */
	PC_SYNC,       /* fd: fsync, fdatasync */
	PC_SYNCFS,     /* fd: syncfs */
	PC_SYNC_RANGE, /* fd, off, len, flags: sync_file_range */
};

/* One counted call. */
struct call {
	enum kind kind;
	const char *func;
	char path[PATH_MAX];
	char detail[PATH_MAX + 64];
	const char *rel; /* path below the vault */
	bool spare;      /* a full disk would still allow this call */
	unsigned long n;
	bool uncounted; /* power-cut mode tracks it though LFS_FAULT_KINDS leaves it out */
	enum pc_op pc;
	int fd; /* -1: none */
	long long off, len;
	int flags;
};

/* What to do with a counted call, decided under the shim's lock. */
enum action { A_PERFORM, A_FAIL, A_CRASH_BEFORE, A_CRASH_AFTER, A_SHORT };

/* The real functions (faultshim_reals.c), found with dlsym(RTLD_NEXT). */
#define SHIM_REALS(X)                                                                              \
	X(ssize_t, write, int, const void *, size_t)                                               \
	X(ssize_t, pwrite, int, const void *, size_t, off_t)                                       \
	X(ssize_t, pwrite64, int, const void *, size_t, off64_t)                                   \
	X(ssize_t, writev, int, const struct iovec *, int)                                         \
	X(ssize_t, pwritev, int, const struct iovec *, int, off_t)                                 \
	X(ssize_t, pwritev64, int, const struct iovec *, int, off64_t)                             \
	X(ssize_t, pwritev2, int, const struct iovec *, int, off_t, int)                           \
	X(ssize_t, pwritev64v2, int, const struct iovec *, int, off64_t, int)                      \
	X(int, ftruncate, int, off_t)                                                              \
	X(int, ftruncate64, int, off64_t)                                                          \
	X(int, truncate, const char *, off_t)                                                      \
	X(int, truncate64, const char *, off64_t)                                                  \
	X(int, fsync, int)                                                                         \
	X(int, fdatasync, int)                                                                     \
	X(int, syncfs, int)                                                                        \
	X(int, sync_file_range, int, off64_t, off64_t, unsigned int)                               \
	X(int, rename, const char *, const char *)                                                 \
	X(int, renameat, int, const char *, int, const char *)                                     \
	X(int, renameat2, int, const char *, int, const char *, unsigned int)                      \
	X(int, unlink, const char *)                                                               \
	X(int, unlinkat, int, const char *, int)                                                   \
	X(int, rmdir, const char *)                                                                \
	X(int, mkdir, const char *, mode_t)                                                        \
	X(int, mkdirat, int, const char *, mode_t)                                                 \
	X(int, mknod, const char *, mode_t, dev_t)                                                 \
	X(int, mknodat, int, const char *, mode_t, dev_t)                                          \
	X(int, open, const char *, int, ...)                                                       \
	X(int, open64, const char *, int, ...)                                                     \
	X(int, openat, int, const char *, int, ...)                                                \
	X(int, openat64, int, const char *, int, ...)                                              \
	X(int, __open_2, const char *, int)                                                        \
	X(int, __open64_2, const char *, int)                                                      \
	X(int, __openat_2, int, const char *, int)                                                 \
	X(int, __openat64_2, int, const char *, int)                                               \
	X(int, creat, const char *, mode_t)                                                        \
	X(int, creat64, const char *, mode_t)                                                      \
	X(int, link, const char *, const char *)                                                   \
	X(int, linkat, int, const char *, int, const char *, int)                                  \
	X(int, symlink, const char *, const char *)                                                \
	X(int, symlinkat, const char *, int, const char *)                                         \
	X(int, fallocate, int, int, off_t, off_t)                                                  \
	X(int, fallocate64, int, int, off64_t, off64_t)                                            \
	X(int, posix_fallocate, int, off_t, off_t)                                                 \
	X(int, posix_fallocate64, int, off64_t, off64_t)                                           \
	X(int, setxattr, const char *, const char *, const void *, size_t, int)                    \
	X(int, lsetxattr, const char *, const char *, const void *, size_t, int)                   \
	X(int, fsetxattr, int, const char *, const void *, size_t, int)                            \
	X(int, removexattr, const char *, const char *)                                            \
	X(int, lremovexattr, const char *, const char *)                                           \
	X(int, fremovexattr, int, const char *)                                                    \
	X(int, chmod, const char *, mode_t)                                                        \
	X(int, fchmod, int, mode_t)                                                                \
	X(int, fchmodat, int, const char *, mode_t, int)                                           \
	X(int, chown, const char *, uid_t, gid_t)                                                  \
	X(int, fchown, int, uid_t, gid_t)                                                          \
	X(int, lchown, const char *, uid_t, gid_t)                                                 \
	X(int, fchownat, int, const char *, uid_t, gid_t, int)                                     \
	X(int, utimensat, int, const char *, const struct timespec[2], int)                        \
	X(int, futimens, int, const struct timespec[2])                                            \
	X(long, syscall, long, ...)

#define SHIM_DECLARE_REAL(ret, name, ...) extern SHIM_HIDDEN ret (*real_##name)(__VA_ARGS__);
SHIM_REALS(SHIM_DECLARE_REAL)
#undef SHIM_DECLARE_REAL

/* Makes sure the real functions are known: another library's constructor
 * may call an interposed function before the shim's own has run. */
SHIM_HIDDEN void shim_ensure(void);

/* Whether a call is counted (the shim is configured and armed, the kind is
 * selected, the path designated by dirfd/name, or by the second pair of a
 * rename or link, is in the vault); fills c when it is. */
SHIM_HIDDEN bool shim_wanted(struct call *c, enum kind k, const char *func, int dirfd,
                             const char *name, int dirfd2, const char *name2);
SHIM_HIDDEN bool shim_wanted_fd(struct call *c, enum kind k, const char *func, int fd);

/* Numbers a counted call and decides its fate; takes the shim's lock (or
 * never returns: crash-before). */
SHIM_HIDDEN enum action shim_begin(struct call *c);
/* Logs a performed call (ret < 0: it failed with saved_errno), crashes if
 * asked, releases the lock and restores errno. */
SHIM_HIDDEN void shim_end(struct call *c, enum action a, long ret, int saved_errno);
/* Logs an injected failure, releases the lock and sets errno. */
SHIM_HIDDEN void shim_fail(struct call *c);
/* The injected errno (for functions that return it). */
SHIM_HIDDEN int shim_errno(void);

/* Appends one line (a newline added) to the log, if there is one. */
SHIM_HIDDEN void shim_log_text(const char *text);
/* The offset a write at off starts at (off < 0: the file position, or the
 * end with O_APPEND). */
SHIM_HIDDEN long long shim_write_offset(int fd, long long off);

/* The power-cut model (faultshim_power.c); all but power_init run under
 * the core's lock. power_before keeps what call c is about to change,
 * power_after forgets what a sync made durable, power_cut puts every
 * tracked file in a state a disk may hold after a power cut. */
SHIM_HIDDEN void power_init(void);
SHIM_HIDDEN void power_before(const struct call *c);
SHIM_HIDDEN void power_after(const struct call *c, long ret);
SHIM_HIDDEN void power_cut(void);

/* Whether [off, off + len) of fd is allocated already (off < 0: the file
 * position, or the end with O_APPEND), when LFS_FAULT_SPARE asks to spare
 * such overwrites. */
SHIM_HIDDEN bool shim_allocated(int fd, long long off, size_t len);
/* How much of a write a file system that just filled up performs. */
SHIM_HIDDEN size_t shim_short_len(int fd, long long off, size_t len);
/* Whether an O_CREAT open would create nothing (its path exists). */
SHIM_HIDDEN bool shim_spare_create(const struct call *c);
/* Whether a rename's target dirfd/name exists (it would be replaced or
 * exchanged: no allocation), when LFS_FAULT_SPARE asks to spare that. */
SHIM_HIDDEN bool shim_spare_rename(int dirfd, const char *name);

#endif
