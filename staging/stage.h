/* Staging directories in a running daemon (docs/STAGING.md): the table of
 * live staging directories, creating them, TTL and quota rules, and the
 * shred sequence. The on-disk pieces are stage_store; the kernel
 * cache invalidation is a callback (stage_inval.c), so this unit never
 * includes FUSE headers and `lethefs shred-expired` uses it offline. */
#ifndef LETHEFS_STAGE_H
#define LETHEFS_STAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/event.h"
#include "../keymgmt/config.h"
#include "../keymgmt/keyring.h"
#include "stage_store.h"
#include "../fs/irec.h"

struct lfs_staging {
	pthread_mutex_t lock; /* guards ix and dirty */
	int sdirfd;           /* VAULT/staging */
	int datafd;           /* VAULT/d */
	struct lfs_keyring *kr;
	struct lfs_stage_index ix;
	bool dirty; /* used counters changed since the index was stored */
	int64_t stored_at;
	char root[256]; /* staging_root, "" = none */
	uint64_t default_ttl, max_ttl;
	bool allow_extend;
	struct lfs_event_sink events; /* stage-* audit events */
	/* Drops the kernel's caches of everything below a shredded id. */
	void (*invalidate)(void *arg, uint32_t id);
	void *inval_arg;
	bool background;      /* ciphertext removal in a thread (daemon) */
	_Atomic int removals; /* background removals in flight */
};

int lfs_staging_init(struct lfs_staging *st, int vault_dirfd, int datafd, struct lfs_keyring *kr,
                     const struct lfs_vault_config *cfg);
/* Waits for background removals, stores the index, closes. */
void lfs_staging_destroy(struct lfs_staging *st);

/* Loads the wrapped keys of every live staging directory into kr (after
 * an unlock). Returns the number that could not be loaded. */
unsigned lfs_staging_load_keys(struct lfs_staging *st);

bool lfs_staging_live(struct lfs_staging *st, uint32_t id);
int lfs_staging_get(struct lfs_staging *st, uint32_t id, struct lfs_stage_entry *out);

/* TTL given by a user: a duration; checked against staging_max_ttl. */
int lfs_staging_check_ttl(struct lfs_staging *st, uint64_t ttl);
/* A new staging key, index entry and empty backing dir VAULT/staging/ID/
 * with its metadata. The caller links it into the tree (marker) and calls
 * lfs_staging_commit, or lfs_staging_abort. */
int lfs_staging_begin(struct lfs_staging *st, uint64_t ttl, uint32_t *id);
/* (Re)writes dirfd/.lethefs.dir for staging id: a fresh directory id under
 * the staging key (an adopted directory is empty, so no name depends on
 * the old one); of format 2, when the staging key is, with record rec (an
 * adopted directory's own) or, rec NULL, mode 0700 and the daemon's uid
 * and gid (what format 1 shows of a new staging directory). */
int lfs_staging_write_meta(struct lfs_keyring *kr, int dirfd, uint32_t id,
                           const struct lfs_irec *rec);
void lfs_staging_commit(struct lfs_staging *st, uint32_t id, const char *label,
                        const struct lfs_audit_caller *caller);
void lfs_staging_abort(struct lfs_staging *st, uint32_t id);

/* A new TTL counted from now. 0 shreds at the next tick (manual shred).
 * -EPERM when it would extend the expiry and extending is not allowed. */
int lfs_staging_set_ttl(struct lfs_staging *st, uint32_t id, uint64_t ttl,
                        const struct lfs_audit_caller *caller);
int lfs_staging_set_quota(struct lfs_staging *st, uint32_t id, uint64_t quota,
                          const struct lfs_audit_caller *caller);
/* Quota accounting in plaintext bytes: a positive delta beyond the quota
 * is refused with -EDQUOT; negative deltas always pass. */
int lfs_staging_charge(struct lfs_staging *st, uint32_t id, int64_t delta);

/* The shred sequence of one staging directory: key file destroyed, index
 * stored, key wiped from memory; kernel caches dropped; ciphertext and
 * markers removed (in the background when st->background); audited. */
int lfs_staging_shred(struct lfs_staging *st, uint32_t id, const char *reason,
                      const struct lfs_audit_caller *caller);
/* Shreds every expired directory (and finishes interrupted shreds).
 * Returns how many were shredded. Also persists quota counters now and
 * then. Called every second by the daemon, at mount, and offline. */
int lfs_staging_tick(struct lfs_staging *st, int64_t now);
/* Finishes shreds interrupted after their key was destroyed (a tree
 * VAULT/staging/ID/ without ID.key). Run at mount and offline. */
void lfs_staging_sweep_orphans(struct lfs_staging *st);

#endif
