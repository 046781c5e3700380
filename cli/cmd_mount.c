/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs mount: unlock (or not, with --locked), mount, then serve FUSE
 * requests and the control socket until unmounted. */
#define _GNU_SOURCE
#include "cli.h"
#include "../common/log.h"
#include "../daemon/control.h"
#include "../fs/gate.h"
#include "../fs/ops.h"
#include "../fs/stage.h"
#include "../fs/stage_inval.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

static void mount_help(void)
{
	printf("Usage: lethefs mount [OPTIONS] VAULT MOUNTPOINT\n"
	       "\n"
	       "Unlock VAULT and mount its plaintext view on MOUNTPOINT, or with --locked\n"
	       "mount it without any key (at boot) for a later 'lethefs unlock'. The command\n"
	       "returns\n"
	       "once the mount is live (a script may use it on the next line), or exits\n"
	       "non-zero with the reason. The daemon then runs in the background and logs to\n"
	       "syslog; unmount with 'lethefs umount MOUNTPOINT', which returns once the\n"
	       "daemon has written its last audit entry and exited (plain 'umount' and\n"
	       "'fusermount3 -u' return before that).\n"
	       "\n"
	       "Options:\n" LFS_SECRET_HELP
	       "  --locked            mount without unlocking: every operation but stat of\n"
	       "                      the root fails with EACCES until 'lethefs unlock'\n"
	       "  -f, --foreground    stay in the foreground and log to stderr\n"
	       "  -d, --debug         log every FUSE request (implies -f)\n"
	       "  -o OPTIONS          comma-separated mount options:\n"
	       "        ro                 read-only mount\n"
	       "        locked             same as --locked\n"
	       "        passfile=F, keyfile=F  same as --passfile F, --keyfile F (fstab)\n"
	       "        nofail, _netdev, noauto, x-*, ...  for mount(8) and systemd; ignored\n"
	       "        allow_other        let other users in (implies default_permissions,\n"
	       "                           so the kernel checks file modes)\n"
	       "        default_permissions, noatime, nodev, nosuid, ... pass to FUSE/kernel\n"
	       "        no_writeback_cache  disable the kernel's writeback cache (on by\n"
	       "                           default; it merges small writes)\n"
	       "        max_threads=N      worker threads (default 10)\n"
	       "        attr_timeout=S, entry_timeout=S  kernel cache timeouts in seconds\n"
	       "                           (default 1)\n"
	       "        read_ahead_kb=N    kernel readahead for this mount (default 4096;\n"
	       "                           0 keeps the kernel's 128): large sequential\n"
	       "                           reads become parallel 1 MiB requests\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "mount(8) and fstab: 'mount -t fuse.lethefs -o locked VAULT MOUNTPOINT' and\n"
	       "an fstab line 'VAULT MOUNTPOINT fuse.lethefs locked,nofail 0 0' run\n"
	       "mount.fuse3, which calls 'lethefs VAULT MOUNTPOINT -o OPTIONS': the same as\n"
	       "'lethefs mount -o OPTIONS VAULT MOUNTPOINT'. lethefs must then be in\n"
	       "mount's PATH (/usr/local/bin, /usr/bin, /sbin, ...).\n"
	       "\n"
	       "Every mount has a control socket (default /run/lethefs/UUID.sock; see\n"
	       "control_socket and admin_group in lethefs.conf) through which 'lethefs\n"
	       "unlock', 'lock' and 'status' reach the daemon. A vault can be mounted once\n"
	       "at a time: a second mount fails while the first one's socket answers.\n"
	       "\n"
	       "Exit codes: 0 mounted, 1 error, 2 usage, 3 wrong passphrase, 4 no vault,\n"
	       "5 corrupt vault, 7 mount failed (also: vault already mounted).\n");
}

struct mount_opts {
	struct lfs_secret_source src;
	bool foreground;
	bool debug;
	bool locked;
	bool writeback;
	unsigned max_threads;
	double attr_timeout, entry_timeout;
	unsigned read_ahead_kb;
	char fuse_opts[2048]; /* what goes to libfuse/the kernel */
	char passfile[PATH_MAX], keyfile[PATH_MAX]; /* from -o passfile=, keyfile= */
};

static int add_fuse_opt(struct mount_opts *mo, const char *opt)
{
	size_t len = strlen(mo->fuse_opts);
	int n = snprintf(mo->fuse_opts + len, sizeof(mo->fuse_opts) - len, "%s%s",
			 len ? "," : "", opt);
	return n < 0 || (size_t)n >= sizeof(mo->fuse_opts) - len ? -1 : 0;
}

/* Options that mean something to mount(8), fstab or systemd only; the
 * mount helper passes them along and the kernel would refuse them. */
static bool userspace_only(const char *o)
{
	static const char *const words[] = {"nofail", "_netdev", "auto",  "noauto", "user",
					    "users",  "nouser",	 "owner", "group",  "defaults"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(o, words[i]))
			return true;
	return !strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8);
}

static int parse_o(struct mount_opts *mo, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	int r = 0;
	for (char *o = strtok_r(copy, ",", &save); o && r == 0; o = strtok_r(NULL, ",", &save)) {
		char *end;
		if (!strcmp(o, "locked")) {
			mo->locked = true;
		} else if (userspace_only(o)) {
			continue;
		} else if (!strncmp(o, "passfile=", 9) || !strncmp(o, "keyfile=", 8)) {
			/* fstab has no other place for the secret's source. */
			bool key = o[0] == 'k';
			char *dst = key ? mo->keyfile : mo->passfile;
			snprintf(dst, PATH_MAX, "%s", strchr(o, '=') + 1);
			if (key)
				mo->src.keyfile = dst;
			else
				mo->src.passfile = dst;
		} else if (!strcmp(o, "no_writeback_cache")) {
			mo->writeback = false;
		} else if (!strcmp(o, "writeback_cache")) {
			mo->writeback = true;
		} else if (!strncmp(o, "max_threads=", 12)) {
			long v = strtol(o + 12, &end, 10);
			r = *end || v < 1 || v > 256 ? lfs_cli_usage_error("mount", "bad %s", o) : 0;
			mo->max_threads = (unsigned)v;
		} else if (!strncmp(o, "read_ahead_kb=", 14)) {
			long v = strtol(o + 14, &end, 10);
			r = *end || v < 0 || v > 65536 ? lfs_cli_usage_error("mount", "bad %s", o)
						       : 0;
			mo->read_ahead_kb = (unsigned)v;
		} else if (!strncmp(o, "attr_timeout=", 13) || !strncmp(o, "entry_timeout=", 14)) {
			char *eq = strchr(o, '=');
			double v = strtod(eq + 1, &end);
			r = *end || v < 0 ? lfs_cli_usage_error("mount", "bad %s", o) : 0;
			*(o[0] == 'a' ? &mo->attr_timeout : &mo->entry_timeout) = v;
		} else {
			if (!strcmp(o, "allow_other"))
				r = add_fuse_opt(mo, "default_permissions");
			if (r == 0)
				r = add_fuse_opt(mo, o);
			if (r < 0)
				r = lfs_cli_usage_error("mount", "mount options too long");
		}
	}
	free(copy);
	return r;
}

static int parse_mount_args(int argc, char **argv, struct mount_opts *mo)
{
	static const struct option opts[] = {
		LFS_SECRET_LONG_OPTIONS,
		{"foreground", no_argument, NULL, 'f'},
		{"locked", no_argument, NULL, 'L'},
		{"debug", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, r;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hfdo:", opts, NULL)) != -1) {
		int handled = lfs_secret_option("mount", c, optarg, &mo->src);
		if (handled < 0)
			return LFS_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'f':
			mo->foreground = true;
			break;
		case 'd':
			mo->debug = mo->foreground = true;
			break;
		case 'L':
			mo->locked = true;
			break;
		case 'o':
			if ((r = parse_o(mo, optarg)) != 0)
				return r;
			break;
		case 'h':
			mount_help();
			return -1;
		default:
			return lfs_cli_usage_error("mount", "unknown option");
		}
	}
	if (argc - optind != 2)
		return lfs_cli_usage_error("mount", "expected VAULT and MOUNTPOINT");
	return 0;
}

static int check_paths(const char *vault, const char *mnt, char *rvault, char *rmnt)
{
	struct stat st;
	if (!realpath(vault, rvault)) {
		lfs_cli_error("cannot open vault %s: %s", vault, strerror(errno));
		return LFS_EXIT_NO_VAULT;
	}
	if (!realpath(mnt, rmnt) || stat(rmnt, &st) < 0) {
		lfs_cli_error("mountpoint %s: %s", mnt, strerror(errno));
		return LFS_EXIT_MOUNT;
	}
	if (!S_ISDIR(st.st_mode)) {
		lfs_cli_error("mountpoint %s is not a directory", mnt);
		return LFS_EXIT_MOUNT;
	}
	size_t vl = strlen(rvault);
	if (!strncmp(rmnt, rvault, vl) && (rmnt[vl] == '/' || rmnt[vl] == '\0')) {
		lfs_cli_error("mountpoint %s lies inside the vault %s", mnt, vault);
		return LFS_EXIT_MOUNT;
	}
	return 0;
}

/* Sets the mount's readahead through sysfs. The kernel resets it when it
 * processes our INIT reply, so this runs in a thread once the session loop
 * has answered a first request (the stat below). */
struct read_ahead_job {
	char mnt[PATH_MAX];
	unsigned kb;
};

static void set_read_ahead(const char *mnt, unsigned kb)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], dev[32] = "", point[PATH_MAX];
	while (f && fgets(line, sizeof(line), f)) {
		char d[32];
		/* id parent major:minor root mountpoint ... - fstype */
		if (sscanf(line, "%*d %*d %31s %*s %4095s", d, point) == 2 &&
		    strcmp(point, mnt) == 0 && strstr(line, " - fuse.lethefs "))
			snprintf(dev, sizeof(dev), "%s", d);
	}
	if (f)
		fclose(f);
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	FILE *ra = dev[0] ? fopen(path, "we") : NULL;
	if (!ra || fprintf(ra, "%u\n", kb) < 0 || fclose(ra) != 0)
		lfs_debug("cannot set readahead of %s (%s): %s", mnt, path, strerror(errno));
	else
		ra = NULL;
	if (ra)
		fclose(ra);
}

static void *read_ahead_thread(void *arg)
{
	struct read_ahead_job *job = arg;
	struct stat st;
	if (stat(job->mnt, &st) == 0)
		set_read_ahead(job->mnt, job->kb);
	free(job);
	return NULL;
}

static void start_read_ahead_tuning(const char *mnt, unsigned kb)
{
	struct read_ahead_job *job = malloc(sizeof(*job));
	pthread_t t;
	if (!job)
		return;
	snprintf(job->mnt, sizeof(job->mnt), "%s", mnt);
	job->kb = kb;
	if (pthread_create(&t, NULL, read_ahead_thread, job) != 0)
		free(job);
	else
		pthread_detach(t);
}

static int serve(struct fuse_session *se, const struct mount_opts *mo, const char *vault,
		 const char *mnt, struct lfs_control *ctl, struct lfs_session *session)
{
	if (!mo->foreground) {
		if (fuse_daemonize(0) < 0)
			return LFS_EXIT_ERROR;
		/* libsodium's generator aborts in a forked child that has not
		 * re-seeded it: its state would repeat the parent's. */
		randombytes_stir();
		lfs_log_to_syslog("lethefs");
	}
	/* Keep plaintext buffers and keys out of swap. MCL_ONFAULT locks pages
	 * only as they are touched, so thread stacks do not become resident. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
		lfs_warn("cannot lock memory (%s): plaintext could reach swap", strerror(errno));
	umask(0); /* backing modes must be exactly those the caller asked for */
	lfs_info("mounted %s on %s (%s), control socket %s", vault, mnt,
		 mo->locked ? "locked" : "unlocked", ctl->path);
	struct lfs_audit_caller self;
	lfs_audit_caller_self(&self);
	struct lfs_audit_detail d[] = {{"mountpoint", mnt, 0},
				       {"state", mo->locked ? "locked" : "unlocked", 0},
				       {"control_socket", ctl->path, 0}};
	lfs_session_audit(session, "mount", "success", &self, d, 3);
	if (lfs_control_start(ctl, session) < 0)
		lfs_warn("cannot start the control socket thread: lock and unlock unavailable");
	/* After daemonizing: threads do not survive the fork. */
	if (session->rotation && lfs_rotation_start(session->rotation) < 0)
		lfs_warn("cannot start the rotation thread: key rotation unavailable");
	if (mo->read_ahead_kb)
		start_read_ahead_tuning(mnt, mo->read_ahead_kb);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(cfg, mo->max_threads);
	int r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	lfs_control_stop(ctl);
	if (session->rotation)
		lfs_rotation_stop(session->rotation);
	lfs_info("unmounted %s", vault);
	lfs_session_audit(session, "unmount", "success", &self, d, 1);
	return r < 0 ? LFS_EXIT_ERROR : LFS_EXIT_OK;
}

/* "fsname=VAULT,subtype=lethefs" with ',' and '\\' in the path escaped, so
 * that a vault path cannot smuggle mount options (libfuse unescapes them). */
static void build_base_opts(char *out, size_t len, const char *vault)
{
	size_t o = (size_t)snprintf(out, len, "fsname=");
	for (const char *p = vault; *p && o + 3 < len; p++) {
		if (*p == ',' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	snprintf(out + o, len - o, ",subtype=lethefs");
}

int lfs_cmd_mount(int argc, char **argv)
{
	struct mount_opts mo = {.src = {.passfd = -1},
				.writeback = true,
				.max_threads = 10,
				.attr_timeout = 1.0,
				.read_ahead_kb = 4096,
				.entry_timeout = 1.0};
	int r = parse_mount_args(argc, argv, &mo);
	if (r != 0)
		return r < 0 ? LFS_EXIT_OK : r;
	char vault[PATH_MAX], mnt[PATH_MAX];
	if ((r = check_paths(argv[optind], argv[optind + 1], vault, mnt)) != 0)
		return r;

	struct lfs_vault v;
	struct lfs_keyring kr;
	if (mo.locked) {
		char err[512];
		enum lfs_vault_error ve = lfs_vault_open(vault, &v, err, sizeof(err));
		if (ve != LFS_VAULT_OK)
			return lfs_exit_for_vault_error(ve, err);
		lfs_keyring_init(&kr, v.cfg.uuid, v.cfg.cipher);
	} else if ((r = lfs_open_and_unlock(vault, &mo.src, &v, &kr)) != 0) {
		return r;
	}
	/* This thread becomes a FUSE worker: no residue of the unlock. */
	sodium_stackzero(64 * 1024);
	int data_fd = openat(v.dirfd, LFS_DATA_DIR_NAME, O_PATH | O_DIRECTORY | O_NOFOLLOW |
							  O_CLOEXEC);
	struct lfs_fs fs;
	if (data_fd < 0 || lfs_fs_init(&fs, &kr, data_fd, vault) < 0) {
		lfs_cli_error("vault %s has no usable data directory '%s'", vault,
			      LFS_DATA_DIR_NAME);
		lfs_keyring_destroy(&kr);
		lfs_vault_close(&v);
		return LFS_EXIT_CORRUPT;
	}
	fs.writeback = mo.writeback;
	fs.attr_timeout = mo.attr_timeout;
	fs.entry_timeout = mo.entry_timeout;

	/* The socket comes first: if another daemon serves this vault, fail
	 * before touching the mountpoint. */
	struct lfs_control ctl;
	char err[512];
	if (lfs_control_bind(&ctl, &v.cfg, err, sizeof(err)) < 0) {
		lfs_cli_error("%s", err);
		lfs_fs_destroy(&fs);
		lfs_keyring_destroy(&kr);
		lfs_vault_close(&v);
		return LFS_EXIT_MOUNT;
	}
	struct lfs_session session;
	lfs_session_init(&session, &v, &fs, mnt, ctl.path);
	char uuid_tag[40];
	{
		char hex[33];
		sodium_bin2hex(hex, sizeof(hex), v.cfg.uuid, sizeof(v.cfg.uuid));
		snprintf(uuid_tag, sizeof(uuid_tag), "uuid=%s", hex);
		lfs_log_set_tag(uuid_tag);
	}
	/* No audit log, no mount: every security event must land in it. */
	r = lfs_audit_open(&session.audit, v.dirfd, &v.cfg);
	if (r < 0) {
		lfs_cli_error("cannot open the audit log of %s: %s", vault, strerror(-r));
		lfs_control_stop(&ctl);
		lfs_session_destroy(&session);
		lfs_fs_destroy(&fs);
		lfs_keyring_destroy(&kr);
		lfs_vault_close(&v);
		return LFS_EXIT_ERROR;
	}
	/* Staging directories that expired while nothing was mounted are
	 * shredded before anything is served (no key needed). */
	struct lfs_staging staging;
	r = lfs_staging_init(&staging, v.dirfd, data_fd, &kr, &v.cfg);
	if (r < 0) {
		lfs_cli_error("cannot read the staging index of %s: %s", vault, strerror(-r));
		lfs_audit_close(session.audit);
		lfs_control_stop(&ctl);
		lfs_session_destroy(&session);
		lfs_fs_destroy(&fs);
		lfs_keyring_destroy(&kr);
		lfs_vault_close(&v);
		return LFS_EXIT_CORRUPT;
	}
	lfs_session_set_staging(&session, &staging);
	lfs_staging_sweep_orphans(&staging);
	lfs_staging_tick(&staging, (int64_t)time(NULL));
	if (!mo.locked)
		lfs_staging_load_keys(&staging);
	staging.background = true;
	staging.invalidate = lfs_stage_invalidate;
	staging.inval_arg = &fs;
	fs.staging = &staging;
	/* Resumes a rotation that a restart interrupted (rotate.h). */
	struct lfs_rotation rotation;
	lfs_rotation_init(&rotation, &session);
	session.rotation = &rotation;
	if (!mo.locked)
		lfs_session_unlocked_at_mount(&session);

	char base[2 * PATH_MAX + 64];
	build_base_opts(base, sizeof(base), vault);
	char *fargv[] = {"lethefs", "-o", base, "-o", mo.fuse_opts[0] ? mo.fuse_opts : base,
			 mo.debug ? "-d" : NULL, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(mo.debug ? 6 : 5, fargv);
	if (mo.debug)
		lfs_log_set_level(LFS_LOG_DEBUG);
	struct fuse_session *se =
		fuse_session_new(&args, &lfs_gated_ops, sizeof(lfs_gated_ops), &fs);
	r = LFS_EXIT_MOUNT;
	if (!se) {
		lfs_cli_error("cannot start FUSE session (bad -o option?)");
	} else if (fuse_set_signal_handlers(se) != 0) {
		lfs_cli_error("cannot install signal handlers");
	} else if (fuse_session_mount(se, mnt) != 0) {
		lfs_cli_error("cannot mount on %s (is /dev/fuse available, and are you root?)",
			      mnt);
	} else {
		fs.se = se;
		r = serve(se, &mo, vault, mnt, &ctl, &session);
		fs.se = NULL;
		fuse_session_unmount(se);
	}
	lfs_control_stop(&ctl);
	if (se) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	fuse_opt_free_args(&args);
	fs.staging = NULL;
	lfs_staging_destroy(&staging);
	lfs_audit_close(session.audit);
	lfs_session_destroy(&session);
	lfs_fs_destroy(&fs);
	lfs_keyring_destroy(&kr);
	lfs_vault_close(&v);
	return r;
}
