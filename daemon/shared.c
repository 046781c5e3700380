/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "shared.h"
#include "ctlproto.h"
#include "recover.h"
#include "../cluster/rangelock.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../common/mountinfo.h"
#include "../journal/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Lapsed hosts are looked for this often (seconds). */
#define SCAN_INTERVAL 2
/* A host's lease lapses the moment its daemon dies, but writes that daemon
 * had already handed to the backing filesystem's client (a GlusterFS or
 * NFS client process that lives on) may still reach the servers after the
 * unlock. Its journal is recovered only once it has been seen lapsed this
 * long, so that such a late write cannot land on a block the recovery
 * already put right (docs/SHARED.md). */
#ifndef LAPSE_GRACE
#define LAPSE_GRACE 5 /* -DLAPSE_GRACE=0 builds the variant without it, for the test */
#endif

/* Whether a lethefs mount of vault is in this mount namespace. Not
 * inlined: its path buffer stays out of the mount's frame (make stack). */
__attribute__((noinline)) static bool vault_mounted_here(const char *vault)
{
	char where[PATH_MAX];
	return lfs_mounted_at(vault, where, sizeof(where));
}

int lfs_shared_join(struct lfs_shared *sh, struct lfs_vault *v, struct lfs_fs *fs, bool shared,
                    bool read_only, char *err, size_t errlen)
{
	memset(sh, 0, sizeof(*sh));
	pthread_mutex_init(&sh->lock, NULL);
	pthread_mutex_init(&sh->key_lock, NULL);
	sh->shared = shared;
	sh->vault = v;
	sh->fs = fs;
	snprintf(sh->journal_name, sizeof(sh->journal_name), "%s", LFS_JOURNAL_FILE_NAME);
	int pr = lfs_backing_probe(v->dirfd, &sh->backing);
	if (pr == -EROFS && !read_only) {
		snprintf(err, errlen, "%s is on read-only storage: mount it with -o ro", v->path);
		return pr;
	}
	if (pr < 0 && !read_only) {
		snprintf(err, errlen, "cannot write in %s: %s", v->path, strerror(-pr));
		return pr;
	}
	if (shared && !sh->backing.range_locks) {
		snprintf(err, errlen,
		         "%s (%s) has no working byte-range locks: -o shared needs them to keep "
		         "hosts from corrupting each other's writes (docs/SHARED.md)",
		         v->path, sh->backing.fstype);
		return -ENOLCK;
	}
	lfs_fs_use_backing(fs, &sh->backing);
	char who[768];
	int r =
	    lfs_lease_acquire(&sh->lease, v->dirfd, shared ? LFS_LEASE_SHARED : LFS_LEASE_EXCLUSIVE,
	                      NULL, 5000, who, sizeof(who));
	/* Held by a daemon of this very host whose mount is gone: after a
	 * plain umount(8) the old daemon still finishes (its last syncfs can
	 * take seconds on a busy disk) and lets go when it exits. Wait for
	 * that, up to 30 s, rather than refuse a mount that is only a moment
	 * early. A vault still mounted here is refused at once. */
	char me[LFS_HOST_NAME_MAX + 1], mine[LFS_HOST_NAME_MAX + 8];
	if (r == -EBUSY && lfs_host_name(me) == 0 && !vault_mounted_here(v->path)) {
		snprintf(mine, sizeof(mine), "host %s (", me);
		for (int i = 0; i < 300 && r == -EBUSY && strstr(who, mine); i++) {
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
			r = lfs_lease_acquire(&sh->lease, v->dirfd,
			                      shared ? LFS_LEASE_SHARED : LFS_LEASE_EXCLUSIVE, NULL,
			                      0, who, sizeof(who));
		}
	}
	if (r == -EROFS && read_only) {
		/* Nobody writes read-only storage: nothing to exclude. */
		lfs_warn("%s is on read-only storage: mounted without a vault lease", v->path);
		return 0;
	}
	if (r == -EBUSY) {
		snprintf(err, errlen, "vault %s is already mounted: in use by %s; %s", v->path, who,
		         shared ? "an exclusive mount or an offline command excludes every other "
		                  "(mount each host with -o shared to share it)"
		                : "a second host may mount it only when every host uses -o shared");
		return r;
	}
	if (r == -EEXIST) {
		snprintf(err, errlen,
		         "vault %s is already mounted by %s under this host's name: each host "
		         "sharing a vault needs a host name of its own",
		         v->path, who);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "vault %s: %s", v->path, who);
		return r;
	}
	sh->leased = true;
	if (shared)
		snprintf(sh->journal_name, sizeof(sh->journal_name), "%s.%s", LFS_JOURNAL_FILE_NAME,
		         sh->lease.me.host);
	if (shared) {
		r = lfs_xmoves_open(&sh->xmoves, v->dirfd, sh->lease.hostfd);
		if (r < 0) {
			snprintf(err, errlen, "cannot write this host's record %s%s: %s",
			         LFS_HOST_FILE_PREFIX, sh->lease.me.host, strerror(-r));
			return r;
		}
		sh->xmoves_open = true;
		fs->xmoves = &sh->xmoves;
	}
	return 0;
}

void lfs_shared_leave(struct lfs_shared *sh)
{
	if (sh->xmoves_open) {
		if (sh->fs)
			sh->fs->xmoves = NULL;
		lfs_xmoves_close(&sh->xmoves);
		sh->xmoves_open = false;
	}
	if (sh->leased)
		lfs_lease_release(&sh->lease);
	sh->leased = false;
	pthread_mutex_destroy(&sh->lock);
	pthread_mutex_destroy(&sh->key_lock);
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int lfs_shared_refresh_keys(void *arg)
{
	struct lfs_shared *sh = arg;
	struct lfs_keyring *kr = sh->fs->kr;
	pthread_mutex_lock(&sh->key_lock);
	struct stat st;
	int r = 0;
	double now = mono_now();
	if (fstatat(sh->vault->dirfd, LFS_KEYRING_FILE_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		goto out;
	}
	int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	/* Unchanged since it was last taken: nothing to read (a header naming
	 * an epoch nobody has costs one stat, not a read and an unseal). */
	if ((uint64_t)st.st_ino == sh->keyfile.ino && (uint64_t)st.st_size == sh->keyfile.size &&
	    mt == sh->keyfile.mtime_ns)
		goto out;
	unsigned char *buf = NULL;
	size_t len = 0;
	r = lfs_read_small_file(sh->vault->dirfd, LFS_KEYRING_FILE_NAME, LFS_KEYRING_MAX_FILE_LEN,
	                        &buf, &len);
	bool changed = false;
	if (r == 0)
		r = lfs_keyring_merge(kr, buf, len, &changed);
	free(buf);
	if (r == 0) {
		sh->keyfile.ino = (uint64_t)st.st_ino;
		sh->keyfile.size = (uint64_t)st.st_size;
		sh->keyfile.mtime_ns = mt;
		if (changed) {
			lfs_info("keyring: taken another host's change of %s",
			         LFS_KEYRING_FILE_NAME);
			r = 1;
		}
	} else if (r != -EACCES) {
		lfs_warn("keyring: cannot take %s again: %s", LFS_KEYRING_FILE_NAME, strerror(-r));
	}
out:
	sh->keyfile.checked = now;
	pthread_mutex_unlock(&sh->key_lock);
	return r;
}

/* Applies the records of one journal that nobody else uses now. */
static int recover_journal(struct lfs_shared *sh, struct lfs_keyring *kr, const char *name)
{
	struct lfs_journal j;
	int r = lfs_journal_open_named(&j, sh->vault->dirfd, name, sh->vault->cfg.uuid, false, 0);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		lfs_err("recovery: cannot open %s: %s", name, strerror(-r));
		return r;
	}
	unsigned pending = 0;
	if (lfs_journal_pending(&j, &pending) < 0 || pending == 0) {
		lfs_journal_close(&j);
		return 0;
	}
	struct lfs_recovery rc = {.journal = &j,
	                          .kr = kr,
	                          .layout = &sh->fs->layout,
	                          .data_dirfd = sh->fs->root.fd,
	                          .handle_mount_fd = -1, /* another host's handles mean nothing */
	                          .lock_targets = sh->backing.range_locks};
	r = lfs_recover(&rc);
	lfs_journal_close(&j);
	if (r < 0) {
		lfs_err("recovery: cannot read %s: %s", name, strerror(-r));
		return r;
	}
	lfs_info("recovery: %s: %u completed, %u undone, %u gone, %u failed, %u rejected", name,
	         rc.completed, rc.rolled_back, rc.gone, rc.failed, rc.rejected);
	if (sh->events.emit) {
		struct lfs_audit_detail d[] = {{"journal", name, 0},
		                               {"completed", NULL, rc.completed},
		                               {"undone", NULL, rc.rolled_back},
		                               {"failed", NULL, rc.failed},
		                               {"rejected", NULL, rc.rejected}};
		sh->events.emit(sh->events.ctx, "recover", rc.failed ? "failure" : "success", NULL,
		                d, 5);
	}
	if (rc.completed || rc.rolled_back)
		lfs_fs_forget_cached_metadata(sh->fs);
	return rc.failed ? -EIO : (int)(rc.completed + rc.rolled_back);
}

static unsigned seen_slot(struct lfs_shared *sh, const char *host)
{
	for (unsigned i = 0; i < sh->nseen; i++)
		if (!strcmp(sh->seen[i].host, host))
			return i;
	if (sh->nseen == LFS_SHARED_MAX_SEEN)
		return LFS_SHARED_MAX_SEEN;
	snprintf(sh->seen[sh->nseen].host, sizeof(sh->seen[0].host), "%s", host);
	sh->seen[sh->nseen].clean = false;
	sh->seen[sh->nseen].lapsed_since = 0;
	sh->seen[sh->nseen].pid = 0;
	sh->seen[sh->nseen].since = 0;
	return sh->nseen++;
}

struct scan {
	struct lfs_shared *sh;
	struct lfs_keyring *kr;
	bool force;
	int applied;
};

static int visit_host(const struct lfs_host_info *h, void *arg)
{
	struct scan *sc = arg;
	struct lfs_shared *sh = sc->sh;
	if (!strcmp(h->host, sh->lease.me.host))
		return 0;
	unsigned i = seen_slot(sh, h->host);
	if (h->live) {
		if (i < LFS_SHARED_MAX_SEEN) {
			sh->seen[i].clean = false; /* it may leave records again */
			sh->seen[i].lapsed_since = 0;
		}
		return 0;
	}
	/* A run this daemon never saw live (it started and died between two
	 * scans) left records of its own, even if its host's journal was
	 * recovered after an earlier run. */
	if (i < LFS_SHARED_MAX_SEEN &&
	    (sh->seen[i].pid != h->pid || sh->seen[i].since != h->since)) {
		sh->seen[i].clean = false;
		sh->seen[i].lapsed_since = 0;
		sh->seen[i].pid = h->pid;
		sh->seen[i].since = h->since;
	}
	if (i < LFS_SHARED_MAX_SEEN && sh->seen[i].clean && !sc->force)
		return 0;
	if (i < LFS_SHARED_MAX_SEEN && !sc->force) {
		int64_t now = (int64_t)time(NULL);
		if (!sh->seen[i].lapsed_since)
			sh->seen[i].lapsed_since = now;
		if (now - sh->seen[i].lapsed_since < LAPSE_GRACE)
			return 0; /* its last writes may still be on their way */
	}
	/* Claimed: the host cannot start again, nor another host recover it,
	 * until the claim is dropped. */
	int claim = lfs_host_claim(sh->vault->dirfd, h->host);
	if (claim < 0)
		return 0;
	char name[128];
	snprintf(name, sizeof(name), "%s.%s", LFS_JOURNAL_FILE_NAME, h->host);
	int r = recover_journal(sh, sc->kr, name);
	close(claim);
	if (r >= 0) {
		sc->applied += r;
		if (i < LFS_SHARED_MAX_SEEN)
			sh->seen[i].clean = true;
	}
	return 0;
}

int lfs_shared_recover_others(struct lfs_shared *sh, struct lfs_keyring *kr, bool force)
{
	if (!sh->leased || !lfs_keyring_is_unlocked(kr))
		return 0;
	pthread_mutex_lock(&sh->lock);
	struct scan sc = {.sh = sh, .kr = kr, .force = force};
	if (sh->shared) {
		/* lethefs.journal belongs to exclusive mounts and offline
		 * commands, none of which runs beside a shared lease. */
		if ((!sh->excl_clean || force) &&
		    lfs_lease_role_wait(&sh->lease, LFS_LEASE_EXCL_JOURNAL) == 0) {
			int r = recover_journal(sh, kr, LFS_JOURNAL_FILE_NAME);
			lfs_lease_role_drop(&sh->lease, LFS_LEASE_EXCL_JOURNAL);
			if (r >= 0) {
				sc.applied += r;
				sh->excl_clean = true;
			}
		}
	}
	/* An exclusive mount also owns the journal this host name used when
	 * it last mounted shared (its record is locked by this very mount). */
	if (!sh->shared && !sh->excl_clean) {
		char own[128];
		snprintf(own, sizeof(own), "%s.%s", LFS_JOURNAL_FILE_NAME, sh->lease.me.host);
		int r = recover_journal(sh, kr, own);
		if (r >= 0) {
			sc.applied += r;
			sh->excl_clean = true;
		}
	}
	/* Hosts' journals: in shared mode those whose lease lapsed; an
	 * exclusive mount has every other one lapsed. */
	lfs_hosts_list(sh->vault->dirfd, visit_host, &sc);
	sh->last_scan = (int64_t)time(NULL);
	pthread_mutex_unlock(&sh->lock);
	return sc.applied;
}

void lfs_shared_note_epoch(struct lfs_shared *sh, struct lfs_keyring *kr)
{
	if (!sh->leased)
		return;
	uint32_t ep[LFS_MAX_EPOCHS], cur = 0;
	if (lfs_keyring_epochs(kr, ep, LFS_MAX_EPOCHS, &cur) <= 0)
		cur = 0;
	/* A rename or link that began before this host knew of a rotation
	 * is not told to the walker (fs/ops_link.c): the walker counts only
	 * once every host names the new epoch, so that epoch waits for them
	 * to end (the tick tries again a second later). */
	if (cur != 0 && cur != sh->lease.me.epoch && sh->fs &&
	    atomic_load(&sh->fs->moves_untold) > 0)
		return;
	int r = lfs_lease_set_epoch(&sh->lease, cur);
	if (r < 0)
		lfs_warn("cannot update this host's record: %s", strerror(-r));
}

void lfs_shared_tick(struct lfs_shared *sh, struct lfs_keyring *kr)
{
	if (!sh->leased)
		return;
	if (sh->shared && lfs_keyring_is_unlocked(kr))
		lfs_shared_refresh_keys(sh);
	lfs_shared_note_epoch(sh, kr);
	if (sh->shared && (int64_t)time(NULL) - sh->last_scan >= SCAN_INTERVAL)
		lfs_shared_recover_others(sh, kr, false);
}

int lfs_shared_status_json(struct lfs_shared *sh, char *buf, size_t len, size_t *used)
{
	const struct lfs_backing *b = &sh->backing;
	const char *missing[] = {
	    b->rename_noreplace ? NULL : "rename_noreplace",
	    b->rename_exchange ? NULL : "rename_exchange",
	    b->o_tmpfile ? NULL : "o_tmpfile",
	    b->handles_persistent ? NULL : "file_handles",
	    b->fallocate ? NULL : "fallocate",
	    b->user_xattrs ? NULL : "user_xattrs",
	    b->range_locks ? NULL : "byte_range_locks",
	    b->flock ? NULL : "flock",
	    b->hard_links ? NULL : "hard_links",
	};
	int n = snprintf(buf + *used, len - *used,
	                 ",\"shared\":%s,\"host\":\"%s\",\"backing_filesystem\":",
	                 sh->shared ? "true" : "false", sh->leased ? sh->lease.me.host : "");
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	if (lfs_json_put_string(buf, len, used, b->fstype) < 0)
		return -1;
	/* The control protocol's objects are flat: a comma-separated list. */
	n = snprintf(buf + *used, len - *used, ",\"backing_missing\":\"");
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	bool first = true;
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		if (!missing[i])
			continue;
		n = snprintf(buf + *used, len - *used, "%s%s", first ? "" : ",", missing[i]);
		if (n < 0 || (size_t)n >= len - *used)
			return -1;
		*used += (size_t)n;
		first = false;
	}
	if (*used + 2 > len)
		return -1;
	buf[(*used)++] = '"';
	buf[*used] = '\0';
	return 0;
}
