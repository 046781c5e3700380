/* SPDX-License-Identifier: Apache-2.0 */
/* Data-key rotation in a mounted volume (docs/ROTATION.md).
 *
 * Invariant: whenever the keyring holds more than one data epoch, a
 * rotation toward the current epoch is under way. So a daemon that starts
 * (or unlocks) with several epochs resumes it, whatever stopped the last
 * one, and an offline rekey that adds an epoch needs no other marker.
 * VAULT/lethefs.rotation only remembers when it started (for status).
 *
 * A background thread walks the backing tree, converting directories'
 * names, files' contents, symlink targets and xattrs of older epochs,
 * one object at a time under that object's io_lock; it pauses while the
 * volume is locked. A pass that finds nothing left retires the older
 * epochs: they are removed from lethefs.keyring and wiped, and audited. */
#ifndef LETHEFS_ROTATE_H
#define LETHEFS_ROTATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct lfs_session;

#define LFS_ROTATION_FILE    "lethefs.rotation"
#define LFS_ROTATION_JOURNAL "lethefs.rotation.journal"

enum lfs_rotation_state {
	LFS_ROT_IDLE = 0,  /* one data epoch: nothing to do */
	LFS_ROT_RUNNING,   /* converting */
	LFS_ROT_PAUSED,	   /* several epochs but locked: no keys */
	LFS_ROT_FAILED,	   /* a pass left objects it could not convert */
};

struct lfs_rotation {
	struct lfs_session *s;
	pthread_t thread;
	bool running;
	atomic_int stop;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	enum lfs_rotation_state state;
	uint32_t target;
	uint32_t old_epochs[8];
	unsigned nold;
	time_t started, completed;
	uint64_t files_total, bytes_total, files_done, bytes_done;
	uint64_t dirs_done, links_done, xattrs_done, errors, passes;
	double active_seconds; /* spent converting in finished passes */
	double pass_start;     /* CLOCK_MONOTONIC of the converting pass, 0 if none */
	uint32_t last_retired;
};

void lfs_rotation_init(struct lfs_rotation *r, struct lfs_session *s);
int lfs_rotation_start(struct lfs_rotation *r);
void lfs_rotation_stop(struct lfs_rotation *r);
/* Starts a rotation: a new epoch, stored before use. -EBUSY when one is
 * under way, -EACCES when locked. */
int lfs_rotation_request(struct lfs_rotation *r, uint32_t *epoch);
/* Finishes an interrupted per-object switch (the journal). Called with
 * keys present and before the gate opens, so no request sees a half-
 * converted file. */
void lfs_rotation_recover(struct lfs_rotation *r);
/* Appends the rotation status members (",\"rotation_state\":...") to buf
 * at *used. -1 when it does not fit. */
int lfs_rotation_status_json(struct lfs_rotation *r, char *buf, size_t len, size_t *used);

#endif
