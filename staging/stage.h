/* SPDX-License-Identifier: Apache-2.0 */
/* Staging directories in a running daemon and offline (docs/STAGING.md):
 * the table of live staging directories, creating them, TTL and quota
 * rules, the shred sequence, and the recovery of what a crash left. The
 * on-disk pieces are stage_store, stage_exp and stage_clock; the kernel
 * cache invalidation is a callback (stage_inval.c), so this unit never
 * includes FUSE headers and `lethefs shred-expired` uses it offline.
 *
 * Authority (docs/FORMAT.md 11, 12.7): a staging directory exists while
 * its key file VAULT/staging/ID.key and its tree VAULT/staging/ID/ both
 * exist; its expiry is the earliest of everything that claims one (its
 * retention record ID.exp, the index), and once a key is available a
 * record that does not authenticate makes it expire at once. */
#ifndef LETHEFS_STAGE_H
#define LETHEFS_STAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../cluster/lease.h"
#include "../common/event.h"
#include "../keymgmt/config.h"
#include "../keymgmt/keyring.h"
#include "stage_clock.h"
#include "stage_exp.h"
#include "stage_store.h"
#include "../fs/irec.h"

#define LFS_STAGE_CREATING_MAX 16 /* creations in flight at once */

/* Who asked for a manual shred and how (docs/AUDIT.md, stage-shred's
 * trigger): the next tick's stage-shred entry names them. */
struct lfs_stage_shred_request {
	uint32_t id;
	char trigger[16];
	struct lfs_audit_caller caller;
};
#define LFS_STAGE_SHRED_REQUESTS 8

struct lfs_staging {
	pthread_mutex_t lock; /* guards ix, dirty, stored_at, creating */
	int sdirfd;           /* VAULT/staging */
	int datafd;           /* VAULT/d */
	struct lfs_keyring *kr;
	struct lfs_stage_index ix; /* the live table */
	bool dirty;                /* used counters changed since the index was stored */
	int64_t stored_at;
	struct lfs_stage_clock clock;
	/* Ids being created (not yet in ix) and their owners: the marker
	 * sweep leaves their markers alone, and they count for the per-user
	 * limit. */
	uint32_t creating[LFS_STAGE_CREATING_MAX];
	uint32_t creating_owner[LFS_STAGE_CREATING_MAX];
	char root[256]; /* staging_root, "" = none */
	uint64_t default_ttl, max_ttl;
	bool allow_extend, owner_may_shorten;
	unsigned max_per_user;
	struct lfs_event_sink events; /* stage-* audit events */
	/* Drops the kernel's caches of everything below a shredded id. */
	void (*invalidate)(void *arg, uint32_t id);
	/* A staging directory another host made or adopted (backing
	 * directory sdirfd/<id>): an inode of it this host already holds (an
	 * ordinary directory it knew before the adoption, a process's working
	 * directory) takes its staging id and forgets its old metadata. */
	void (*restage)(void *arg, uint32_t id, int sdirfd);
	void *inval_arg;
	bool background;      /* ciphertext removal in a thread (daemon) */
	_Atomic int removals; /* background removals in flight */
	/* What lfs_staging_init found and lfs_staging_recover acts on. */
	struct lfs_stage_found *leftover;
	size_t nleftover;
	bool index_damaged;
	char index_error[64];
	unsigned failed; /* shreds that could not destroy their key (offline) */
	/* Manual shreds the next tick performs, with who asked (lock;
	 * allocated at the first request, freed by destroy). */
	struct lfs_stage_shred_request *shred_requests;
	unsigned nshred_requests;
	/* staging_root's backing directory as last resolved (ops_stage.c). */
	dev_t root_dev;
	ino_t root_ino;
	int64_t root_resolved;
	/* Shared mode (docs/SHARED.md, stage_shared.c): other hosts change the
	 * index too, so every change merges it first under the index lock of
	 * the vault lease, and the tick takes their changes. NULL: alone. */
	struct lfs_lease *lease;
	/* This host shreds what expires and finishes what a crash left: always
	 * when alone; in shared mode only the holder of the lease's expiry
	 * role, so that it runs once (manual shreds asked for on this host
	 * are done here all the same). */
	bool expire;
	/* Shredded by another host: the kernel's caches of them are dropped
	 * by the next poll, on the control thread (stage_inval.c). */
	uint32_t gone[16];
	unsigned ngone;
	/* Made or adopted by another host: handed to restage by the next
	 * poll, on the control thread. */
	uint32_t fresh[16];
	unsigned nfresh;
	unsigned holders; /* this process's holders of the index lock (lock) */
};

/* Reads VAULT/staging (creating it unless the vault is read-only) without
 * any key: a missing, empty or malformed index is rebuilt from the key
 * files and retention records, never an error. Fails only when
 * VAULT/staging cannot be opened. */
int lfs_staging_init(struct lfs_staging *st, int vault_dirfd, int datafd, struct lfs_keyring *kr,
                     const struct lfs_vault_config *cfg);
/* What VAULT/staging (sdirfd) claims, read without any key and without
 * writing anything (stage list of an unmounted vault): the committed
 * directories with the earliest expiry anything claims; entries with
 * why set have no retention record at all. */
int lfs_staging_view(int sdirfd, struct lfs_stage_index *out, bool *index_damaged);
/* Waits for background removals, stores the index, closes. */
void lfs_staging_destroy(struct lfs_staging *st);
/* Once the event sink is connected: finishes what a crash interrupted
 * (shreds after their key went, creations before they committed), reports
 * a rebuilt index, and stores the index. Run at mount and offline. */
void lfs_staging_recover(struct lfs_staging *st);

/* After an unlock: loads the wrapped keys of the live staging directories
 * into kr and checks their retention records. A key that does not open is
 * reported (log, audit) and its directory reads as EIO until it expires;
 * a record that does not authenticate makes its directory expire now.
 * Returns the number of keys that could not be loaded. */
unsigned lfs_staging_load_keys(struct lfs_staging *st);

/* The staging clock (stage_clock.h). */
int64_t lfs_staging_now(struct lfs_staging *st);

bool lfs_staging_live(struct lfs_staging *st, uint32_t id);
int lfs_staging_get(struct lfs_staging *st, uint32_t id, struct lfs_stage_entry *out);

struct lfs_staging_summary {
	unsigned count, damaged;
	int64_t next_expiry; /* 0: none */
};
void lfs_staging_summary(struct lfs_staging *st, struct lfs_staging_summary *sum);
/* The damaged ids, comma-separated, into out. */
void lfs_staging_damaged_list(struct lfs_staging *st, char *out, size_t len);

/* TTL given by a user: a duration; -EPERM beyond staging_max_ttl. */
int lfs_staging_check_ttl(struct lfs_staging *st, uint64_t ttl);

/* A new staging directory (stage_create.c). */
struct lfs_stage_new {
	uint64_t ttl;
	uid_t uid; /* owner of the directory and of the record */
	gid_t gid;
	mode_t mode;       /* of a directory made by mkdir */
	bool chown;        /* give the new directory to uid:gid (daemon as root) */
	const char *label; /* the path as the user named it (audit log only) */
	const struct lfs_audit_caller *caller;
};
/* mkdir under staging_root: builds the staging directory and puts its
 * marker at pfd/backing. -EDQUOT past the per-user limit, -EPERM past
 * staging_max_ttl, -ENOSPC when 256 are live. */
int lfs_staging_create(struct lfs_staging *st, const struct lfs_stage_new *n, int pfd,
                       const char *backing, uint32_t *id);
/* An existing empty directory pfd/base (open as dfd) becomes a staging
 * directory: it moves to VAULT/staging/ID/ and a marker takes its name,
 * both by one exchange (FORMAT.md 12.7). On any error the directory is
 * left as it was. */
int lfs_staging_adopt(struct lfs_staging *st, const struct lfs_stage_new *n, int pfd,
                      const char *base, int dfd, uint32_t *id);
struct lfs_irec;
/* (Re)writes dirfd/.lethefs.dir for staging id: a fresh directory id
 * under the staging key (an adopted directory is empty, so no name depends
 * on the old one). Of format 2 when the staging key is (its key file's
 * flag), sealing rec, or with rec NULL the record the directory has: its
 * version-2 .lethefs.dir's, else the type, mode and owner its backing
 * directory shows; the backing directory then gets the fixed mode and
 * owner (0700, the daemon's). */
int lfs_staging_write_meta(struct lfs_keyring *kr, int dirfd, uint32_t id,
                           const struct lfs_irec *rec);
/* An adoption's new .lethefs.dir (as above, with the record the directory
 * has), written inside it under LFS_STAGE_META_PENDING and fsync'd, before
 * the commit (stage_meta.c). */
int lfs_stage_meta_stage(struct lfs_keyring *kr, int dirfd, uint32_t id);
void lfs_stage_meta_discard(int dirfd);
/* After the commit, without a key: renames a pending .lethefs.dir of
 * staging id over the directory's own, unless that one already is of id;
 * a pending file that is not a well-formed .lethefs.dir of id is removed
 * (-EINVAL). Returns 1 when it renamed, 0 when nothing was pending. */
int lfs_stage_meta_finish(int dirfd, uint32_t id);

/* Who asks for a TTL change: the directory's writers through the mount
 * (user.lethefs.ttl, rmdir), or root/admin_group through the control
 * socket. */
enum lfs_stage_who {
	LFS_STAGE_WRITER,
	LFS_STAGE_ADMIN,
};
/* A new TTL counted from now; 0 shreds now (at the next tick). Writers
 * may shorten and shred when owner_may_shorten (root always), never
 * extend; admins may shorten, and extend when staging_allow_extend.
 * -EPERM refused, -EFBIG beyond staging_max_ttl, -EACCES when a new
 * record cannot be authenticated (locked), -ENOENT gone. Audited. */
int lfs_staging_set_ttl(struct lfs_staging *st, uint32_t id, uint64_t ttl, enum lfs_stage_who who,
                        const struct lfs_audit_caller *caller);
/* A manual shred (TTL 0) asked for by caller through trigger: "command"
 * (lethefs stage shred), "setfattr" (another program set user.lethefs.ttl
 * to 0), "rmdir" (the empty directory removed), "control" (the control
 * socket); under the same rules as lfs_staging_set_ttl. The stage-shred
 * entry of the next tick names the caller and the trigger. */
int lfs_staging_request_shred(struct lfs_staging *st, uint32_t id, const char *trigger,
                              enum lfs_stage_who who, const struct lfs_audit_caller *caller);
int lfs_staging_set_quota(struct lfs_staging *st, uint32_t id, uint64_t quota,
                          const struct lfs_audit_caller *caller);
/* Quota accounting in plaintext bytes: a positive delta beyond the quota
 * is refused with -EDQUOT; negative deltas always pass. */
int lfs_staging_charge(struct lfs_staging *st, uint32_t id, int64_t delta);

/* The shred sequence of one staging directory: key file destroyed (or,
 * when it cannot be overwritten, nothing done and a failure audited),
 * record and index entry removed, key wiped from memory; kernel caches
 * dropped; ciphertext and markers removed (in the background when
 * st->background); audited. */
int lfs_staging_shred(struct lfs_staging *st, uint32_t id, const char *reason,
                      const struct lfs_audit_caller *caller);
/* Shreds every expired directory; stores the index and the clock now and
 * then. Returns how many were shredded. Called every second by the
 * daemon, at mount, and offline. */
int lfs_staging_tick(struct lfs_staging *st);
/* Stores the index now (current used counters), e.g. for stage list. */
int lfs_staging_sync(struct lfs_staging *st);

/* Shared mode (stage_shared.c). With st->lock held: takes the index lock
 * across hosts and merges the index on disk into the table (directories
 * other hosts made, with their keys; those they shredded, dropped here;
 * expiries and quotas; used counters are the disk's plus this host's
 * share not yet stored). No-op when alone. sync_end drops the lock. While
 * another host holds the index lock, st->lock is let go between tries, so
 * that lookups on this host (lfs_staging_live) never wait on another host:
 * the table may change meanwhile. */
int lfs_staging_sync_begin(struct lfs_staging *st);
/* The same without waiting: -EAGAIN while another host holds the lock. */
int lfs_staging_sync_try_begin(struct lfs_staging *st);
void lfs_staging_sync_end(struct lfs_staging *st);
/* From the tick: the merge above, and this host's counters stored. A key
 * file another host destroyed is noticed here, within a second. */
void lfs_staging_poll(struct lfs_staging *st);
/* The merge alone, for a FUSE request that meets a staging id this host
 * does not know yet (made by another host a moment ago). */
void lfs_staging_refresh(struct lfs_staging *st);
/* The index lock alone (no st->lock), held across a whole creation so
 * that the expiry host's crash recovery never takes a creation in flight
 * for an interrupted one. No-op when alone. */
int lfs_staging_cluster_lock(struct lfs_staging *st);
void lfs_staging_cluster_unlock(struct lfs_staging *st);
/* From the tick of a host without the expiry role: takes it when the host
 * that held it ended, then finishes what that host may have left (found
 * again under the index lock). */
void lfs_staging_take_expiry(struct lfs_staging *st);

/* For the staging room's own files (stage.c, stage_rules.c,
 * stage_create.c), not for other rooms: the index written from the
 * table (st->lock held), one stage-* audit event, ISO 8601 UTC, and the
 * retention record of a table entry. */
int lfs_stage_store_locked(struct lfs_staging *st);
void lfs_stage_audit(struct lfs_staging *st, const char *event, const char *outcome,
                     const struct lfs_audit_caller *caller, const struct lfs_audit_detail *d,
                     size_t n);
/* Whether a staging id is neither live nor being created (its marker may
 * go), and how a shred was asked for when no request names it. */
bool lfs_stage_is_dead(uint32_t id, void *arg);
const char *lfs_stage_trigger_of(const char *reason);
/* The stage-shred audit entry (reason, trigger, what was removed; an
 * error makes it a failure): stage.c's recovery and stage_shred.c. */
void lfs_stage_shred_audit(struct lfs_staging *st, const char *label, uint32_t id,
                           const char *reason, const char *trigger,
                           const struct lfs_audit_caller *caller, uint64_t files, uint64_t bytes,
                           const char *error);
void lfs_stage_iso(int64_t t, char out[32]);
void lfs_stage_record_of(const struct lfs_stage_entry *e, struct lfs_stage_exp *x);

#endif
