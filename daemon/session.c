/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "session.h"
#include "../rotation/upconvert.h"
#include "notify.h"
#include "recover.h"
#include "../common/log.h"
#include "../fs/gate.h"
#include "../staging/stage.h"
#include "../audit/audit_keyring.h"
#include "../keymgmt/slot_labels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

/* Covers lfs_fs_lockdown's deepest chain plus library frames: checked by
 * scripts/stack-depth.py (make stack). */
#define LOCKDOWN_STACK_WIPE (32 * 1024)

void lfs_session_init(struct lfs_session *s, struct lfs_vault *v, struct lfs_fs *fs,
                      const char *mountpoint, const char *socket_path)
{
	memset(s, 0, sizeof(*s));
	s->vault = v;
	s->fs = fs;
	s->kr = fs->kr;
	s->mountpoint = mountpoint;
	s->socket_path = socket_path;
	pthread_mutex_init(&s->state_lock, NULL);
	pthread_mutex_init(&s->unlock_lock, NULL);
	s->mounted_since = time(NULL);
	s->idle_lock_seconds = v->cfg.idle_lock_seconds;
	s->audit_key = sodium_malloc(32); /* NULL: entries while locked go unkeyed */
	atomic_store(&fs->access, LFS_ACCESS_LOCKED);
}

void lfs_session_destroy(struct lfs_session *s)
{
	atomic_store(&s->have_audit_key, false);
	sodium_free(s->audit_key); /* wipes */
	s->audit_key = NULL;
	pthread_mutex_destroy(&s->state_lock);
	pthread_mutex_destroy(&s->unlock_lock);
}

void lfs_session_audit(struct lfs_session *s, const char *event, const char *outcome,
                       const struct lfs_audit_caller *caller,
                       const struct lfs_audit_detail *details, size_t ndetails)
{
	if (!s->audit)
		return;
	int r = atomic_load(&s->have_audit_key)
	            ? lfs_audit_append(s->audit, s->audit_key, event, outcome, caller, details,
	                               ndetails)
	            : lfs_audit_event(s->audit, s->kr, event, outcome, caller, details, ndetails);
	if (r < 0)
		lfs_err("cannot record %s/%s in the audit log: %s", event, outcome, strerror(-r));
}

/* Finishes or undoes what a crash interrupted, before any request can see
 * it half done (daemon/recover.h). Runs with the keys in place and the
 * gate still closed. */
static void recover(struct lfs_session *s, const struct lfs_audit_caller *caller)
{
	struct lfs_recovery rc = {.journal = s->fs->journal,
	                          .kr = s->kr,
	                          .layout = &s->fs->layout,
	                          .data_dirfd = s->fs->root.fd,
	                          .handle_mount_fd = s->fs->handle_mount_fd};
	rc.lock_targets = s->cluster && s->cluster->shared;
	/* Block images first, this host's and then those of the journals of
	 * hosts whose lease lapsed (or of earlier mounts: each journal puts
	 * its own images first), then this host's other records. */
	rc.images_only = s->cluster != NULL;
	int r = rc.images_only ? lfs_recover(&rc) : 0;
	struct lfs_recovery first = rc; /* lfs_recover resets the counts */
	if (s->cluster)
		lfs_shared_recover_others(s->cluster, s->kr, true);
	rc.images_only = false;
	if (r == 0)
		r = lfs_recover(&rc);
	rc.completed += first.completed;
	rc.failed += first.failed;
	rc.repaired += first.repaired;
	rc.lost += first.lost;
	if (r < 0)
		lfs_err("recovery: cannot read the journal: %s", strerror(-r));
	/* What the daemon cached of the files recovery changed (and the
	 * marks of updates it finished) is stale now; a conversion's
	 * temporary file that no record needs any more goes. */
	if (r == 0 && rc.failed == 0) {
		lfs_fs_forget_cached_metadata(s->fs);
		lfs_up_sweep_temps(s->fs->root.fd);
	}
	/* An upgrade cut short after its keyring was written (the keyring
	 * says format 2, lethefs.conf still 1): the config follows. */
	if (s->vault->format_stale) {
		int e = lfs_vault_store_format(s->vault);
		if (e < 0)
			lfs_warn(
			    "the keyring is of format 2 but lethefs.conf says 1, and it could not "
			    "be corrected: %s",
			    strerror(-e));
		else
			lfs_info("lethefs.conf now says format 2, as the keyring does");
	}
	if (r < 0 || rc.completed || rc.rolled_back || rc.failed || rc.rejected) {
		struct lfs_audit_detail d[] = {{"completed", NULL, rc.completed},
		                               {"undone", NULL, rc.rolled_back},
		                               {"failed", NULL, rc.failed},
		                               {"rejected", NULL, rc.rejected}};
		lfs_session_audit(s, "recover", r < 0 || rc.failed ? "failure" : "success", caller,
		                  d, 4);
	}
}

/* Takes the audit key from the freshly unlocked keyring, once: the key
 * never changes for a vault (rekey keeps it), and appends read it without
 * a lock once have_audit_key is set. */
static void keep_audit_key(struct lfs_session *s)
{
	if (!s->audit_key || atomic_load(&s->have_audit_key))
		return;
	if (lfs_audit_key_from(s->kr, s->audit_key) == 0)
		atomic_store(&s->have_audit_key, true);
	else
		sodium_memzero(s->audit_key, 32);
}

void lfs_session_unlocked_at_mount(struct lfs_session *s)
{
	pthread_mutex_lock(&s->state_lock);
	keep_audit_key(s);
	s->unlocked_since = time(NULL);
	recover(s, NULL);
	if (s->rotation)
		lfs_rotation_recover(s->rotation);
	if (s->cluster)
		lfs_shared_note_epoch(s->cluster, s->kr);
	lfs_fs_open_gate(s->fs);
	pthread_mutex_unlock(&s->state_lock);
}

/* The verified label of the slot that opened (keymgmt/slot_labels.h),
 * "" when it has none or its record does not authenticate. */
static void slot_label(struct lfs_session *s, int slot, char out[LFS_LABEL_MAX + 1])
{
	uint8_t key[32];
	struct lfs_slot_labels *l = malloc(sizeof(*l));
	out[0] = '\0';
	if (!l || slot < 0 || !atomic_load(&s->have_audit_key)) {
		free(l);
		return;
	}
	lfs_labels_key(key, s->audit_key);
	int r = lfs_labels_load(s->vault->dirfd, s->vault->cfg.uuid, key, l);
	sodium_memzero(key, sizeof(key));
	const struct lfs_slot_label *found =
	    r == 0 ? lfs_labels_find(l, &s->vault->slots, slot, true) : NULL;
	if (r < 0)
		lfs_warn("cannot read %s: %s", LFS_LABELS_FILE_NAME,
		         r == -EINVAL ? "malformed" : strerror(-r));
	if (found)
		memcpy(out, found->text, strlen(found->text) + 1);
	free(l);
}

static void describe(const struct lfs_audit_caller *c, char *out, size_t len)
{
	if (c && c->known)
		snprintf(out, len, "uid %u pid %d (%s)", (unsigned)c->uid, (int)c->pid,
		         c->exe[0] ? c->exe : "?");
	else
		snprintf(out, len, "the daemon");
}

static unsigned delay_for(unsigned failures)
{
	unsigned d = 1;
	for (unsigned i = 1; i < failures && d < LFS_UNLOCK_DELAY_MAX; i++)
		d *= 2;
	return d < LFS_UNLOCK_DELAY_MAX ? d : LFS_UNLOCK_DELAY_MAX;
}

static int try_secret(struct lfs_session *s, enum lfs_ctl_secret_kind kind, const void *secret,
                      size_t len, struct lfs_keyring *fresh, int *slot)
{
	/* Slots may have been added or removed since the mount. */
	int r = lfs_vault_reload_slots(s->vault);
	if (r < 0)
		return r;
	if (kind == LFS_CTL_MASTER) {
		if (len != LFS_MASTER_KEY_LEN)
			return -EKEYREJECTED;
		*slot = -1;
		return lfs_vault_unlock_master(s->vault, secret, fresh);
	}
	return lfs_vault_unlock(s->vault, secret, len, fresh, slot);
}

int lfs_session_unlock(struct lfs_session *s, enum lfs_ctl_secret_kind kind, const void *secret,
                       size_t len, const struct lfs_audit_caller *caller, int *slot)
{
	char who[320];
	describe(caller, who, sizeof(who));
	pthread_mutex_lock(&s->unlock_lock);
	if (lfs_keyring_is_unlocked(s->kr)) {
		pthread_mutex_unlock(&s->unlock_lock);
		return -EALREADY;
	}
	struct lfs_keyring fresh;
	int r = try_secret(s, kind, secret, len, &fresh, slot);
	if (r == 0) {
		pthread_mutex_lock(&s->state_lock);
		r = lfs_keyring_take(s->kr, &fresh);
		if (r == 0) {
			keep_audit_key(s);
			/* Staging keys before the gate opens: nothing below a
			 * staging directory may be seen without its key. */
			if (s->staging)
				lfs_staging_load_keys(s->staging);
			s->unlocked_since = time(NULL);
			s->failures = 0;
			/* Idle time counts from the unlock, not from the last file
			 * operation before it. */
			lfs_fs_touch(s->fs);
			/* A file whose rotation a crash interrupted is finished
			 * before any request can see it half converted. */
			recover(s, caller);
			if (s->rotation)
				lfs_rotation_recover(s->rotation);
			/* Before anything is created: a shared rotation reads
			 * the epoch of every host from its record. */
			if (s->cluster)
				lfs_shared_note_epoch(s->cluster, s->kr);
			lfs_fs_open_gate(s->fs);
		}
		pthread_mutex_unlock(&s->state_lock);
		if (r == 0) {
			lfs_notify_state(s->mountpoint, false);
			char label[LFS_LABEL_MAX + 1];
			slot_label(s, *slot, label);
			lfs_info("unlocked by %s (slot %d)", who, *slot);
			struct lfs_audit_detail d[] = {
			    {"mountpoint", s->mountpoint, 0},
			    {*slot < 0 ? "recovery_key" : "slot", NULL, *slot < 0 ? 1 : *slot},
			    {"label", label, 0}};
			lfs_session_audit(s, "unlock", "success", caller, d, label[0] ? 3 : 2);
		}
	}
	lfs_keyring_destroy(&fresh);
	if (r == -EKEYREJECTED) {
		unsigned delay = delay_for(++s->failures);
		lfs_warn("failed unlock #%u by %s: wrong secret; next answer in %u s", s->failures,
		         who, delay);
		struct lfs_audit_detail d[] = {{"mountpoint", s->mountpoint, 0},
		                               {"error", "wrong secret", 0},
		                               {"failures", NULL, s->failures},
		                               {"delay_seconds", NULL, delay}};
		lfs_session_audit(s, "unlock", "failure", caller, d, 4);
		/* Served while holding unlock_lock: concurrent guesses queue
		 * behind it, so the rate is bounded whatever the clients do. */
		sleep(delay);
	} else if (r < 0 && r != -EALREADY) {
		lfs_warn("unlock by %s failed: %s", who, strerror(-r));
		struct lfs_audit_detail d[] = {{"mountpoint", s->mountpoint, 0},
		                               {"error", strerror(-r), 0}};
		lfs_session_audit(s, "unlock", "failure", caller, d, 2);
	}
	pthread_mutex_unlock(&s->unlock_lock);
	return r;
}

int lfs_session_lock(struct lfs_session *s, bool force, const char *reason,
                     const struct lfs_audit_caller *caller)
{
	char who[320];
	describe(caller, who, sizeof(who));
	pthread_mutex_lock(&s->state_lock);
	if (atomic_load(&s->fs->access) == LFS_ACCESS_LOCKED && !lfs_keyring_is_unlocked(s->kr)) {
		pthread_mutex_unlock(&s->state_lock);
		return -EALREADY;
	}
	long files = atomic_load(&s->fs->open_files), dirs = atomic_load(&s->fs->open_dirs);
	if (!force && files + dirs > 0) {
		pthread_mutex_unlock(&s->state_lock);
		return -EBUSY;
	}
	long dropped = lfs_fs_lockdown(s->fs);
	/* Dropping cached names decrypted them on this stack. */
	sodium_stackzero(LOCKDOWN_STACK_WIPE);
	/* The keys are gone; a rotation pass stops within one object or
	 * 1 MiB chunk. Waited for under state_lock: no unlock (whose recovery
	 * finishes the file the worker left under its record) may start
	 * while the worker still holds that file or its derived keys. */
	if (s->rotation)
		lfs_rotation_quiesce(s->rotation);
	s->unlocked_since = 0;
	if (s->cluster)
		lfs_shared_note_epoch(s->cluster, s->kr);
	pthread_mutex_unlock(&s->state_lock);
	lfs_notify_state(s->mountpoint, true);
	struct lfs_audit_detail d[] = {{"mountpoint", s->mountpoint, 0},
	                               {"reason", reason, 0},
	                               {"revoked_files", NULL, files},
	                               {"revoked_dirs", NULL, dirs}};
	/* Written once the keys are gone, keyed with the audit key the
	 * session keeps. */
	lfs_session_audit(s, "lock", "success", caller, d, 4);
	lfs_info("locked (%s) by %s: %ld open files and %ld directories revoked, caches of %ld "
	         "inodes dropped",
	         reason, who, files, dirs, dropped);
	return 0;
}

static void emit_to_log(void *ctx, const char *event, const char *outcome,
                        const struct lfs_audit_caller *caller,
                        const struct lfs_audit_detail *details, size_t ndetails)
{
	lfs_session_audit(ctx, event, outcome, caller, details, ndetails);
}

struct lfs_event_sink lfs_session_events(struct lfs_session *s)
{
	return (struct lfs_event_sink){.emit = emit_to_log, .ctx = s};
}

void lfs_session_set_staging(struct lfs_session *s, struct lfs_staging *st)
{
	s->staging = st;
	st->events = lfs_session_events(s);
}

void lfs_session_tick(struct lfs_session *s)
{
	if (s->cluster)
		lfs_shared_tick(s->cluster, s->kr);
	/* Shared: other hosts' staging changes, and the expiry role when the
	 * host that held it ended (its lock lapsed). */
	if (s->staging && s->staging->lease) {
		lfs_staging_take_expiry(s->staging);
		lfs_staging_poll(s->staging);
	}
	/* Expiry does not wait for an unlock: destroying a key needs none. */
	if (s->staging)
		lfs_staging_tick(s->staging);
	if (!s->idle_lock_seconds || atomic_load(&s->fs->access) != LFS_ACCESS_UNLOCKED)
		return;
	if (lfs_fs_idle_seconds(s->fs) < (int64_t)s->idle_lock_seconds)
		return;
	/* An open file is in use even when it is quiet (a database, a log
	 * being tailed): revoking it would lose data, so wait. */
	if (atomic_load(&s->fs->open_files) + atomic_load(&s->fs->open_dirs) > 0)
		return;
	lfs_session_lock(s, false, "idle", NULL);
}

static void iso_time(time_t t, char *out, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int lfs_session_status_json(struct lfs_session *s, char *buf, size_t len)
{
	char uuid[33], since[32], unlocked[40] = "null";
	sodium_bin2hex(uuid, sizeof(uuid), s->vault->cfg.uuid, 16);
	iso_time(s->mounted_since, since, sizeof(since));
	pthread_mutex_lock(&s->state_lock);
	bool is_unlocked = atomic_load(&s->fs->access) == LFS_ACCESS_UNLOCKED;
	if (s->unlocked_since) {
		char t[32];
		iso_time(s->unlocked_since, t, sizeof(t));
		snprintf(unlocked, sizeof(unlocked), "\"%s\"", t);
	}
	unsigned failures = s->failures;
	pthread_mutex_unlock(&s->state_lock);
	size_t used = 0;
	int n =
	    snprintf(buf, len, "\"state\":\"%s\",\"vault\":", is_unlocked ? "unlocked" : "locked");
	if (n < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	if (lfs_json_put_string(buf, len, &used, s->vault->path) < 0)
		return -1;
	n = snprintf(buf + used, len - used, ",\"mountpoint\":");
	if (n < 0 || (size_t)n >= len - used)
		return -1;
	used += (size_t)n;
	if (lfs_json_put_string(buf, len, &used, s->mountpoint) < 0)
		return -1;
	n = snprintf(buf + used, len - used, ",\"control_socket\":");
	if (n < 0 || (size_t)n >= len - used)
		return -1;
	used += (size_t)n;
	if (lfs_json_put_string(buf, len, &used, s->socket_path) < 0)
		return -1;
	n = snprintf(buf + used, len - used,
	             ",\"uuid\":\"%s\",\"cipher\":\"%s\",\"pid\":%d,\"mounted_since\":\"%s\","
	             "\"unlocked_since\":%s,\"open_files\":%ld,\"open_dirs\":%ld,"
	             "\"idle_seconds\":%lld,\"idle_lock_seconds\":%llu,\"failed_unlocks\":%u,"
	             "\"unlock_delay_seconds\":%u,\"inodes_cached\":%zu",
	             uuid, lfs_cipher_name(s->vault->cfg.cipher), (int)getpid(), since, unlocked,
	             atomic_load(&s->fs->open_files), atomic_load(&s->fs->open_dirs),
	             (long long)lfs_fs_idle_seconds(s->fs),
	             (unsigned long long)s->idle_lock_seconds, failures, delay_for(failures + 1),
	             lfs_fs_inodes_cached(s->fs));
	if (n < 0 || (size_t)n >= len - used)
		return -1;
	used += (size_t)n;
	/* The audit log's last entry, for monitoring (null: head unreadable). */
	uint64_t seq;
	char seqs[24] = "null";
	if (s->audit && lfs_audit_last_seq(s->audit, &seq) == 0)
		snprintf(seqs, sizeof(seqs), "%llu", (unsigned long long)seq);
	n = snprintf(buf + used, len - used, ",\"audit_seq\":%s", seqs);
	if (n < 0 || (size_t)n >= len - used)
		return -1;
	used += (size_t)n;
	if (lfs_op_counters_json(&s->fs->requests, buf, len, &used) < 0)
		return -1;
	if (s->rotation && lfs_rotation_status_json(s->rotation, buf, len, &used) < 0)
		return -1;
	if (s->staging) {
		/* Staging directories, and those whose key could not be loaded
		 * (served as EIO until they expire: docs/STAGING.md). */
		struct lfs_staging_summary sum;
		char next[40] = "null";
		lfs_staging_summary(s->staging, &sum);
		if (sum.count) {
			char t[32];
			iso_time((time_t)sum.next_expiry, t, sizeof(t));
			snprintf(next, sizeof(next), "\"%s\"", t);
		}
		n = snprintf(
		    buf + used, len - used,
		    ",\"staging_count\":%u,\"staging_damaged\":%u,\"staging_next_expiry\":%s",
		    sum.count, sum.damaged, next);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	if (s->cluster && lfs_shared_status_json(s->cluster, buf, len, &used) < 0)
		return -1;
	return (int)used;
}
