/* SPDX-License-Identifier: Apache-2.0 */
/* Who uses a vault, across hosts (docs/SHARED.md, FORMAT.md section 13).
 *
 * VAULT/lethefs.lease is an empty file whose bytes are byte-range locks:
 *
 *   byte 0   the mount lease: a mount without -o shared and the offline
 *            commands that must run alone (rekey, fsck --repair,
 *            shred-expired) hold it for writing, so nobody else mounts;
 *            shared mounts hold it for reading, so any number of them
 *            coexist but no exclusive one
 *   byte 1   the rotation walker: one in the whole cluster
 *   byte 2   staging expiry: shredding of expired directories runs once
 *   byte 3   the staging index: its read-modify-write, across hosts
 *   byte 4   recovery of lethefs.journal (the journal of exclusive mounts)
 *            by a shared mount
 *   byte 5   renames and links under way on a host while a rotation runs
 *            (read locks), or the walker's count that they wait for
 *   byte 6   the walker's wish for byte 5 (cluster/moves.h)
 *
 * Each holder also keeps a record VAULT/lethefs.host.<HOST> (its host
 * name, pid, start time, mode and the data epoch it encrypts new objects
 * under), write-locked at byte 0 for as long as it runs: a record whose
 * lock is free belongs to a holder that ended or died (its lease lapsed),
 * and whoever takes that lock may recover what it left (its journal).
 * Locks vanish with the process that held them, so a crashed daemon's
 * lease lapses at once; a crashed host's when its engine notices (the
 * GlusterFS client's ping timeout, NFSv4's lease time). */
#ifndef LETHEFS_LEASE_H
#define LETHEFS_LEASE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LFS_LEASE_FILE_NAME  "lethefs.lease"
#define LFS_HOST_FILE_PREFIX "lethefs.host."
#define LFS_HOST_NAME_MAX    64
#define LFS_HOST_RECORD_LEN  512

/* Bytes of lethefs.lease (above). */
enum lfs_lease_byte {
	LFS_LEASE_MOUNT = 0,
	LFS_LEASE_ROTATION = 1,
	LFS_LEASE_EXPIRY = 2,
	LFS_LEASE_STAGING_INDEX = 3,
	LFS_LEASE_EXCL_JOURNAL = 4,
	LFS_LEASE_MOVES = 5,
	LFS_LEASE_MOVES_INTENT = 6,
};

enum lfs_lease_mode {
	LFS_LEASE_EXCLUSIVE = 0, /* a mount without -o shared */
	LFS_LEASE_SHARED = 1,    /* a mount with -o shared */
	LFS_LEASE_COMMAND = 2,   /* an offline command (rekey, fsck --repair, ...) */
};

struct lfs_host_info {
	char host[LFS_HOST_NAME_MAX + 1];
	long pid;
	int64_t since;  /* Unix seconds */
	char mode[16];  /* "exclusive", "shared" or the command's name (a-z, '-') */
	uint32_t epoch; /* the data epoch it creates objects under; 0 unknown */
	bool live;      /* its record is locked: it runs */
};

struct lfs_lease {
	int fd;               /* lethefs.lease: holds the mount byte (and roles) */
	int hostfd;           /* lethefs.host.<host>: write-locked byte 0 */
	pthread_mutex_t lock; /* record rewrites */
	bool inited;          /* between acquire and release */
	struct lfs_host_info me;
};

/* The host name lethefs uses (uname's node name): letters, digits, '.',
 * '-' and '_', 1 to 64 characters, not starting with '.'. -EINVAL when the
 * system's name is not one. */
int lfs_host_name(char out[LFS_HOST_NAME_MAX + 1]);
bool lfs_host_name_ok(const char *s);

/* Takes the vault lease in mode (what names a command, e.g. "rekey"). On
 * a conflict -EBUSY, with the holders described in who ("host lab2 (pid
 * 812, since 2026-01-05T10:00:00Z, shared)"); -EEXIST when this host name
 * already holds a shared lease (who names it). A lease file or host
 * record that is not a regular file of ours is refused (-EPERM).
 * wait_ms > 0: wait that long for holders that are offline commands. */
int lfs_lease_acquire(struct lfs_lease *l, int vault_dirfd, enum lfs_lease_mode mode,
                      const char *what, unsigned wait_ms, char *who, size_t wholen);
/* Releases everything (the record stays, unlocked, as "last seen"). A
 * failed acquire has released already; releasing twice is harmless. */
void lfs_lease_release(struct lfs_lease *l);
/* Rewrites this holder's record with the epoch it now creates objects
 * under (a rotation waits until every live host has moved). */
int lfs_lease_set_epoch(struct lfs_lease *l, uint32_t epoch);

/* One of the single-holder roles (LFS_LEASE_ROTATION, _EXPIRY, ...):
 * taken without waiting (-EAGAIN: another holder has it), or waiting. */
int lfs_lease_role_try(struct lfs_lease *l, enum lfs_lease_byte role);
int lfs_lease_role_wait(struct lfs_lease *l, enum lfs_lease_byte role);
void lfs_lease_role_drop(struct lfs_lease *l, enum lfs_lease_byte role);

/* Calls fn for every host record of the vault (live or lapsed); fn
 * returns non-zero to stop. Returns the number of records seen. */
int lfs_hosts_list(int vault_dirfd, int (*fn)(const struct lfs_host_info *h, void *arg), void *arg);
/* Describes the live holders as in lfs_lease_acquire's who. */
void lfs_hosts_describe_live(int vault_dirfd, const char *except, char *out, size_t len);
/* Claims the record of a host whose lease lapsed (its lock is free), so
 * that nobody else, that host included, uses what it left while the
 * caller recovers it. Returns a descriptor holding the claim (close it to
 * release), -EAGAIN when the host is live or claimed, -ENOENT. */
int lfs_host_claim(int vault_dirfd, const char *host);

/* Record text (exposed for the unit tests and the fuzz target). */
int lfs_host_record_format(const struct lfs_host_info *h, char out[LFS_HOST_RECORD_LEN]);
int lfs_host_record_parse(const char *text, size_t len, struct lfs_host_info *h);

#endif
