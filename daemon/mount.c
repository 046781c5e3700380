/* SPDX-License-Identifier: Apache-2.0 */
/* A mount daemon's life (mount.h): set up, serve, tear down. */
#define _GNU_SOURCE
#include "mount.h"
#include "../journal/journal.h"
#include "control.h"
#include "daemonize.h"
#include "notify.h"
#include "session.h"
#include "shared.h"
#include "../audit/audit_forward.h"
#include "../common/log.h"
#include "../common/xattrat.h"
#include "../fs/gate.h"
#include "../fs/ops.h"
#include "../fs/rawio.h"
#include "../fs/sharedwb.h"
#include "../staging/ops_stage.h"
#include "../staging/stage_inval.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

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

/* Where the audit entries leave the host, said once per mount: without a
 * system log a rollback of the log and its head together goes unnoticed
 * (docs/AUDIT.md section 6). */
static void announce_forwarding(void)
{
	const char *to = lfs_audit_forward_target();
	if (!strcmp(to, "journal"))
		lfs_info(
		    "audit entries also go to the system journal (journalctl LETHEFS_UUID=...)");
	else if (!strcmp(to, "syslog"))
		lfs_info("audit entries also go to syslog (no journald here)");
	else
		lfs_warn("no system log here (neither journald nor /dev/log): audit entries stay "
		         "in the vault's log only, and a rollback of that log with its head "
		         "cannot be noticed");
}

static enum lfs_mount_status serve(struct fuse_session *se, const struct lfs_mount_opts *mo,
                                   const char *vault, const char *mnt, struct lfs_control *ctl,
                                   struct lfs_session *session)
{
	if (!mo->foreground) {
		if (lfs_daemonize_begin() < 0)
			return LFS_MOUNT_ERROR;
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
	announce_forwarding();
	struct lfs_audit_caller self;
	lfs_audit_caller_self(&self);
	struct lfs_audit_detail d[] = {{"mountpoint", mnt, 0},
	                               {"state", mo->locked ? "locked" : "unlocked", 0},
	                               {"control_socket", ctl->path, 0}};
	lfs_session_audit(session, "mount", "success", &self, d, 3);
	if (lfs_control_start(ctl, session) < 0)
		lfs_warn("cannot start the control socket thread: lock and unlock unavailable");
	lfs_daemonize_ready();             /* the waiting `lethefs mount` returns now */
	lfs_notify_ready(mnt, mo->locked); /* and a Type=notify unit is started */
	/* After daemonizing: threads do not survive the fork. */
	if (session->rotation && lfs_rotation_start(session->rotation) < 0)
		lfs_warn("cannot start the rotation thread: key rotation unavailable");
	if (mo->read_ahead_kb)
		start_read_ahead_tuning(mnt, mo->read_ahead_kb);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(cfg, mo->max_threads);
	int r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	lfs_notify_stopping(mnt);
	lfs_control_stop(ctl);
	if (session->rotation)
		lfs_rotation_stop(session->rotation);
	lfs_info("unmounted %s", vault);
	lfs_session_audit(session, "unmount", "success", &self, d, 1);
	return r < 0 ? LFS_MOUNT_ERROR : LFS_MOUNT_OK;
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

static void no_fuse_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
}

int lfs_daemon_check_fuse_opts(const struct lfs_mount_opts *o, char *bad, size_t badlen)
{
	static const struct fuse_lowlevel_ops none;
	char *copy = strdup(o->fuse_opts), *save = NULL;
	int r = copy ? 0 : -ENOMEM;
	/* libfuse prints its own complaint; the caller names the option. */
	fuse_set_log_func(no_fuse_log);
	for (char *opt = copy ? strtok_r(copy, ",", &save) : NULL; opt && r == 0;
	     opt = strtok_r(NULL, ",", &save)) {
		char *fargv[] = {"lethefs", "-o", opt, NULL};
		struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
		struct fuse_session *se = fuse_session_new(&args, &none, sizeof(none), NULL);
		if (se)
			fuse_session_destroy(se);
		else {
			snprintf(bad, badlen, "%s", opt);
			r = -EINVAL;
		}
		fuse_opt_free_args(&args);
	}
	fuse_set_log_func(NULL);
	free(copy);
	return r;
}

enum lfs_mount_status lfs_daemon_mount(const struct lfs_mount_opts *mo, const char *vault,
                                       const char *mnt, struct lfs_vault *v, struct lfs_keyring *kr,
                                       char *err, size_t errlen)
{
	err[0] = '\0';
	int data_fd =
	    openat(v->dirfd, LFS_DATA_DIR_NAME, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct lfs_fs fs;
	if (data_fd < 0 || lfs_fs_init(&fs, kr, data_fd, vault) < 0) {
		snprintf(err, errlen, "vault %s has no usable data directory '%s'", vault,
		         LFS_DATA_DIR_NAME);
		lfs_keyring_destroy(kr);
		lfs_vault_close(v);
		return LFS_MOUNT_CORRUPT;
	}
	fs.writeback = mo->writeback && !mo->shared;
	fs.shared = mo->shared;
	fs.shared_wb = mo->shared && !mo->shared_sync && !getenv("LETHEFS_SHARED_SYNC");
	fs.random_ra = (size_t)mo->random_ra_kb << 10;
	fs.acl = mo->acl;
	fs.iattr = mo->iattr && !mo->shared; /* and the backing store's user. xattrs: below */
	fs.powersafe = mo->powersafe;
	/* Lookups read inode attributes by name with getxattrat (Linux 6.13)
	 * where the kernel has it: this keeps the fallback of older kernels
	 * reachable on newer ones (tests/integration/58-iattr.bats). */
	if (getenv("LETHEFS_NO_XATTRAT"))
		lfs_xattrat_disable();
	fs.allow_dev = mo->allow_dev;
	fs.attr_timeout = mo->attr_timeout;
	fs.entry_timeout = mo->entry_timeout;
	/* What the backing filesystem can do, and the vault lease: a second
	 * host is refused unless every host mounts with -o shared. */
	/* On the heap: it holds the host table of every lapsed host seen
	 * (make stack: this function's frame stays under 16 KiB). */
	struct lfs_shared *cluster = calloc(1, sizeof(*cluster));
	if (!cluster) {
		snprintf(err, errlen, "out of memory");
		lfs_fs_destroy(&fs);
		lfs_keyring_destroy(kr);
		lfs_vault_close(v);
		return LFS_MOUNT_ERROR;
	}
	int cr = lfs_shared_join(cluster, v, &fs, mo->shared, mo->read_only, err, errlen);
	if (cr < 0) {
		lfs_shared_leave(cluster);
		free(cluster);
		lfs_fs_destroy(&fs);
		lfs_keyring_destroy(kr);
		lfs_vault_close(v);
		return cr == -EBUSY || cr == -EEXIST || cr == -ENOLCK || cr == -EROFS
		           ? LFS_MOUNT_FAILED
		           : LFS_MOUNT_ERROR;
	}
	/* The journal every multi-step update runs under (journal/journal.h):
	 * this host's own in shared mode. A vault on read-only storage may
	 * only be mounted read-only. */
	struct lfs_journal journal;
	/* One mount per process: static, outside the frame (make stack). */
	static char data_path[PATH_MAX + 8];
	snprintf(data_path, sizeof(data_path), "%s/%s", vault, LFS_DATA_DIR_NAME);
	int jr = lfs_journal_open_named(&journal, v->dirfd, cluster->journal_name, v->cfg.uuid,
	                                true, 2 * mo->max_threads + LFS_JOURNAL_MIN_SLOTS);
	if (jr == 0 && journal.read_only && !mo->read_only) {
		lfs_journal_close(&journal);
		jr = -EROFS;
	}
	if (jr == 0) {
		fs.journal = &journal;
		fs.data_path = data_path;
	} else if (!(mo->read_only && (jr == -EROFS || jr == -EACCES))) {
		if (jr == -EROFS)
			snprintf(err, errlen, "%s is on read-only storage: mount it with -o ro",
			         vault);
		else
			snprintf(err, errlen, "cannot open the journal of %s (%s): %s", vault,
			         LFS_JOURNAL_FILE_NAME, strerror(-jr));
		lfs_shared_leave(cluster);
		free(cluster);
		lfs_fs_destroy(&fs);
		lfs_keyring_destroy(kr);
		lfs_vault_close(v);
		return jr == -EINVAL  ? LFS_MOUNT_CORRUPT
		       : jr == -EROFS ? LFS_MOUNT_FAILED
		                      : LFS_MOUNT_ERROR;
	}

	/* The socket comes first: if another daemon serves this vault, fail
	 * before touching the mountpoint. */
	struct lfs_control ctl;
	if (lfs_control_bind(&ctl, &v->cfg, err, errlen) < 0) {
		lfs_journal_close(&journal);
		lfs_shared_leave(cluster);
		free(cluster);
		lfs_fs_destroy(&fs);
		lfs_keyring_destroy(kr);
		lfs_vault_close(v);
		return LFS_MOUNT_FAILED;
	}
	struct lfs_session session;
	lfs_session_init(&session, v, &fs, mnt, ctl.path);
	/* Backing objects refused as tampering are audited (fs/attr.h). */
	fs.events = lfs_session_events(&session);
	session.cluster = cluster;
	cluster->events = lfs_session_events(&session);
	/* Another host's rotation: an unknown epoch reads the keyring again.
	 * Every way out clears the hook before cluster is freed. */
	if (mo->shared) {
		kr->refresh_arg = cluster;
		kr->refresh = lfs_shared_refresh_keys;
	}
	char uuid_tag[40];
	{
		char hex[33];
		sodium_bin2hex(hex, sizeof(hex), v->cfg.uuid, sizeof(v->cfg.uuid));
		snprintf(uuid_tag, sizeof(uuid_tag), "uuid=%s", hex);
		lfs_log_set_tag(uuid_tag);
	}
	/* No audit log, no mount: every security event must land in it. */
	/* Shared: every host appends to a log of its own (AUDIT.md section 8). */
	int r = mo->shared && cluster->leased
	            ? lfs_audit_open_host(&session.audit, v->dirfd, &v->cfg, cluster->lease.me.host)
	            : lfs_audit_open(&session.audit, v->dirfd, &v->cfg);
	/* A vault on read-only storage, mounted read-only: its security
	 * events still leave the host through the system log, and the mount
	 * says so. */
	if ((r == -EROFS || r == -EACCES) && mo->read_only) {
		r = lfs_audit_open_ro(&session.audit, &v->cfg);
		if (r == 0)
			lfs_warn("%s is on read-only storage: audit entries go to the system log "
			         "only (%s)",
			         vault, lfs_audit_forward_target());
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot open the audit log of %s: %s", vault,
		         r == -EINVAL ? "not a regular file where lethefs may keep it (a FIFO, "
		                        "socket, device or directory put in its place, or an "
		                        "[audit] log path outside the vault and /var/log/lethefs)"
		                      : strerror(-r));
		lfs_control_stop(&ctl);
		lfs_session_destroy(&session);
		lfs_journal_close(&journal);
		kr->refresh = NULL;
		lfs_shared_leave(cluster);
		free(cluster);
		lfs_fs_destroy(&fs);
		lfs_keyring_destroy(kr);
		lfs_vault_close(v);
		return LFS_MOUNT_ERROR;
	}
	/* Staging directories that expired while nothing was mounted are
	 * shredded before anything is served (no key needed). A damaged
	 * index never stops the mount (it is rebuilt from the key files);
	 * only a VAULT/staging that cannot be opened leaves the mount
	 * without staging directories, reported. */
	struct lfs_staging staging;
	struct lfs_stage_hooks stage_hooks;
	r = lfs_staging_init(&staging, v->dirfd, data_fd, kr, &v->cfg);
	bool have_staging = r == 0;
	if (have_staging) {
		lfs_session_set_staging(&session, &staging);
		/* Shared: the index is everyone's, and one host shreds what
		 * expires and finishes what crashes left (the lease's expiry
		 * role; another takes it over when it ends). */
		if (mo->shared && cluster->leased) {
			staging.lease = &cluster->lease;
			staging.expire = lfs_lease_role_try(&cluster->lease, LFS_LEASE_EXPIRY) == 0;
		}
		lfs_staging_recover(&staging);
		lfs_staging_tick(&staging);
		if (!mo->locked)
			lfs_staging_load_keys(&staging);
		staging.background = true;
		staging.invalidate = lfs_stage_invalidate;
		staging.restage = lfs_stage_restage;
		staging.inval_arg = &fs;
		lfs_staging_hooks_init(&stage_hooks, &staging);
		fs.stage = &stage_hooks;
	} else if (r == -ENOENT) {
		/* Read-only storage and no VAULT/staging: there is none. */
		lfs_info("%s has no staging directories (read-only, none created)", vault);
	} else {
		char why[300];
		snprintf(why, sizeof(why),
		         "cannot open %s/staging: %s: staging directories are "
		         "neither served nor shredded by this mount",
		         vault, strerror(-r));
		lfs_err("%s", why);
		struct lfs_audit_detail d[] = {{"what", "staging", 0}, {"error", why, 0}};
		lfs_session_audit(&session, "stage-damaged", "failure", NULL, d, 2);
	}
	/* Resumes a rotation that a restart interrupted (rotate.h). */
	struct lfs_rotation rotation;
	struct lfs_rotation_env renv = {.vault = v,
	                                .fs = &fs,
	                                .kr = kr,
	                                .mountpoint = mnt,
	                                .events = lfs_session_events(&session),
	                                .lease =
	                                    mo->shared && cluster->leased ? &cluster->lease : NULL};
	lfs_rotation_init(&rotation, &renv);
	session.rotation = &rotation;
	if (!mo->locked)
		lfs_session_unlocked_at_mount(&session);

	char base[2 * PATH_MAX + 64];
	build_base_opts(base, sizeof(base), vault);
	char *fargv[] = {"lethefs",
	                 "-o",
	                 base,
	                 "-o",
	                 mo->fuse_opts[0] ? (char *)mo->fuse_opts : base,
	                 mo->debug ? "-d" : NULL,
	                 NULL};
	struct fuse_args args = FUSE_ARGS_INIT(mo->debug ? 6 : 5, fargv);
	if (mo->debug)
		lfs_log_set_level(LFS_LOG_DEBUG);
	struct fuse_session *se =
	    fuse_session_new(&args, &lfs_gated_ops, sizeof(lfs_gated_ops), &fs);
	enum lfs_mount_status st = LFS_MOUNT_FAILED;
	if (!se) {
		snprintf(err, errlen, "cannot start FUSE session (bad -o option?)");
	} else if (fuse_set_signal_handlers(se) != 0) {
		snprintf(err, errlen, "cannot install signal handlers");
	} else if (fuse_session_mount(se, mnt) != 0) {
		snprintf(err, errlen,
		         "cannot mount on %s (is /dev/fuse available, and are you root?)", mnt);
	} else if (lfs_rawio_attach(se, true) != 0) {
		/* before the loop: the INIT request must pass through it */
		snprintf(err, errlen, "cannot install the FUSE device I/O");
		fuse_session_unmount(se);
	} else {
		fs.se = se;
		st = serve(se, mo, vault, mnt, &ctl, &session);
		lfs_swb_drain_all(&fs); /* (the kernel released every handle) */
		fs.se = NULL;
		fuse_session_unmount(se);
	}
	lfs_control_stop(&ctl);
	if (se) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	fuse_opt_free_args(&args);
	fs.stage = NULL;
	if (have_staging)
		lfs_staging_destroy(&staging);
	lfs_audit_close(session.audit);
	lfs_session_destroy(&session);
	fs.journal = NULL;
	lfs_journal_close(&journal);
	kr->refresh = NULL;
	lfs_shared_leave(cluster);
	free(cluster);
	lfs_fs_destroy(&fs);
	lfs_keyring_destroy(kr);
	lfs_vault_close(v);
	return st;
}
