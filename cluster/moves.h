/* SPDX-License-Identifier: Apache-2.0 */
/* Renames and links on other hosts, for a rotation's retirement check
 * (docs/ROTATION.md, "Retiring an old epoch while names move"; FORMAT.md
 * 13.1 and 13.2). The walker retires an old epoch only after a count of
 * the tree during which no name moved; within its own mount it counts
 * them in memory (fs/fs.h), across hosts through the vault lease:
 *
 *   - a shared mount that knows a rotation runs holds byte 5 of
 *     lethefs.lease for reading while renames or links are under way on
 *     it (one lock for a run of overlapping ones, at most 100 ms long
 *     before new ones wait for it to end), through a descriptor of its
 *     own; at the end of each run it adds one to its count of runs,
 *     bytes 512-527 of its host record ("lfsmove1", then the count,
 *     64-bit little-endian), before it lets byte 5 go;
 *   - the walker reads every host record's count and then looks whether
 *     anyone holds byte 5 before the count, and the other way round
 *     after it: a count during which a name moved on another host sees
 *     byte 5 held at one end or a count changed (a run that began and
 *     ended in between wrote its count before it let go);
 *   - after two counts voided so, the walker write-locks byte 6 (taken
 *     for a moment with byte 5 by every run that begins: no run begins
 *     once it is held) and then byte 5 (once the runs under way end)
 *     for its next count: renames and links on every host wait.
 *
 * Locks lapse with their process (a killed daemon: at once; a crashed
 * host: when the engine notices), so a dead host holds nothing back for
 * long. */
#ifndef LETHEFS_MOVES_H
#define LETHEFS_MOVES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lease.h"

/* Where a host record keeps its count of runs of moves. */
#define LFS_MOVES_OFFSET LFS_HOST_RECORD_LEN
#define LFS_MOVES_LEN    16
/* A run of overlapping moves takes no more after this long. */
#define LFS_MOVES_RUN_MS 100

struct lfs_xmoves {
	int lockfd; /* lethefs.lease, opened again: byte 5 while a run lasts */
	int hostfd; /* this host's record (the lease's descriptor) */
	pthread_mutex_t lock;
	pthread_cond_t idle; /* a run ended */
	unsigned busy;       /* moves under way in the current run */
	bool held;           /* byte 5 is held (a run, or a count not yet written) */
	uint64_t runs;       /* runs ended */
	double run_start;    /* CLOCK_MONOTONIC seconds */
	bool warned;
};

/* Opens the lease file again and writes a count of 0 into the record
 * open on hostfd (this host's: the lease holds it). 0 or -errno. */
int lfs_xmoves_open(struct lfs_xmoves *m, int vault_dirfd, int hostfd);
void lfs_xmoves_close(struct lfs_xmoves *m);
/* A rename or link begins (waits while a walker's barrier is up) and
 * ends. 0, or -errno: the move must fail (the lock could not be taken). */
int lfs_xmoves_begin(struct lfs_xmoves *m);
void lfs_xmoves_end(struct lfs_xmoves *m);

/* What the walker sees of every host. */
struct lfs_xmoves_view {
	uint64_t digest; /* of every host record's name, liveness and count */
	unsigned hosts;
	bool busy;                          /* byte 5 held through another descriptor */
	char silent[LFS_HOST_NAME_MAX + 1]; /* a live shared host without a count */
};

/* Reads the view through the lease descriptor leasefd: the counts, then
 * byte 5 (probe_first: byte 5, then the counts). 0 or -errno. */
int lfs_xmoves_look(int vault_dirfd, int leasefd, bool probe_first, struct lfs_xmoves_view *v);
/* The walker's barrier: bytes 6 then 5 write-locked through leasefd,
 * waiting at most timeout_ms in all (-EAGAIN then, nothing held). */
int lfs_xmoves_barrier(int leasefd, unsigned timeout_ms);
void lfs_xmoves_barrier_end(int leasefd);

#endif
