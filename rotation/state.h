/* SPDX-License-Identifier: Apache-2.0 */
/* A rotation's state (rotate.h is what the daemon uses): the struct the
 * worker, the walk, the conversions and the replay share, the progress
 * counters, lethefs.rotation, and the status (state.c). */
#ifndef LETHEFS_ROTATION_STATE_H
#define LETHEFS_ROTATION_STATE_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../cluster/lease.h"
#include "../cluster/moves.h"
#include "../common/event.h"
#include "../fs/fs.h"
#include "../fs/longlink.h"
#include "../keymgmt/vault.h"

#define LFS_ROTATION_FILE    "lethefs.rotation"
#define LFS_ROTATION_JOURNAL "lethefs.rotation.journal"

enum lfs_rotation_state {
	LFS_ROT_IDLE = 0, /* one data epoch: nothing to do */
	LFS_ROT_RUNNING,  /* converting */
	LFS_ROT_PAUSED,   /* several epochs but locked: no keys */
	LFS_ROT_FAILED,   /* a pass left objects it could not convert */
	/* Several epochs, paused because the backing store has no room
	 * (pause_err: ENOSPC or EDQUOT). Shown as "paused" with its reason;
	 * nothing resumes it by itself but lethefs rotate or a remount
	 * (docs/ROTATION.md, "A full disk"). */
	LFS_ROT_HELD,
};

/* What the worker works on, given by the daemon. */
struct lfs_rotation_env {
	struct lfs_vault *vault;      /* its lethefs.keyring, lethefs.rotation, journal */
	struct lfs_fs *fs;            /* the mounted tree and its inode table */
	struct lfs_keyring *kr;       /* fs->kr */
	const char *mountpoint;       /* for the audit entries */
	struct lfs_event_sink events; /* "rotate" audit events */
	/* Shared mode (docs/SHARED.md): the vault lease, whose rotation role
	 * makes one host the walker; NULL when not shared. */
	struct lfs_lease *lease;
};

struct lfs_rotation {
	struct lfs_rotation_env env;
	pthread_t thread;
	bool running;
	atomic_int stop;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	/* The worker is in a pass (from the decision to run one until its
	 * stack is wiped); idle is signalled when it leaves
	 * (lfs_rotation_quiesce). */
	bool in_pass;
	pthread_cond_t idle;
	enum lfs_rotation_state state;
	uint32_t target;
	uint32_t old_epochs[8];
	unsigned nold;
	time_t started, completed;
	uint64_t files_total, bytes_total, files_done, bytes_done;
	uint64_t dirs_done, links_done, xattrs_done, errors, passes;
	int pause_err;           /* LFS_ROT_HELD: why (positive errno) */
	unsigned failing_passes; /* converting passes in a row with errors */
	unsigned moved_counts;   /* counts in a row voided by names moving */
	double xwarned; /* lfs_monotonic_seconds() of the last warning about other hosts' moves */
	/* Directories left half converted on the live mount (convert_dir.c),
	 * each held (one inode reference) so that its cached metadata, which
	 * says to look for names under both epochs, outlives the kernel's
	 * forgetting it; released once converted, or at the stop. */
	struct lfs_inode *split[16];
	unsigned nsplit;
	double active_seconds; /* spent converting in finished passes */
	double pass_start;     /* CLOCK_MONOTONIC of the converting pass, 0 if none */
	uint32_t last_retired;
	/* Shared mode (coord.c): this host holds the walker role; otherwise
	 * the progress shown is the walker's, read from lethefs.rotation. */
	bool walker;
	char walker_host[LFS_HOST_NAME_MAX + 1];
	double progress_stored, progress_loaded; /* CLOCK_MONOTONIC seconds */
};

/* A pass's buffers for plaintext and what surrounds it, in guarded,
 * locked memory (sodium_malloc), one set per pass: on the stack they would
 * reach past the worker's wipe (rotate.c). For the xattr conversion
 * (convert_xattrs.c) the listing, a sealed value, the plaintext value
 * between its two keys and a plaintext name; for counting symlinks
 * (walk.c) a target and its plaintext. 200 KiB. */
struct lfs_rot_xbuf {
	char list[65536];
	uint8_t val[65536 + LFS_XATTR_VALUE_OVERHEAD];
	uint8_t clear[65536];
	char plain[LFS_XATTR_NAME_MAX + 1];
	char link_enc[LFS_LINK_ENC_MAX + 1], link_plain[LFS_LINK_ENC_MAX + 1];
};

/* One pass over the tree: counting (count_only) or converting. */
struct walk {
	struct lfs_rotation *r;
	struct lfs_fs *fs;
	struct lfs_rot_xbuf *x;
	bool count_only;
	uint64_t found;  /* objects of older epochs seen this pass */
	uint64_t errors; /* objects this pass could not read or convert */
	/* ENOSPC or EDQUOT met converting (positive errno): the pass stops at
	 * once and the rotation is held (rotate.c). Atomic: the batches'
	 * second thread asks lfs_rot_keep_going too (batch.h). */
	_Atomic int nospace;
	int treefd; /* d/, where long symlink targets live (fs/longlink.h) */
	uint64_t files, bytes;
	double t0;
	/* fs->lock_gen when the pass began: a lock since then (even one
	 * already undone by an unlock) pauses the pass and voids what it
	 * counted, since objects it met while the keys were gone were
	 * skipped (walk.c). */
	uint64_t lock_gen;
	/* Small files waiting for their conversion (batch.h); NULL when
	 * counting. */
	struct lfs_rot_batch *batch;
};

/* Whether epoch is one the rotation converts away from. */
static inline bool lfs_rot_is_old(struct lfs_rotation *r, uint32_t epoch)
{
	return epoch != r->target && !lfs_epoch_is_staging(epoch);
}

/* A "rotate" audit event with the mountpoint and one or two details. */
void lfs_rot_audit(struct lfs_rotation *r, const char *outcome, const char *k1, long long v1,
                   const char *k2, long long v2);
/* A "rotate" audit event with the mountpoint, the target epoch and a
 * reason under key (none when reason is NULL). */
void lfs_rot_audit_reason(struct lfs_rotation *r, const char *outcome, const char *key,
                          const char *reason);
/* The "started" entry: the one entry of a rotation a process causes, with
 * who asked and how (trigger "command": lethefs rotate). */
void lfs_rot_audit_started(struct lfs_rotation *r, const struct lfs_audit_caller *caller,
                           uint32_t epoch, uint32_t previous);
/* Reads the epochs and decides the state; with r->lock held. */
void lfs_rot_refresh_epochs(struct lfs_rotation *r);
/* Seals the keyring and replaces lethefs.keyring with it. */
int lfs_rot_store_keyring(struct lfs_rotation *r);
/* lethefs.rotation: when the rotation under way started. */
void lfs_rot_store_state(struct lfs_rotation *r);
void lfs_rot_load_state(struct lfs_rotation *r);

/* Shared mode (coord.c). Whether this host walks: takes the walker role
 * when free, drops it when there is nothing to do or no key. */
bool lfs_rot_claim_walker(struct lfs_rotation *r, bool want);
/* Whether every host that runs unlocked creates objects under the target
 * epoch (their records, cluster/lease.h): converting directories, and
 * retiring epochs, wait for it. Always true when not shared. */
bool lfs_rot_hosts_ready(struct lfs_rotation *r);
/* Renames and links on other hosts (cluster/moves.h): what the walker sees
 * of them (a zero view when not shared; -errno when it cannot look), and
 * its barrier, which makes them wait (false: not held). */
int lfs_rot_xmoves_look(struct lfs_rotation *r, bool probe_first, struct lfs_xmoves_view *v);
bool lfs_rot_xmoves_barrier(struct lfs_rotation *r);
void lfs_rot_xmoves_barrier_end(struct lfs_rotation *r);
/* Changes of lethefs.keyring in shared mode run between these: the key
 * file lock (lethefs.lock, across hosts) is taken and the file merged into
 * the ring first, so that no host's change is lost. begin returns the lock
 * descriptor for end, or -1 when not shared (or on failure, with *err). */
int lfs_rot_keyfile_begin(struct lfs_rotation *r, int *err);
void lfs_rot_keyfile_end(int lockfd);
/* The walker's progress in lethefs.rotation, for the other hosts' status:
 * stored at most every two seconds (force: now); loaded by the others. */
void lfs_rot_store_progress(struct lfs_rotation *r, bool force);
void lfs_rot_load_progress(struct lfs_rotation *r);

/* Appends the rotation status members (",\"rotation_state\":...") to buf
 * at *used. -1 when it does not fit. */
int lfs_rotation_status_json(struct lfs_rotation *r, char *buf, size_t len, size_t *used);

#endif
