/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs unlock, lock and umount: clients of a mount's control socket
 * (umount asks it for the daemon's pid, then waits for it). status is in
 * cmd_status.c. */
#define _GNU_SOURCE
#include "cli.h"
#include "ctl_answer.h"
#include "ctl_client.h"
#include "confirm.h"
#include "holders.h"
#include "../common/duration.h"
#include "../daemon/ctl_registry.h"
#include "../keymgmt/recovery.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

enum { OPT_SOCKET = 0x200, OPT_FORCE, OPT_TIMEOUT };

static void unlock_help(void)
{
	printf("Usage: lethefs unlock [OPTIONS] MOUNTPOINT\n"
	       "\n"
	       "Unlock a mounted lethefs volume (mounted with --locked, or locked since).\n"
	       "The secret is read here and checked by the daemon against every keyslot of\n"
	       "the vault, as it is on disk now. After a wrong secret the daemon waits 1 s\n"
	       "before answering, then 2, 4, ... up to %d s while failures continue; every\n"
	       "attempt is logged with the caller's uid, pid and executable.\n"
	       "\n"
	       "Options:\n" LFS_SECRET_HELP "%s"
	       "  -h, --help          show this help\n"
	       "\n"
	       "%s, 3 wrong secret (or a mistyped recovery key), 5 corrupt vault files.\n",
	       30, lfs_socket_help, lfs_control_exit_help);
}

int lfs_cmd_unlock(int argc, char **argv)
{
	static const struct option opts[] = {
	    LFS_SECRET_LONG_OPTIONS,
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_secret_source src = {.passfd = -1};
	struct lfs_ctl_target target = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int handled = lfs_secret_option("unlock", c, optarg, &src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case OPT_SOCKET:
			target.socket = optarg;
			break;
		case 'h':
			unlock_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("unlock", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("unlock", "expected exactly one MOUNTPOINT");
	target.mountpoint = argv[optind];
	struct lfs_secret s;
	char err[512];
	if (lfs_secret_read(&src, false, src.recovery ? "Recovery key: " : "Passphrase: ", &s, err,
	                    sizeof(err)) < 0) {
		lfs_cli_error("%s", err);
		return LFS_EXIT_ERROR;
	}
	struct lfs_ctl_request req = {
	    .verb = LFS_CTL_UNLOCK, .kind = LFS_CTL_SECRET, .payload_len = s.len};
	uint8_t *master = NULL;
	if (src.recovery) {
		/* Typos are caught here by the checksum; only the key itself
		 * crosses the socket. */
		const char *why = NULL;
		master = sodium_malloc(LFS_MASTER_KEY_LEN);
		if (!master || lfs_recovery_decode(s.data, s.len, master, &why) < 0) {
			lfs_cli_error("not a valid recovery key: %s", why ? why : "out of memory");
			if (master)
				sodium_free(master);
			lfs_secret_free(&s);
			return why ? LFS_EXIT_BAD_SECRET : LFS_EXIT_ERROR;
		}
		req.kind = LFS_CTL_MASTER;
		req.payload_len = LFS_MASTER_KEY_LEN;
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "Unlocking %s (the daemon derives the key with Argon2id)...\n",
		        target.mountpoint);
	char resp[LFS_CTL_RESPONSE_MAX];
	int r =
	    lfs_ctl_call(&target, &req, master ? (const void *)master : s.data, resp, sizeof(resp));
	lfs_secret_free(&s);
	if (master)
		sodium_free(master);
	if (r != 0)
		return r;
	if (!lfs_ctl_answer_ok(resp))
		return lfs_ctl_answer_error("unlock", resp);
	char slot[16] = "", already[8] = "";
	lfs_json_get(resp, strlen(resp), "slot", slot, sizeof(slot));
	lfs_json_get(resp, strlen(resp), "already", already, sizeof(already));
	if (!strcmp(already, "true"))
		printf("%s was already unlocked\n", target.mountpoint);
	else if (!strcmp(slot, "-1"))
		printf("Unlocked %s with the recovery key\n", target.mountpoint);
	else
		printf("Unlocked %s (keyslot %s)\n", target.mountpoint, slot);
	return LFS_EXIT_OK;
}

/* Who keeps mnt busy, after a refusal (cwd: working directories count,
 * as they do for an unmount but not for a lock). */
static void name_holders(const char *cmd, const char *mnt, bool cwd)
{
	char real[PATH_MAX], who[1024];
	if (!realpath(mnt, real))
		return;
	if (lfs_mount_holders(real, cwd, who, sizeof(who)) > 0)
		lfs_cli_error("%s: %s is held by: %s", cmd, real, who);
	else
		lfs_cli_error("%s: no process visible here holds %s open (one in another mount "
		              "namespace or container may)",
		              cmd, real);
}

/* A forced lock makes every open file fail with EIO for good: on a
 * terminal, say how many and ask (a script is not asked). */
static int confirm_force(const struct lfs_ctl_target *t, bool batch)
{
	if (batch || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return 0;
	struct lfs_ctl_request req = {.verb = LFS_CTL_STATUS};
	char resp[LFS_CTL_RESPONSE_MAX], files[24] = "0", dirs[24] = "0";
	int r = lfs_ctl_call(t, &req, NULL, resp, sizeof(resp));
	if (r != 0)
		return r;
	lfs_json_get(resp, strlen(resp), "open_files", files, sizeof(files));
	lfs_json_get(resp, strlen(resp), "open_dirs", dirs, sizeof(dirs));
	if (!strcmp(files, "0") && !strcmp(dirs, "0"))
		return 0;
	name_holders("lock", t->mountpoint, false);
	return lfs_confirm(batch,
	                   "Lock %s and revoke %s open files and %s open directories? Their "
	                   "programs get EIO from now on, even after the next unlock.",
	                   t->mountpoint, files, dirs)
	           ? 0
	           : LFS_EXIT_BUSY;
}

static void lock_help(void)
{
	printf("Usage: lethefs lock [--force [-q]] MOUNTPOINT\n"
	       "\n"
	       "Lock a mounted lethefs volume without unmounting it: dirty pages are written\n"
	       "back, the kernel's cached pages and names are dropped, and every key is\n"
	       "wiped from the daemon's memory. From then on every operation but stat of\n"
	       "the mount root fails with EACCES until 'lethefs unlock'.\n"
	       "\n"
	       "The lock is refused while files or directories are open, unless --force:\n"
	       "then their handles are revoked and fail with EIO from now on, even after a\n"
	       "new unlock. Locking a locked volume succeeds and does nothing.\n"
	       "\n"
	       "Options:\n"
	       "  --force             lock even with open files (revoking them); on a\n"
	       "                      terminal, asks first when files are open\n"
	       "  -q, --batch         do not ask for confirmation\n"
	       "%s"
	       "  -h, --help          show this help\n"
	       "\n"
	       "%s, 13 files are open (nothing was locked).\n",
	       lfs_socket_help, lfs_control_exit_help);
}

int lfs_cmd_lock(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"batch", no_argument, NULL, 'q'},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lfs_ctl_target target = {0};
	struct lfs_ctl_request req = {.verb = LFS_CTL_LOCK};
	bool batch = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FORCE:
			req.force = true;
			break;
		case 'q':
			batch = true;
			break;
		case OPT_SOCKET:
			target.socket = optarg;
			break;
		case 'h':
			lock_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("lock", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("lock", "expected exactly one MOUNTPOINT");
	target.mountpoint = argv[optind];
	char resp[LFS_CTL_RESPONSE_MAX];
	int r;
	if (req.force && (r = confirm_force(&target, batch)) != 0)
		return r;
	r = lfs_ctl_call(&target, &req, NULL, resp, sizeof(resp));
	if (r != 0)
		return r;
	if (!lfs_ctl_answer_ok(resp)) {
		r = lfs_ctl_answer_error("lock", resp);
		if (r == LFS_EXIT_BUSY)
			name_holders("lock", target.mountpoint, false);
		return r;
	}
	char already[8] = "", files[24] = "0", dirs[24] = "0";
	lfs_json_get(resp, strlen(resp), "already", already, sizeof(already));
	lfs_json_get(resp, strlen(resp), "revoked_files", files, sizeof(files));
	lfs_json_get(resp, strlen(resp), "revoked_dirs", dirs, sizeof(dirs));
	if (!strcmp(already, "true"))
		printf("%s was already locked\n", target.mountpoint);
	else if (strcmp(files, "0") || strcmp(dirs, "0"))
		printf("Locked %s; revoked %s open files and %s open directories\n",
		       target.mountpoint, files, dirs);
	else
		printf("Locked %s\n", target.mountpoint);
	return LFS_EXIT_OK;
}

static void umount_help(void)
{
	printf("Usage: lethefs umount [--timeout T] MOUNTPOINT\n"
	       "\n"
	       "Unmount a lethefs volume and return only when its daemon is done with the\n"
	       "vault: the daemon has written its last audit entry ('unmount') and exited,\n"
	       "and the vault's file system is synced. From then on nothing changes in the\n"
	       "vault, so a script may copy it, snapshot it or detach its disk on the next\n"
	       "line. Plain 'umount' and 'fusermount3 -u' return earlier, while the daemon\n"
	       "may still be writing to the vault.\n"
	       "\n"
	       "A mount whose daemon is gone (killed) is unmounted without waiting.\n"
	       "\n"
	       "Options:\n"
	       "  --timeout T         give up after T (e.g. 30s, 2m; default 60s; 0 waits\n"
	       "                      as long as it takes)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit codes: 0 unmounted and the daemon exited, 1 error, 2 usage, 11\n"
	       "MOUNTPOINT is not a lethefs mount, 12 permission denied on the control\n"
	       "socket, 13 the mount is busy (still mounted), 18 timeout: the daemon did\n"
	       "not answer (still mounted) or did not exit in time (unmounted).\n");
}

/* realpath(arg), also for a mount whose daemon died: stat of its root then
 * fails with ENOTCONN, so the parent is resolved and the last name kept. */
static int canonical_mountpoint(const char *arg, char out[PATH_MAX])
{
	if (realpath(arg, out))
		return 0;
	if (errno != ENOTCONN)
		return -1;
	char copy[PATH_MAX], parent[PATH_MAX];
	if (snprintf(copy, sizeof(copy), "%s", arg) >= (int)sizeof(copy))
		return -1;
	size_t len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	char *slash = strrchr(copy, '/');
	const char *name = slash ? slash + 1 : copy;
	if (slash == copy)
		snprintf(parent, sizeof(parent), "/");
	else if (slash) {
		*slash = '\0';
		if (!realpath(copy, parent))
			return -1;
	} else if (!getcwd(parent, sizeof(parent)))
		return -1;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return -1;
	int n = snprintf(out, PATH_MAX, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", name);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* Milliseconds left before deadline (CLOCK_MONOTONIC); -1 for no limit. */
static int ms_left(const struct timespec *deadline)
{
	if (deadline->tv_sec == 0 && deadline->tv_nsec == 0)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	               (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* The daemon's pid from its status answer; 0 when no daemon answers (a dead
 * mount). Returns 0 or an exit code after printing why. */
static int daemon_pid(const char *mnt, const struct timespec *deadline, pid_t *pid)
{
	int left = ms_left(deadline);
	struct lfs_ctl_target target = {.mountpoint = mnt, .timeout_ms = left < 0 ? 0 : left + 1};
	struct lfs_ctl_request req = {.verb = LFS_CTL_STATUS};
	char resp[LFS_CTL_RESPONSE_MAX], v[24];
	int r = lfs_ctl_call(&target, &req, NULL, resp, sizeof(resp));
	*pid = 0;
	if (r == LFS_EXIT_NOT_MOUNTED) {
		lfs_cli_error("umount: no daemon serves %s any more; unmounting the dead mount",
		              mnt);
		return 0;
	}
	if (r != 0)
		return r;
	if (!lfs_ctl_answer_ok(resp)) {
		/* An error for an answer (a status longer than an answer may
		 * be: very long vault and mount paths) still came from the
		 * daemon the registry names, whose pid lfs_ctl_call checked
		 * against the socket's peer: that pid is the daemon's. */
		char why[256];
		char *real = realpath(mnt, NULL);
		struct lfs_mount_entry *e = malloc(sizeof(*e)); /* (off the frame) */
		if (real && e && lfs_registry_lookup(real, e, why, sizeof(why)) == 0 && e->pid > 0)
			*pid = e->pid;
		free(real);
		free(e);
		return *pid ? 0 : lfs_ctl_answer_error("umount", resp);
	}
	char *end;
	long p = 0;
	if (lfs_json_get(resp, strlen(resp), "pid", v, sizeof(v)) == 0)
		p = strtol(v, &end, 10);
	if (p <= 0 || p > INT_MAX) {
		lfs_cli_error("umount: the daemon of %s did not tell its pid", mnt);
		return LFS_EXIT_ERROR;
	}
	*pid = (pid_t)p;
	return 0;
}

/* Unmounts as root with umount2; otherwise through fusermount3, which lets
 * the user who mounted unmount. Returns 0 or an exit code after printing. */
static int detach(const char *mnt)
{
	if (umount2(mnt, UMOUNT_NOFOLLOW) == 0 || errno == EINVAL)
		return 0; /* EINVAL: unmounted meanwhile */
	int e = errno;
	if (e == EBUSY) {
		lfs_cli_error("umount: %s is busy (a process uses it); still mounted", mnt);
		name_holders("umount", mnt, true);
		return LFS_EXIT_BUSY;
	}
	if (e != EPERM || geteuid() == 0) {
		lfs_cli_error("umount: cannot unmount %s: %s", mnt, strerror(e));
		return LFS_EXIT_ERROR;
	}
	pid_t child = fork();
	if (child == 0) {
		execlp("fusermount3", "fusermount3", "-u", "--", mnt, (char *)NULL);
		_exit(127);
	}
	int status;
	if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		lfs_cli_error("umount: fusermount3 -u %s failed", mnt);
		return LFS_EXIT_ERROR;
	}
	return 0;
}

/* Waits until pid has exited. pidfd is from before the unmount (so a reused
 * pid cannot be mistaken for the daemon), or -1 where the kernel has no
 * pidfd_open: then kill(pid, 0) is polled. Returns 0, or -1 on timeout. */
static int wait_exit(pid_t pid, int pidfd, const struct timespec *deadline)
{
	for (;;) {
		int left = ms_left(deadline);
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			int n = poll(&p, 1, left);
			if (n > 0)
				return 0;
			if (n == 0)
				return -1;
			if (errno != EINTR)
				return -1;
			continue;
		}
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return 0;
		if (left == 0)
			return -1;
		struct timespec nap = {0, 20 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

int lfs_cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t timeout = 60;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TIMEOUT:
			if (lfs_parse_duration(optarg, &timeout) < 0)
				return lfs_cli_usage_error("umount", "bad --timeout '%s'", optarg);
			break;
		case 'h':
			umount_help();
			return LFS_EXIT_OK;
		default:
			return lfs_cli_usage_error("umount", "unknown option");
		}
	}
	if (argc - optind != 1)
		return lfs_cli_usage_error("umount", "expected exactly one MOUNTPOINT");
	const char *arg = argv[optind];
	char mnt[PATH_MAX], vault[PATH_MAX];
	if (canonical_mountpoint(arg, mnt) < 0 ||
	    lfs_vault_of_mount(mnt, vault, sizeof(vault)) < 0) {
		lfs_cli_error("umount: %s is not a mounted lethefs volume", arg);
		return LFS_EXIT_NOT_MOUNTED;
	}
	struct timespec deadline = {0, 0};
	if (timeout) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += (time_t)timeout;
	}
	pid_t pid;
	int r = daemon_pid(mnt, &deadline, &pid);
	if (r != 0)
		return r;
	int pidfd = pid ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	if (pid && pidfd < 0 && errno == ESRCH)
		pid = 0; /* it exited between the answer and now */
	if ((r = detach(mnt)) != 0) {
		if (pidfd >= 0)
			close(pidfd);
		return r;
	}
	if (pid && wait_exit(pid, pidfd, &deadline) < 0) {
		lfs_cli_error("umount: %s is unmounted, but its daemon (pid %d) has not exited "
		              "within %llu s: the vault may still change",
		              mnt, (int)pid, (unsigned long long)timeout);
		close(pidfd);
		return LFS_EXIT_TIMEOUT;
	}
	if (pidfd >= 0)
		close(pidfd);
	/* What the daemon wrote (file blocks, names, the audit log) reaches the
	 * disk before we return: the vault can be copied or its disk detached. */
	int vfd = open(vault, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vfd < 0 || syncfs(vfd) < 0) {
		lfs_cli_error("umount: cannot sync the vault %s: %s", vault, strerror(errno));
		if (vfd >= 0)
			close(vfd);
		return LFS_EXIT_ERROR;
	}
	close(vfd);
	return LFS_EXIT_OK;
}
