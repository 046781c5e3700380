/* SPDX-License-Identifier: Apache-2.0 */
/* Fault-injection shim for the crash-safety tests (docs/TESTING.md): the
 * core (configuration, which calls count, what happens to them, the log).
 *
 * Loaded with LD_PRELOAD into the lethefs daemon or a CLI command. It
 * interposes the libc calls that change a backing store and, for the calls
 * that touch the vault under test while the shim is armed, counts them, logs
 * each one, and at the Nth either kills the process (_exit(137), before or
 * after performing the call) or fails the call with a chosen errno, once,
 * from then on, or after performing part of a write (a disk filling up in
 * the middle of a write).
 *
 * Environment (nothing set: every call passes straight through):
 *   LFS_FAULT_VAULT   the vault directory; only calls on paths below it count
 *   LFS_FAULT_ARM     a file: calls count only while it exists (unset: always)
 *   LFS_FAULT_LOG     a file to append one line per counted call to
 *   LFS_FAULT_KINDS   comma-separated kinds to count (default: all); kinds are
 *                     write truncate fsync rename unlink rmdir mkdir create
 *                     link symlink mknod fallocate setxattr removexattr
 *                     chmod chown utimes; also open (an open that neither
 *                     creates nor truncates), counted only when named here
 *   LFS_FAULT_AT      the number of the counted call to fault (unset or 0:
 *                     count and log only)
 *   LFS_FAULT_MODE    crash-before | crash-after | fail-once | fail-from |
 *                     short-write (the first write at or after N performs
 *                     only its bytes up to the end of the page holding the
 *                     file's end, else half of them; then fail-from) |
 *                     power-cut (before call N, each page written since
 *                     its file's last sync is kept or put back, and each
 *                     such file's length, as LFS_FAULT_SEED draws; then
 *                     _exit(137): faultshim_power.c)
 *   LFS_FAULT_ERRNO   ENOSPC (default), EIO, EDQUOT, EROFS, or a number
 *   LFS_FAULT_SPARE   1: in fail-from and short-write modes, spare the calls a
 *                     full disk still allows: writes entirely inside the
 *                     file's allocated extent (no hole, not past its end),
 *                     O_CREAT opens of files that exist, and renames onto a
 *                     name that exists (replacement or exchange)
 *   LFS_FAULT_SEED    power-cut: the seed of the page choices (default 1)
 *   LFS_FAULT_POWER_MAX_MB power-cut: the bound on remembered pages
 *   LFS_FAULT_CUT_AT_EXIT  power-cut, 1: a process that exits (exit(), a
 *                     return from main) while armed and before call N is
 *                     cut then (logged "power-cut-exit"), keeping its exit
 *                     status: what a command's success promised must be
 *                     on disk (the power goes right after it returns)
 *                     (default 256); above it the process exits 99
 *   LFS_FAULT_DELAY_MS  wait this long before each wanted call whose path
 *   LFS_FAULT_DELAY_MATCH  (a rename's source) contains this string (races
 *                     made wide: 60-rotate-concurrent.bats); the wait comes
 *                     before the serialising mutex, so other threads'
 *                     calls go on meanwhile
 *   LFS_FAULT_DELAY_NOTE  a file: the path of each delayed call is appended
 *                     to it (one line) when its wait begins, so that a test
 *                     can act while the call is held
 *
 * Log line (tab-separated): pid, number, kind, function, path below the
 * vault, detail (offset/length, target of a rename, flags), and what happened:
 * "ok", "err=NAME" (the real call failed), "inject=NAME", "short=BYTES",
 * "crash-before", "crash-after(ok|err=NAME)".
 *
 * Counted calls are serialised (one mutex held across the real call) so that
 * numbers are in execution order and nothing numbered above N starts before
 * a crash at N. */
#define _GNU_SOURCE
#include "faultshim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kind_names[K_COUNT] = {
    "write",    "truncate",    "fsync", "rename",  "unlink", "rmdir",
    "mkdir",    "create",      "link",  "symlink", "mknod",  "fallocate",
    "setxattr", "removexattr", "chmod", "chown",   "utimes", "open",
};

enum mode {
	M_COUNT,
	M_CRASH_BEFORE,
	M_CRASH_AFTER,
	M_FAIL_ONCE,
	M_FAIL_FROM,
	M_SHORT_WRITE,
	M_POWER_CUT
};

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
	long delay_ms;
	const char *delay_match;
	const char *delay_note;
	unsigned long count;
	bool shorted; /* short-write done */
	bool cut_at_exit;
	pid_t pid; /* the process configured (a child's exit is not cut) */
	pthread_mutex_t lock;
} S = {.log_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

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
		return ((1u << K_COUNT) - 1) & ~(1u << K_OPEN);
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
	if (strcmp(s, "power-cut") == 0)
		return M_POWER_CUT;
	return M_COUNT;
}

__attribute__((constructor)) static void shim_init(void)
{
	shim_ensure();
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
	if (S.mode == M_POWER_CUT)
		power_init();
	const char *at_exit = getenv("LFS_FAULT_CUT_AT_EXIT");
	S.cut_at_exit = at_exit && strcmp(at_exit, "1") == 0;
	S.pid = getpid();
	const char *delay = getenv("LFS_FAULT_DELAY_MS");
	S.delay_ms = delay ? strtol(delay, NULL, 10) : 0;
	S.delay_match = getenv("LFS_FAULT_DELAY_MATCH");
	S.delay_note = getenv("LFS_FAULT_DELAY_NOTE");
	S.active = true;
}

/* LFS_FAULT_CUT_AT_EXIT: the power goes as the process exits normally. */
__attribute__((destructor)) static void shim_fini(void)
{
	if (!S.active || S.mode != M_POWER_CUT || !S.cut_at_exit || getpid() != S.pid)
		return;
	if (S.arm && access(S.arm, F_OK) != 0)
		return;
	pthread_mutex_lock(&S.lock);
	shim_log_text("power-cut-exit");
	power_cut();
	pthread_mutex_unlock(&S.lock);
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

/* The kinds of call that change a file's bytes or length, or sync it: the
 * power-cut model must see them all, whichever kinds are counted. */
#define POWER_KINDS                                                                                \
	((1u << K_WRITE) | (1u << K_TRUNCATE) | (1u << K_FSYNC) | (1u << K_FALLOCATE) |            \
	 (1u << K_CREATE))

bool shim_wanted(struct call *c, enum kind k, const char *func, int dirfd, const char *name,
                 int dirfd2, const char *name2)
{
	bool counted = S.kinds & (1u << k);
	if (!S.active || !(counted || (S.mode == M_POWER_CUT && (POWER_KINDS & (1u << k)))))
		return false;
	if (S.arm && access(S.arm, F_OK) != 0)
		return false;
	memset(c, 0, sizeof(*c));
	c->uncounted = !counted;
	c->fd = -1;
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
	if (c->rel && S.delay_ms > 0 && S.delay_match && strstr(c->path, S.delay_match)) {
		struct timespec ts = {S.delay_ms / 1000, (S.delay_ms % 1000) * 1000000L};
		int nfd = S.delay_note ? real_open(S.delay_note,
		                                   O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)
		                       : -1;
		if (nfd >= 0) {
			char line[PATH_MAX + 1];
			int n = snprintf(line, sizeof(line), "%s\n", c->path);
			if (n > 0 && real_write(nfd, line, (size_t)n) < 0)
				n = -1; /* the test waits for the line and fails without it */
			close(nfd);
		}
		nanosleep(&ts, NULL);
	}
	return c->rel != NULL;
}

bool shim_wanted_fd(struct call *c, enum kind k, const char *func, int fd)
{
	return shim_wanted(c, k, func, fd, "", AT_FDCWD, NULL);
}

static void log_line(const struct call *c, const char *outcome)
{
	if (S.log_fd < 0 || c->uncounted)
		return;
	char line[3 * PATH_MAX];
	int n = snprintf(line, sizeof(line), "%d\t%lu\t%s\t%s\t%s\t%s\t%s\n", (int)getpid(), c->n,
	                 kind_names[c->kind], c->func, c->rel, c->detail, outcome);
	if (n > 0)
		real_write(S.log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void shim_log_text(const char *text)
{
	if (S.log_fd < 0)
		return;
	char line[3 * PATH_MAX];
	int n = snprintf(line, sizeof(line), "%d\t%s\n", (int)getpid(), text);
	if (n <= 0)
		return;
	/* A log line that cannot be written has nowhere else to be reported;
	 * the driver notices the missing line. */
	if (real_write(S.log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		return;
}

enum action shim_begin(struct call *c)
{
	pthread_mutex_lock(&S.lock);
	if (c->uncounted) { /* only the power-cut model wants it */
		power_before(c);
		return A_PERFORM;
	}
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
	case M_POWER_CUT:
		if (at) {
			log_line(c, "power-cut");
			power_cut();
			_exit(137);
		}
		power_before(c);
		break;
	case M_COUNT:
		break;
	}
	return A_PERFORM;
}

void shim_end(struct call *c, enum action a, long ret, int saved_errno)
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
	if (S.mode == M_POWER_CUT)
		power_after(c, ret);
	log_line(c, outcome);
	pthread_mutex_unlock(&S.lock);
	errno = saved_errno;
}

void shim_fail(struct call *c)
{
	char outcome[64];
	snprintf(outcome, sizeof(outcome), "inject=%s", errno_name(S.err));
	log_line(c, outcome);
	pthread_mutex_unlock(&S.lock);
	errno = S.err;
}

/* Writes. A short write stops where a file system that just filled up
 * would: at the end of the page holding the file's current end (its last
 * partly used page is already allocated), or after half the bytes when that
 * boundary is not inside the write. */
long long shim_write_offset(int fd, long long off)
{
	if (off >= 0)
		return off;
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_APPEND) && fstat(fd, &st) == 0)
		return st.st_size;
	return lseek(fd, 0, SEEK_CUR);
}

size_t shim_short_len(int fd, long long off, size_t len)
{
	struct stat st;
	off = shim_write_offset(fd, off);
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
bool shim_allocated(int fd, long long off, size_t len)
{
	struct stat st;
	if (!S.spare || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if ((off = shim_write_offset(fd, off)) < 0)
		return false;
	if (off + (long long)len > st.st_size)
		return false;
	off_t hole = lseek(fd, (off_t)off, SEEK_HOLE);
	return hole >= 0 && (long long)hole >= off + (long long)len;
}

int shim_errno(void)
{
	return S.err;
}

bool shim_spare_create(const struct call *c)
{
	struct stat st;
	return S.spare && c->kind == K_CREATE && lstat(c->path, &st) == 0;
}

bool shim_spare_rename(int dirfd, const char *name)
{
	struct stat st;
	return S.spare && name && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}
