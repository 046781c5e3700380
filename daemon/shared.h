/* SPDX-License-Identifier: Apache-2.0 */
/* A mount daemon among other hosts (docs/SHARED.md): what the backing
 * filesystem can do, the vault lease (exclusive, or shared with -o
 * shared), this host's journal, and, once a second, the journals that
 * hosts whose lease lapsed left behind and this host's record of the data
 * epoch it creates objects under. */
#ifndef LETHEFS_SHARED_H
#define LETHEFS_SHARED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../cluster/backing.h"
#include "../cluster/lease.h"
#include "../cluster/moves.h"
#include "../common/event.h"
#include "../fs/fs.h"
#include "../keymgmt/vault.h"

#define LFS_SHARED_MAX_SEEN 64

struct lfs_shared {
	bool shared;                /* -o shared */
	bool leased;                /* lease holds (not on read-only storage) */
	struct lfs_backing backing; /* probed at mount */
	struct lfs_lease lease;
	/* Shared: renames and links told to other hosts' walkers
	 * (cluster/moves.h); fs->xmoves points here once it is open. */
	struct lfs_xmoves xmoves;
	bool xmoves_open;
	char journal_name[96]; /* lethefs.journal, or lethefs.journal.<HOST> */
	struct lfs_vault *vault;
	struct lfs_fs *fs;
	struct lfs_event_sink events; /* "recover" audit entries */
	pthread_mutex_t lock;         /* the fields below */
	/* Hosts seen lapsed whose journal is recovered (or was empty): not
	 * looked at again until they run again. */
	struct {
		char host[LFS_HOST_NAME_MAX + 1];
		bool clean;
		int64_t lapsed_since; /* first seen lapsed (0: seen live) */
		/* The run of the host that clean and lapsed_since are about (its
		 * record's pid and start): a run started and ended between two
		 * scans is another run, with records of its own. */
		long pid;
		int64_t since;
	} seen[LFS_SHARED_MAX_SEEN];
	unsigned nseen;
	bool excl_clean; /* lethefs.journal looked at (shared mode) */
	int64_t last_scan;
	/* The keyring file as last merged (shared mode): another host's
	 * rotation replaces it. */
	pthread_mutex_t key_lock;
	struct {
		uint64_t ino, size;
		int64_t mtime_ns;
		double checked; /* CLOCK_MONOTONIC seconds */
	} keyfile;
};

/* Probes the backing filesystem and takes the vault lease. 0, or a
 * negative errno with err saying why: -EBUSY (another host holds it; err
 * names it), -EEXIST (this host name already mounts it), -ENOLCK (-o
 * shared on a filesystem without byte-range locks). */
int lfs_shared_join(struct lfs_shared *sh, struct lfs_vault *v, struct lfs_fs *fs, bool shared,
                    bool read_only, char *err, size_t errlen);
void lfs_shared_leave(struct lfs_shared *sh);

/* Recovers the journals that no running host owns: in shared mode those
 * of hosts whose lease lapsed (each claimed first, so that neither that
 * host nor another recoverer touches it meanwhile) and lethefs.journal;
 * in exclusive mode every lethefs.journal.<HOST>. Needs the keys (kr
 * unlocked); runs at mount and unlock, and from the tick. Returns the
 * number of records applied. */
int lfs_shared_recover_others(struct lfs_shared *sh, struct lfs_keyring *kr, bool force);

/* Reads lethefs.keyring again if it changed (the keyring's refresh hook,
 * also called by the tick in shared mode): > 0 when the ring changed. */
int lfs_shared_refresh_keys(void *arg);

/* Records in this host's lease record the data epoch it creates objects
 * under now (0 while locked): at unlock before the gate opens, at lock, and
 * from the tick. A shared rotation waits for every host (rotation/coord.c). */
void lfs_shared_note_epoch(struct lfs_shared *sh, struct lfs_keyring *kr);

/* Once a second: takes another host's keyring changes (shared mode),
 * records the epoch this host creates objects under and,
 * unlocked, recovers what lapsed hosts left (every few seconds). */
void lfs_shared_tick(struct lfs_shared *sh, struct lfs_keyring *kr);

/* status --json members: ",\"shared\":...,\"host\":...,\"backing\":{...}". */
int lfs_shared_status_json(struct lfs_shared *sh, char *buf, size_t len, size_t *used);

#endif
