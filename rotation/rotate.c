/* SPDX-License-Identifier: Apache-2.0 */
/* The rotation worker (rotate.h, docs/ROTATION.md): requests, the
 * background thread and its passes over the tree, and the retirement of
 * the older epochs once nothing is left under them. */
#define _GNU_SOURCE
#include "rotate.h"
#include "walk.h"
#include "../fs/longlink.h"
#include "../fs/tree.h"
#include "../common/log.h"
#include "../common/monotonic.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

/* A pass decrypts names, symlink targets and xattrs and derives file keys
 * on this thread's stack; the stack below the loop is wiped after every
 * pass. It must reach the deepest frame a pass can leave: the tree walk is
 * iterative (walk.c: its stack is on the heap), so that is one file's or
 * directory's conversion (convert_file, refile: about 17 KiB) below the
 * walk, plus library frames; scripts/stack-depth.py (make stack) checks it
 * against the compiler's numbers at every build. */
#define ROTATION_STACK_WIPE (64 * 1024)

int lfs_rotation_request(struct lfs_rotation *r, uint32_t *epoch,
                         const struct lfs_audit_caller *caller)
{
	/* Shared: under the key file lock, with what other hosts wrote merged
	 * (one of them may have started a rotation already). */
	int kerr = 0, keyfd = lfs_rot_keyfile_begin(r, &kerr);
	if (kerr < 0)
		return kerr;
	pthread_mutex_lock(&r->lock);
	lfs_rot_refresh_epochs(r);
	int e = 0;
	if (!lfs_keyring_is_unlocked(r->env.kr))
		e = -EACCES;
	else if (r->state == LFS_ROT_RUNNING)
		e = -EBUSY;
	uint32_t prev = r->target, ne = 0;
	/* A rotation that has not finished (several data epochs: failed,
	 * paused or interrupted) is resumed toward its target, never given yet
	 * another epoch: retries must not fill the keyring. */
	if (e == 0 && r->nold > 0) {
		*epoch = r->target;
		/* Held by a full disk: the "paused" entry may not have found
		 * room in the audit log either, so the resumption says what it
		 * ends. */
		int held = r->state == LFS_ROT_HELD ? r->pause_err : 0;
		r->state = LFS_ROT_RUNNING;
		r->pause_err = 0;
		r->failing_passes = 0;
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		lfs_rot_keyfile_end(keyfd);
		lfs_info("rotation toward epoch %u resumed", r->target);
		lfs_rot_audit_reason(r, "resumed", "paused_reason",
		                     !held            ? NULL
		                     : held == EDQUOT ? "quota"
		                                      : "no-space");
		return 0;
	}
	if (e == 0 && (e = lfs_keyring_add_epoch(r->env.kr, &ne)) == -ENOSPC)
		e = -E2BIG; /* no room in the keyring, not on the disk */
	else if (e == 0) {
		/* On disk before anything is encrypted under it: a crash must
		 * never leave data under a key that exists nowhere else. The
		 * keyring's write lock (inside add_epoch) already made every
		 * new header wait; until the store succeeds, undo on failure. */
		if ((e = lfs_rot_store_keyring(r)) < 0) {
			lfs_keyring_set_current(r->env.kr, prev);
			lfs_keyring_drop_epoch(r->env.kr, ne);
		}
	}
	/* The new epoch is of format 2: a format-1 vault is of format 2 from
	 * now on (its keyring says so); its config follows. */
	if (e == 0 && r->env.vault->cfg.format == 1 && lfs_keyring_format(r->env.kr) == 2) {
		r->env.vault->cfg.format = 2;
		int c = lfs_vault_store_format(r->env.vault);
		if (c < 0)
			lfs_warn(
			    "rotation: the vault is of format 2 now but lethefs.conf could not "
			    "say so (%s); the next mount writes it",
			    strerror(-c));
		else
			lfs_info("rotation: the vault is upgraded to format 2 as objects are "
			         "re-encrypted");
	}
	if (e == 0) {
		*epoch = ne;
		r->started = time(NULL);
		r->completed = 0;
		r->files_done = r->bytes_done = r->files_total = r->bytes_total = 0;
		r->dirs_done = r->links_done = r->xattrs_done = r->errors = r->passes = 0;
		r->pause_err = 0;
		r->failing_passes = 0;
		r->active_seconds = 0;
		r->state = LFS_ROT_IDLE;
		lfs_rot_refresh_epochs(r);
		lfs_rot_store_state(r);
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	lfs_rot_keyfile_end(keyfd);
	if (e == 0) {
		lfs_info("rotation started: new data-key epoch %u", ne);
		lfs_rot_audit_started(r, caller, ne, prev);
	}
	return e;
}

/* Retires every epoch but the target: removed from the keyring file
 * first (a crash leaves it on disk and the next pass retires it again),
 * then wiped in memory. Returns how many could not be retired. */
static unsigned retire(struct lfs_rotation *r)
{
	unsigned failed = 0;
	int kerr = 0, keyfd = lfs_rot_keyfile_begin(r, &kerr);
	if (kerr < 0) {
		lfs_err("rotation: cannot lock the key files to retire epochs: %s",
		        strerror(-kerr));
		return 1;
	}
	uint32_t ep[LFS_MAX_EPOCHS], cur = 0;
	int n = lfs_keyring_epochs(r->env.kr, ep, LFS_MAX_EPOCHS, &cur);
	for (int i = 0; i < n; i++) {
		if (ep[i] == cur)
			continue;
		int e = lfs_keyring_drop_epoch(r->env.kr, ep[i]);
		if (e == 0)
			e = lfs_rot_store_keyring(r);
		if (e < 0) {
			failed++;
			if (lfs_keyring_is_unlocked(r->env.kr))
				lfs_err("rotation: cannot retire epoch %u: %s", ep[i],
				        strerror(-e));
			continue;
		}
		lfs_info("rotation: epoch %u destroyed", ep[i]);
		lfs_rot_audit(r, "epoch-destroyed", "epoch", ep[i], "current_epoch", cur);
		pthread_mutex_lock(&r->lock);
		r->last_retired = ep[i];
		pthread_mutex_unlock(&r->lock);
	}
	/* Only the current epoch is left: of format 2, no format-1 symlink
	 * is left, and a sidecar of the link store that a crash kept (between
	 * a long symlink's conversion and its sidecar's removal) serves none. */
	n = lfs_keyring_epochs(r->env.kr, ep, LFS_MAX_EPOCHS, &cur);
	int tfd = n == 1 && lfs_keyring_format(r->env.kr) == 2 ? lfs_tree_fd(r->env.fs, 0) : -1;
	if (tfd >= 0) {
		lfs_link_sweep_store(tfd);
		close(tfd);
	}
	lfs_rot_keyfile_end(keyfd);
	return failed;
}

/* A pass a lock (or the unmount) interrupted: said once, not an error. */
static void paused(struct lfs_rotation *r)
{
	if (!atomic_load(&r->stop))
		lfs_info("rotation paused by a lock: it resumes at the next unlock");
}

/* Converting passes in a row that may each fail on something before the
 * rotation stops as failed: objects that fail now may convert at the next
 * pass (a file busy, an error gone), but a fault that stays must not keep
 * the worker busy, pass after pass, for ever. */
#define MAX_FAILING_PASSES 3

/* The backing store has no room (ENOSPC, EDQUOT): every object that needs
 * some would fail the same way, so the rotation is held, not retried. What
 * was half done is settled (convert_file.c, convert_dir.c); every object
 * stays readable under its epoch, and lethefs rotate (or a remount) resumes
 * once there is room. */
static void hold(struct lfs_rotation *r, int err)
{
	pthread_mutex_lock(&r->lock);
	/* Not when a lock paused it meanwhile (the unlock resumes it). */
	bool now = r->state == LFS_ROT_RUNNING;
	if (now) {
		r->state = LFS_ROT_HELD;
		r->pause_err = err;
	}
	pthread_mutex_unlock(&r->lock);
	if (!now)
		return;
	lfs_err("rotation paused: %s on the backing store; free space and run 'lethefs rotate "
	        "%s' to resume",
	        err == EDQUOT ? "disk quota exceeded" : "no space left on device",
	        r->env.mountpoint ? r->env.mountpoint : "MOUNTPOINT");
	lfs_rot_audit_reason(r, "paused", "reason", err == EDQUOT ? "quota" : "no-space");
}

/* The converting walk of a pass: every object under an older epoch is
 * converted as it is found (no count first: the totals grow as the walk
 * finds files). Returns false when a lock, the unmount, a full disk or
 * failures stopped it. */
static bool convert_walk(struct lfs_rotation *r, struct walk *w)
{
	pthread_mutex_lock(&r->lock);
	r->files_total = r->files_done;
	r->bytes_total = r->bytes_done;
	uint64_t errors_before = r->errors;
	pthread_mutex_unlock(&r->lock);
	lfs_rot_store_progress(r, true);
	w->count_only = false;
	double t0 = lfs_monotonic_seconds();
	pthread_mutex_lock(&r->lock);
	r->pass_start = t0;
	pthread_mutex_unlock(&r->lock);
	lfs_rot_walk(w);
	int nospace = w->nospace;
	w->nospace = 0; /* to tell a lock from it below */
	bool interrupted = !lfs_rot_keep_going(w);
	if (interrupted)
		paused(r);
	pthread_mutex_lock(&r->lock);
	r->active_seconds += lfs_monotonic_seconds() - t0;
	r->pass_start = 0;
	bool failing = r->errors > errors_before;
	r->failing_passes = failing ? r->failing_passes + 1 : 0;
	/* A pass that converted nothing and failed on something will fail
	 * the same way again, and so, most likely, will the fault that failed
	 * a few passes in a row: stop and say so. */
	if (!interrupted && !nospace && failing &&
	    (r->errors - errors_before >= w->found || r->failing_passes >= MAX_FAILING_PASSES) &&
	    r->state == LFS_ROT_RUNNING)
		r->state = LFS_ROT_FAILED;
	pthread_mutex_unlock(&r->lock);
	if (!interrupted && nospace)
		hold(r, nospace);
	if (r->state == LFS_ROT_FAILED)
		lfs_rot_audit(r, "failure", "epoch", r->target, "errors", (long long)r->errors);
	lfs_rot_store_progress(r, true);
	return !interrupted && r->state == LFS_ROT_RUNNING;
}

/* A pass: a converting walk, then a counting one, which retires the older
 * epochs when it finds nothing left under them (else the next pass
 * converts what it found). The converting walk cannot prove that nothing
 * is left by itself: an object renamed from a directory it had not
 * reached yet into one it had passed is found only by another walk. */
static void walk_twice(struct lfs_rotation *r, struct lfs_rot_xbuf *x)
{
	struct walk w = {
	    .r = r, .fs = r->env.fs, .x = x, .lock_gen = atomic_load(&r->env.fs->lock_gen)};
	/* Shared: hosts that still create objects under an older epoch would
	 * leave some behind a converted directory, or after the retirement.
	 * So both wait until every unlocked host has moved, checked before
	 * the converting walk and before and after the counting one. */
	if (!lfs_rot_hosts_ready(r)) {
		sleep(1); /* the next pass looks again */
		return;
	}
	if (!convert_walk(r, &w))
		return;
	bool ready = lfs_rot_hosts_ready(r);
	w.count_only = true;
	w.found = w.errors = w.files = w.bytes = 0;
	/* A name moved while the count runs (a rename or a link, from a part
	 * it has not reached into one it has passed) may hide an object
	 * under an old epoch from both walks: only a count during which none
	 * began, none ended and none was under way proves nothing is left. */
	/* After two counts voided so, renames and links wait for the next
	 * one (a workload that renames all the time would keep the older
	 * epochs forever); those under way end first. */
	struct lfs_fs *fs = r->env.fs;
	bool barrier = r->moved_counts >= 2, xbarrier = false;
	if (barrier) {
		lfs_info("rotation: names keep moving while the tree is counted; renames and "
		         "links wait until the next count is over");
		atomic_store(&fs->moves_barrier, true);
		while (atomic_load(&fs->moves_begun) != atomic_load(&fs->moves_ended))
			usleep(1000);
		/* Shared: on every host (this one's have ended above). */
		xbarrier = lfs_rot_xmoves_barrier(r);
	}
	/* Shared: other hosts' renames and links (cluster/moves.h): their
	 * counts, then whether one is under way; after the count the other
	 * way round. */
	struct lfs_xmoves_view xb, xa = {0};
	int xe = lfs_rot_xmoves_look(r, false, &xb);
	uint64_t begun = atomic_load(&fs->moves_begun), ended = atomic_load(&fs->moves_ended);
	lfs_rot_walk(&w);
	uint64_t begun_after = atomic_load(&fs->moves_begun);
	bool moved =
	    begun_after != begun || atomic_load(&fs->moves_ended) != ended || begun_after != ended;
	if (xe == 0)
		xe = lfs_rot_xmoves_look(r, true, &xa);
	if (xbarrier)
		lfs_rot_xmoves_barrier_end(r);
	if (barrier)
		atomic_store(&fs->moves_barrier, false);
	bool xmoved = xe < 0 || xb.busy || xa.busy || xb.digest != xa.digest ||
	              xb.hosts != xa.hosts || xb.silent[0] || xa.silent[0];
	/* (Once a minute: every pass says it again.) */
	bool warn =
	    (xe < 0 || xb.silent[0] || xa.silent[0]) && lfs_monotonic_seconds() - r->xwarned > 60;
	if (warn)
		r->xwarned = lfs_monotonic_seconds();
	if (warn && xe < 0)
		lfs_warn("rotation: cannot read the other hosts' records: %s", strerror(-xe));
	else if (warn)
		lfs_warn("rotation: host %s does not tell when names move there (an older "
		         "lethefs?): the older epochs are kept while it runs",
		         xb.silent[0] ? xb.silent : xa.silent);
	moved = moved || xmoved;
	r->moved_counts = moved ? r->moved_counts + 1 : 0;
	/* Stopped, or a lock came while it counted: what it found is void
	 * (objects met without keys were skipped, not counted), so nothing may
	 * be retired on its word. Paused; the next pass starts over. */
	if (!lfs_rot_keep_going(&w)) {
		paused(r);
		return;
	}
	pthread_mutex_lock(&r->lock);
	/* Totals: what is left now plus what this rotation already did. */
	r->files_total = r->files_done + w.files;
	r->bytes_total = r->bytes_done + w.bytes;
	r->passes++;
	pthread_mutex_unlock(&r->lock);
	/* Fail-closed: the older epochs go only after a pass that read every
	 * object and found none under them. An object it could not read may
	 * be under an old key: destroying that key would lose it. */
	if (w.found == 0 && w.errors > 0) {
		pthread_mutex_lock(&r->lock);
		r->state = LFS_ROT_FAILED;
		pthread_mutex_unlock(&r->lock);
		lfs_err("rotation: %llu object(s) could not be read: the older epochs are kept "
		        "(see the log and 'lethefs fsck'; 'lethefs rotate' retries)",
		        (unsigned long long)w.errors);
		lfs_rot_audit(r, "failure", "epoch", r->target, "unreadable", (long long)w.errors);
		return;
	}
	if (w.found > 0 || !(ready && lfs_rot_hosts_ready(r)))
		return; /* the next pass converts what is left */
	if (moved) {
		lfs_info("rotation: names moved while the tree was counted; counting again "
		         "before the older epochs go");
		return;
	}
	/* A lock in the middle leaves the rest on the keyring (whose file no
	 * longer names what was retired): the next pass after the unlock
	 * counts again and retires it. */
	if (retire(r) > 0 && !lfs_rot_keep_going(&w)) {
		paused(r);
		return;
	}
	pthread_mutex_lock(&r->lock);
	r->completed = time(NULL);
	r->state = LFS_ROT_IDLE;
	lfs_rot_refresh_epochs(r);
	pthread_mutex_unlock(&r->lock);
	if (unlinkat(r->env.vault->dirfd, LFS_ROTATION_FILE, 0) < 0 && errno != ENOENT)
		lfs_warn("rotation: cannot remove %s: %s", LFS_ROTATION_FILE, strerror(errno));
	lfs_info("rotation completed: every object is under epoch %u", r->target);
	lfs_rot_audit(r, "completed", "epoch", r->target, "files", (long long)r->files_done);
}

static void run_pass(struct lfs_rotation *r)
{
	struct lfs_rot_xbuf *x = sodium_malloc(sizeof(*x));
	if (!x) {
		lfs_warn("rotation: out of memory for a pass; trying again in a second");
		sleep(1);
		return;
	}
	walk_twice(r, x);
	sodium_free(x); /* wipes */
}

static void *rotate_thread(void *arg)
{
	struct lfs_rotation *r = arg;
	while (!atomic_load(&r->stop)) {
		pthread_mutex_lock(&r->lock);
		lfs_rot_refresh_epochs(r);
		/* Only behind an open gate: an unlock puts the keys back before
		 * its recovery has finished the objects a lock left under their
		 * records (a pass would find them half converted and fail). */
		bool work = r->state == LFS_ROT_RUNNING &&
		            atomic_load(&r->env.fs->access) == LFS_ACCESS_UNLOCKED;
		/* Shared: only the host holding the walker role walks. */
		work = lfs_rot_claim_walker(r, work);
		if (!work) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&r->wake, &r->lock, &ts);
		}
		r->in_pass = work;
		pthread_mutex_unlock(&r->lock);
		if (work)
			run_pass(r);
		sodium_stackzero(ROTATION_STACK_WIPE);
		if (work) {
			pthread_mutex_lock(&r->lock);
			r->in_pass = false;
			pthread_cond_broadcast(&r->idle);
			pthread_mutex_unlock(&r->lock);
		}
	}
	return NULL;
}

void lfs_rotation_quiesce(struct lfs_rotation *r)
{
	pthread_mutex_lock(&r->lock);
	while (r->in_pass)
		pthread_cond_wait(&r->idle, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

void lfs_rotation_init(struct lfs_rotation *r, const struct lfs_rotation_env *env)
{
	memset(r, 0, sizeof(*r));
	r->env = *env;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&r->wake, &ca);
	pthread_cond_init(&r->idle, &ca);
	pthread_condattr_destroy(&ca);
	lfs_rot_load_state(r);
}

int lfs_rotation_start(struct lfs_rotation *r)
{
	int e = pthread_create(&r->thread, NULL, rotate_thread, r);
	r->running = e == 0;
	return -e;
}

void lfs_rotation_stop(struct lfs_rotation *r)
{
	if (r->running) {
		atomic_store(&r->stop, 1);
		pthread_mutex_lock(&r->lock);
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		r->running = false;
	}
	for (unsigned i = 0; i < r->nsplit; i++)
		lfs_inode_release(r->env.fs, r->split[i]);
	r->nsplit = 0;
}
