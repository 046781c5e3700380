/* SPDX-License-Identifier: Apache-2.0 */
/* A mounted volume's key state: unlock, lock (manual, forced, idle) and
 * status, whatever asks for them (the control socket, the idle timer,
 * the mount command). All state changes are serialised here. */
#ifndef LETHEFS_SESSION_H
#define LETHEFS_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../fs/fs.h"
#include "../audit/audit.h"
#include "ctlproto.h"
#include "../keymgmt/vault.h"
#include "../rotation/rotate.h"
#include "shared.h"

/* Failed unlocks wait 1, 2, 4, ... seconds, at most this long. */
#define LFS_UNLOCK_DELAY_MAX 30

struct lfs_session {
	struct lfs_vault *vault;
	struct lfs_fs *fs;
	struct lfs_keyring *kr;
	const char *mountpoint;
	const char *socket_path;
	pthread_mutex_t state_lock;  /* lock and unlock transitions */
	pthread_mutex_t unlock_lock; /* one unlock attempt at a time */
	unsigned failures;           /* consecutive failed unlocks */
	time_t mounted_since;
	time_t unlocked_since; /* 0 while locked */
	uint64_t idle_lock_seconds;
	struct lfs_audit_log *audit;
	/* The audit key, kept from the first unlock until unmount, also while
	 * locked: entries written while locked stay keyed (it MACs audit
	 * entries and labels and decrypts nothing; docs/THREAT-MODEL.md 3.3).
	 * sodium_malloc'd; valid once have_audit_key is set. */
	uint8_t *audit_key;
	atomic_bool have_audit_key;
	struct lfs_rotation *rotation; /* NULL: no rotation worker (tests) */
	struct lfs_staging *staging;   /* NULL: none */
	struct lfs_shared *cluster;    /* lease, other hosts' journals; NULL: none */
};

void lfs_session_init(struct lfs_session *s, struct lfs_vault *v, struct lfs_fs *fs,
                      const char *mountpoint, const char *socket_path);
void lfs_session_destroy(struct lfs_session *s);

/* Records a security event in the vault's audit log (keyed while
 * unlocked); a failure to record is logged loudly. */
void lfs_session_audit(struct lfs_session *s, const char *event, const char *outcome,
                       const struct lfs_audit_caller *caller,
                       const struct lfs_audit_detail *details, size_t ndetails);

/* A sink that records events in the session's audit log (keyed while
 * unlocked), for the parts below the daemon (staging, rotation). */
struct lfs_event_sink lfs_session_events(struct lfs_session *s);

/* Marks a volume unlocked at mount (keys given on the command line). */
void lfs_session_unlocked_at_mount(struct lfs_session *s);

/* Tries a secret. 0 unlocked; -EALREADY already unlocked; -EKEYREJECTED
 * wrong secret (after the failure delay has been served); -EINVAL corrupt
 * vault files; other negative errno. *slot is the slot that opened. */
int lfs_session_unlock(struct lfs_session *s, enum lfs_ctl_secret_kind kind, const void *secret,
                       size_t len, const struct lfs_audit_caller *caller, int *slot);
/* Locks. -EALREADY if locked; -EBUSY if handles are open and !force. */
int lfs_session_lock(struct lfs_session *s, bool force, const char *reason,
                     const struct lfs_audit_caller *caller);
/* Hands the mount's staging table to the session: its audit entries go
 * to the session's log, its keys are loaded at every unlock, and the tick
 * shreds what expired, locked or not. */
void lfs_session_set_staging(struct lfs_session *s, struct lfs_staging *st);
/* Called about once a second: shreds expired staging directories; locks
 * after idle_lock of inactivity, unless files are open. */
void lfs_session_tick(struct lfs_session *s);

/* Writes the status members (without braces) as JSON. Returns the length
 * or -1 when buf is too small. */
int lfs_session_status_json(struct lfs_session *s, char *buf, size_t len);

#endif
