/* SPDX-License-Identifier: Apache-2.0 */
/* The vault journal: lethefs's one crash-safety mechanism for updates that
 * take more than one write (docs/FORMAT.md, "Crash safety").
 *
 * An update that cannot be made with a single atomic system call first
 * writes an intent record into a free slot of VAULT/lethefs.journal, then
 * performs its steps, then clears the slot. The record holds everything a
 * recovery needs to finish (redo) or cancel (undo) the update, so that after
 * a crash at any point one recovery pass brings every object to its state
 * before or after the update. Each record is authenticated with a key
 * derived from the master key: records exist only while the vault is
 * unlocked, and a record that does not authenticate (torn by a crash while
 * it was written, forged or copied by whoever can write the backing store)
 * is reported and never acted upon.
 *
 * This unit only stores, authenticates and finds records; what a record
 * means is up to the unit that wrote it (its kind), and recovery dispatches
 * on the kind. No FUSE, no knowledge of the tree. */
#ifndef LETHEFS_JOURNAL_H
#define LETHEFS_JOURNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LFS_JOURNAL_FILE_NAME "lethefs.journal"

/* File layout: a 4096-byte header, then nslots slots of LFS_JOURNAL_SLOT_LEN
 * bytes, then nlarge slots of LFS_JOURNAL_LARGE_LEN bytes for records that
 * carry block images (a journal made by an earlier build has none). A slot
 * whose first four bytes are zero is free. Slot numbers run over both:
 * large slot k is slot nslots + k. */
#define LFS_JOURNAL_HDR_LEN   4096u
#define LFS_JOURNAL_SLOT_LEN  16384u
#define LFS_JOURNAL_LARGE_LEN 278528u
#define LFS_JOURNAL_MIN_SLOTS 16u
#define LFS_JOURNAL_MAX_SLOTS 1024u
#define LFS_JOURNAL_DEF_SLOTS 64u
/* Large slots made with nslots small ones. Fixed at 4 (1.1 MB, allocated
 * when the journal is made so that a record never waits for disk space):
 * a writer holds one only for one write's blocks and never while it waits
 * for anything else, so more writers than slots just queue (take_slot),
 * and a vault on a small disk does not give megabytes to the journal. */
#define LFS_JOURNAL_LARGE_FOR(nslots) ((void)(nslots), 4u)

/* Record kinds. Numbers are part of the format: never reuse one. */
enum lfs_journal_kind {
	LFS_JK_TAIL = 1,        /* a file's last block or length changes (fs/tail.c) */
	LFS_JK_ROTATE_FILE = 2, /* a file re-sealed under a new epoch (rotation) */
	LFS_JK_ROTATE_DIR = 3,  /* a directory's names moved to a new epoch */
	LFS_JK_KEYRING = 4,     /* a keyring that must replace lethefs.keyring (rekey) */
	LFS_JK_RENAME_DIR = 5,  /* a directory renamed onto an empty one (fs/rename_dir.c) */
	LFS_JK_UPCONVERT = 6,   /* a format-1 file copied over as format 2 (rotation/upconvert.h) */
	LFS_JK_OVERWRITE = 7,   /* blocks rewritten in place (fs/overwrite.c) */
	LFS_JK_RENAME = 8,      /* a rename by link + unlink (fs/rename_record.c) */
	LFS_JK_ROTATE_BATCH = 9, /* several files re-sealed under a new epoch (rotation/batch.h) */
	LFS_JK_MAX = 9,
};

/* Where the record's object is: the backing file handle (the daemon runs as
 * root and can reopen it), its device and inode numbers (to check what the
 * handle or the path opened), and its path relative to the vault for when
 * file handles are unavailable. Kinds that concern no object leave it zero. */
#define LFS_JOURNAL_HANDLE_MAX 128u
#define LFS_JOURNAL_PATH_MAX   4096u
struct lfs_journal_target {
	uint64_t dev, ino;
	int32_t handle_type;
	uint32_t handle_len;
	uint8_t handle[LFS_JOURNAL_HANDLE_MAX];
	uint32_t path_len; /* bytes of path, no NUL on disk */
	char path[LFS_JOURNAL_PATH_MAX + 1];
};

/* Fixed part of a record before the path and payload, and the MAC after. */
#define LFS_JOURNAL_REC_FIXED 184u
#define LFS_JOURNAL_MAC_LEN   32u
#define LFS_JOURNAL_PAYLOAD_MAX                                                                    \
	(LFS_JOURNAL_SLOT_LEN - LFS_JOURNAL_REC_FIXED - LFS_JOURNAL_PATH_MAX - LFS_JOURNAL_MAC_LEN)

/* Bulk bytes a record in a large slot can carry besides its fixed part,
 * a path and payload of the lengths given. */
#define LFS_JOURNAL_BULK_ROOM(path_len, payload_len)                                               \
	(LFS_JOURNAL_LARGE_LEN - LFS_JOURNAL_REC_FIXED - (path_len) -                              \
	 (payload_len)-LFS_JOURNAL_MAC_LEN)

/* One record in memory (about 16 KiB: allocate it, never put it on a
 * stack). The bulk is stored after the MAC and not covered by it: it may
 * only hold data that authenticates on its own (sealed blocks, which
 * recovery opens under the file's key before using them). */
struct lfs_journal_record {
	uint8_t kind;
	uint64_t seq; /* assigned when written: orders recovery */
	struct lfs_journal_target target;
	uint32_t payload_len;
	uint8_t payload[LFS_JOURNAL_PAYLOAD_MAX];
	const uint8_t *bulk; /* writing: the caller's; replay and decode: in the slot read */
	uint32_t bulk_len;
};

struct lfs_journal {
	int fd;         /* -1: no journal */
	bool read_only; /* opened from read-only storage: records can be read only */
	uint8_t uuid[16];
	unsigned nslots;
	unsigned nlarge; /* large slots after the small ones (0: none) */
	pthread_mutex_t lock;
	pthread_cond_t freed;
	uint8_t *busy;     /* nslots + nlarge flags, lock */
	uint64_t next_seq; /* lock */
	unsigned waiting;  /* threads waiting for a free slot, lock */
	bool dirty;        /* written since the last lfs_journal_sync, lock */
	/* Syncs of the journal so far, and per slot their count when its
	 * record was written: a record cleared after a sync may be on disk
	 * while its clearing is not (lock). */
	uint64_t syncs;
	unsigned syncing; /* syncs under way */
	uint64_t *synced_at;
	bool stale; /* such a clearing is not durable yet, lock */
};

/* Opens VAULT/lethefs.journal (creating it, 0600, with want_slots slots
 * and LFS_JOURNAL_LARGE_FOR(want_slots) large ones when absent and create
 * is set; with create, an existing journal that holds no record and has
 * fewer slots of either size is made anew with those). A journal of another
 * vault, a file that is not a regular file owned by this process's user,
 * or a malformed header is refused (-EINVAL, or -ENOENT when absent and
 * !create). On read-only storage an existing journal is opened for reading
 * (read_only set). */
int lfs_journal_open(struct lfs_journal *j, int vault_dirfd, const uint8_t uuid[16], bool create,
                     unsigned want_slots);
/* The same for another journal of the vault: in shared mode each host has
 * its own, lethefs.journal.<HOST> (docs/SHARED.md), so that two hosts never
 * apply each other's records while both run. name must be
 * LFS_JOURNAL_FILE_NAME or that name, '.' and a host name (letters,
 * digits, '.', '-', '_'; -EINVAL otherwise). */
int lfs_journal_open_named(struct lfs_journal *j, int vault_dirfd, const char *name,
                           const uint8_t uuid[16], bool create, unsigned want_slots);
bool lfs_journal_name_ok(const char *name);
/* Calls fn with the name of every journal of the vault (lethefs.journal
 * and every host's); fn returns non-zero to stop. Returns how many were
 * seen, or a negative errno when the directory cannot be read. */
int lfs_journal_list(int vault_dirfd, int (*fn)(const char *name, void *arg), void *arg);
void lfs_journal_close(struct lfs_journal *j);

/* The MAC key of every record, derived from the master key (the caller
 * gets it from the keyring; see lfs_keyring_master_subkey). */
#define LFS_JOURNAL_KEY_LEN 32u

/* Writes r into a free slot (waiting for one when all are busy) and returns
 * the slot, which stays reserved until lfs_journal_end. The record is in
 * the backing file's page cache when this returns: a killed process leaves
 * it behind; sync = true also makes it durable (fdatasync) before return.
 * A record with bulk bytes goes to a large slot (-E2BIG when it does not
 * fit one, or the journal has none). */
int lfs_journal_begin(struct lfs_journal *j, const uint8_t key[LFS_JOURNAL_KEY_LEN],
                      struct lfs_journal_record *r, bool sync, unsigned *slot);
/* The update is complete: the slot is cleared (its first bytes zeroed) and
 * freed. If clearing fails the slot is kept (a later recovery finds the
 * record and re-applies it harmlessly) and the error is returned. */
int lfs_journal_end(struct lfs_journal *j, unsigned slot);
/* The update failed and could not be undone: its record stays for the next
 * recovery and its slot is not reused until then. When every slot is kept,
 * lfs_journal_begin fails with -ENOSPC instead of waiting. */
void lfs_journal_keep(struct lfs_journal *j, unsigned slot);
/* Makes every record written so far durable. */
int lfs_journal_sync(struct lfs_journal *j);
/* Makes durable the clearing of every record that may have reached the
 * disk before it was cleared (it was synced, or the journal was while it
 * was there): a power loss must not bring back a finished update's record
 * once its file was fsync'd, since recovery could undo the update (a tail
 * update whose later rewrite of a block a power loss tore, fs/tail.h).
 * Called before an application's fsync returns; costs a disk flush only
 * when there is such a clearing. */
int lfs_journal_settle(struct lfs_journal *j);

/* Recovery: calls fn for every authenticated record: first every record of
 * kind LFS_JK_OVERWRITE (block images: they repair blocks a killed write
 * left torn, which other kinds' recovery may read), then the others; each
 * group oldest first (by seq). While it runs, the slots of the records not
 * yet applied are reserved, so that fn may write records of its own.
 * Records that do not authenticate are counted in *rejected and left alone
 * (fn never sees them); fn decides what a record means and returns 0 when
 * it is done with it (the slot is then cleared) or a negative errno (the
 * record stays for the next recovery). Returns the number of records
 * applied, or a negative errno when the journal cannot be read. Must run
 * while no update is in flight (slots kept by failed updates are fine:
 * they are freed once their record is applied). */
typedef int (*lfs_journal_apply_fn)(void *arg, const struct lfs_journal_record *r);
int lfs_journal_replay(struct lfs_journal *j, const uint8_t key[LFS_JOURNAL_KEY_LEN],
                       lfs_journal_apply_fn fn, void *arg, unsigned *rejected);
/* Clears every slot that holds a record which does not authenticate: after
 * a successful replay they can only be torn writes, forgeries or records
 * sealed under an older master key. Returns how many were cleared. */
int lfs_journal_clear_rejected(struct lfs_journal *j, const uint8_t key[LFS_JOURNAL_KEY_LEN]);
/* Whether any slot holds something (no key needed): fsck's "pending". */
int lfs_journal_pending(struct lfs_journal *j, unsigned *count);

/* Encoding of one slot, exposed for the unit tests and the fuzz target.
 * encode writes out_len bytes (the record, its MAC, its bulk, zero
 * padding) and returns 0, or -EINVAL when a length is out of bounds or the
 * record does not fit out_len. decode returns 0 for an authentic record
 * (r->bulk then points into in), -EBADMSG when it does not authenticate,
 * -ENOENT for a free slot, -EINVAL when malformed. */
int lfs_journal_encode(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                       unsigned slot, const struct lfs_journal_record *r, uint8_t *out,
                       size_t out_len);
int lfs_journal_decode(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                       unsigned slot, const uint8_t *in, size_t len, struct lfs_journal_record *r);
/* A path recovery may open below the data directory: relative, no NUL,
 * no empty, "." or ".." component (so it cannot leave it); the empty path
 * (a target named by handle only) is accepted. */
bool lfs_journal_path_ok(const char *p, size_t len);
/* The record without its bulk (fixed part, path, payload, MAC) for slot,
 * into out (LFS_JOURNAL_SLOT_LEN bytes): its length, or -EINVAL when a
 * length is out of bounds (record.c, for lfs_journal_begin). */
ssize_t lfs_journal_encode_head(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                                unsigned slot, const struct lfs_journal_record *r, uint8_t *out);

#endif
