/* SPDX-License-Identifier: Apache-2.0 */
/* The mounted filesystem's state: the inode table and what every FUSE
 * operation needs. The FUSE inode number of an inode is the address of its
 * struct lfs_inode (as in libfuse's passthrough_ll), and each inode holds an
 * O_PATH descriptor of its backing object so that every name operation is
 * an *at() call relative to the parent.
 *
 * Lock order: fs->table_lock before any inode's meta_lock; an inode's
 * io_lock before its meta_lock. A directory's io_lock before that of an
 * entry in it (an rmdir or a rename holds the removed or replaced
 * directory's shared under its parents'; a request on a format-1 node
 * holds the node's under its new parent's, a rotation the node's under
 * its directory's); no other two at once, but for the files of a
 * rotation's batch (rotation/batch.h), which it only tries to take while
 * it holds any. Shared holders never wait for each other (glibc's
 * default rwlocks prefer readers), and an exclusive holder other than the
 * rotation holds no other io_lock.
 * The slab's lock (fs/slab.c) is taken last and alone: under table_lock for
 * a new inode, with no lock held for a freed one. */
#ifndef LETHEFS_FS_H
#define LETHEFS_FS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "content.h"
#include "dirmeta.h"
#include "irec.h"
#include "opcount.h"
#include "../common/event.h"
#include "../common/workpool.h"
#include "closer.h"
#include "slab.h"
#include "../keymgmt/keyring.h"

/* Bytes of a file handle kept inside the inode (ext4, xfs, tmpfs and btrfs
 * handles fit); a longer one is allocated. */
#define LFS_INLINE_HANDLE 40

/* A place in one of the inode table's lists (table_lock). pprev points at
 * the pointer that points here (a list head or the previous inode's next),
 * so leaving a list costs O(1) whatever its length; NULL: on no list. */
struct lfs_inode_link {
	struct lfs_inode *next, **pprev;
};

struct lfs_inode {
	/* A hash bucket, or fs->unhashed once unhashed. */
	struct lfs_inode_link hash;
	/* fs->dirs (directories) or fs->opened (files opened at least once
	 * while cached: the only ones whose pages the kernel may hold). */
	struct lfs_inode_link set;
	/* fs->stage_lists[stage_id % LFS_STAGE_LISTS] while stage_id != 0. */
	struct lfs_inode_link stage;
	/* O_PATH descriptor of the backing object, or -1 while parked. Use
	 * lfs_inode_pin/unpin, never this field directly, in FUSE handlers:
	 * unpinned descriptors may be closed at any time (see inode.c). */
	int fd;
	unsigned fd_pins;                      /* fd_lock */
	struct lfs_inode *lru_prev, *lru_next; /* fd_lock: open and unpinned */
	bool in_lru;                           /* fd_lock */
	struct file_handle *fh;                /* reopens a parked inode */
	/* Or, where file handles do not last (FUSE-based backing such as
	 * GlusterFS: cluster/backing.h), where the object was last seen: its
	 * parent (which this holds one lookup of) and backing name (fd_lock;
	 * the parent pointer also under table_lock). */
	struct lfs_inode *parent;
	char *bname;
	/* fh points here when the handle fits (no allocation per inode). */
	unsigned char fh_inline[sizeof(unsigned int) + sizeof(int) + LFS_INLINE_HANDLE]
	    __attribute__((aligned(8)));
	dev_t dev;
	ino_t ino;
	/* S_IFMT bits of the object as the kernel sees it: the backing
	 * object's in format 1, its record's in format 2 (set when the record
	 * is first read, before any reply names the inode), then fixed. */
	mode_t type;
	uint64_t nlookup; /* protected by table_lock */
	/* Removed from the table because its backing inode number now names
	 * another object (table_lock); lives on until the kernel forgets it. */
	bool unhashed;

	/* Regular files: readers share, writers and truncation exclude. */
	pthread_rwlock_t io_lock;
	pthread_mutex_t meta_lock; /* guards the cached fields below */
	/* The object's format (fs/attr.c): 0 not known yet; 1, its type, mode
	 * and owner are the backing object's; 2, they are rec's (docs/FORMAT.md
	 * section 14). A regular backing file's header has this version. */
	uint8_t fmt;
	bool have_rec; /* format 2: rec is loaded and authentic */
	struct lfs_irec rec;
	/* The backing change time rec was read at (a regular backing file):
	 * in shared mode another one means another host may have rewritten
	 * the record (chmod, chown), and the next stat reads it again. */
	struct timespec rec_ctime;
	bool have_header;
	struct lfs_file_header header;
	/* Format 2, a regular file whose header says LFS_HDR_FLAG_IATTR (or
	 * whose lookup found an inode attribute, fs/iattr.h): rec is the
	 * attribute's, bound to a header whose file id starts with
	 * iattr_bind; iattr_bound once the header was read and matched
	 * (fs/attr.c, lfs_attr_bind). meta_lock. */
	bool iattr_src;
	bool iattr_bound;
	uint8_t iattr_bind[12];
	bool have_dirmeta;
	struct lfs_dirmeta dirmeta;
	/* Plaintext size after the latest write or truncate through this
	 * inode (guarded by meta_lock; 0 until then), and a condition signalled
	 * when it changes: a write that lands past EOF waits briefly for
	 * reordered earlier writes to fill the gap (see fileio.c). */
	uint64_t known_size;
	pthread_cond_t size_changed;
	/* Open handles that may write: while there are any, the kernel's
	 * writeback cache may hold data the daemon has not seen (ops_file.c). */
	_Atomic int writers;
	/* A reply about this file, still empty here while being written,
	 * counted a block ahead of the kernel's next write (lfs_attr_live):
	 * its release drops the kernel's copy if no write came. */
	_Atomic bool live_floor;
	/* Staging (docs/STAGING.md): the staging id whose key encrypts this
	 * object (0: the vault's current epoch), inherited from the parent at
	 * lookup; stage_root for the staging directory itself. Set with
	 * lfs_inode_set_stage (it keeps the per-staging lists). */
	uint32_t stage_id;
	bool stage_root;
	/* Directories: listed since the last header read-ahead (prefetch.h;
	 * __atomic builtins, no lock). */
	bool prefetch_armed;
	/* CLOCK_MONOTONIC_COARSE seconds of its last read-ahead (prefetch.c;
	 * __atomic builtins). */
	int64_t prefetched_at;
	/* Power loss (docs/FORMAT.md 12.11): the plaintext bytes [0,
	 * durable_size) may hold what an fsync made durable, so rewriting a
	 * block there in place must not risk them (fs/durable.h). While
	 * !durable_known (a file found on disk, or fsync'd since), all of the
	 * file as the next write finds it. Both under meta_lock. */
	bool durable_known;
	uint64_t durable_size;
	int durable_err; /* a failed sync of that path, for the next fsync */
	/* A tail update failed and could not be undone (io_lock): its journal
	 * record stays for the next recovery, and writes and truncation fail
	 * with EIO until then rather than pile a second update on top. */
	bool tail_broken;
	/* Exclusive mounts: POSIX ACLs this inode is known not to have
	 * (LFS_NOACL_* bits of fs/ops_acl.c), so that a chmod or a create
	 * below it need not ask the backing store; acl_gen counts the ACL
	 * changes made through this inode (both meta_lock). */
	uint8_t noacl;
	uint32_t acl_gen;
	/* Regular files: the backing descriptor (read-write) of one open
	 * handle that may write, or -1, so that rewriting the header (a chmod
	 * or chown of an open file), or reading it again when another host may
	 * have rewritten it (fs/attr.c), needs no open and close of its own. Set
	 * when the handle opens, cleared by its release under the exclusive
	 * io_lock before the descriptor closes; used only under io_lock
	 * (meta_lock guards the field). */
	int wfd;
	/* Shared mounts: the write-behind queue (fs/sharedwb.h), made at the
	 * first write that uses it, freed with the inode. */
	struct lfs_swb *swb;
	/* While a rotation converts the object (fs/heldtimes.h): the access
	 * and modification times the plaintext view shows, which the
	 * conversion's own writes and renames move on the backing object
	 * until it puts these back (meta_lock). */
	bool times_held;
	struct timespec held_atim, held_mtim;
	uint64_t times_end; /* the number of the last hold's end (fs/heldtimes.c) */
};

/* Whether file operations may run (see fs/gate.c). DRAINING is the first
 * step of a lock: nothing new may be opened or looked up, but writes
 * through existing handles still land so that dirty pages can be flushed. */
enum lfs_access {
	LFS_ACCESS_UNLOCKED = 0,
	LFS_ACCESS_DRAINING = 1,
	LFS_ACCESS_LOCKED = 2,
};

struct fuse_session;
struct lfs_stage_hooks;
struct lfs_journal;
struct lfs_backing;

/* Backing objects refused as tampering (fs/attr.c) that were reported
 * already: each is logged and audited once per mount. */
#define LFS_REPORTED_MAX 64

struct lfs_xmoves; /* cluster/moves.h */

struct lfs_fs {
	struct lfs_keyring *kr;
	_Atomic int access;        /* enum lfs_access */
	_Atomic uint64_t lock_gen; /* bumped by every lock: older handles fail EIO */
	_Atomic long open_files;   /* file handles currently open */
	_Atomic long open_dirs;    /* directory handles currently open */
	/* Renames and links through the mount, counted when they begin and
	 * when they end: a rotation retires an old epoch only after a count
	 * of the tree during which no name moved (rotation/rotate.c). */
	_Atomic uint64_t moves_begun, moves_ended;
	/* Set by a rotation whose counts names keep moving under: renames
	 * and links wait until its next count is over (fs/ops_link.c). */
	_Atomic bool moves_barrier;
	/* Shared mounts: renames and links told to other hosts' walkers
	 * while a rotation runs (cluster/moves.h; NULL otherwise), and how
	 * many under way began before this host knew of the rotation (its
	 * record names the new epoch only once they have ended). */
	struct lfs_xmoves *xmoves;
	_Atomic uint64_t moves_untold;
	_Atomic int64_t last_active;         /* CLOCK_MONOTONIC seconds of the last request */
	_Atomic int64_t acl_asked;           /* the same, of the last getxattr of an ACL */
	struct fuse_session *se;             /* for cache invalidation; set after mount */
	const struct lfs_stage_hooks *stage; /* staging (stage_hooks.h); NULL: none (fsck) */
	/* "tamper" audit events (fs/attr.c); no emit: none (fsck reports
	 * on its own). */
	struct lfs_event_sink events;
	pthread_mutex_t report_lock;
	struct lfs_reported {
		dev_t dev;
		ino_t ino;
	} * reported; /* LFS_REPORTED_MAX, on the heap (lfs_fs often lives on a stack) */
	unsigned nreported;
	/* The vault's cipher with the version-1 header length: only for what
	 * does not depend on a file's header (nonce sizes, block overhead).
	 * Block offsets and sizes come from the file's own layout
	 * (lfs_inode_layout). */
	struct lfs_layout layout;
	const char *vault_path;
	/* Multi-step updates run under its records (NULL: a read-only view,
	 * e.g. fsck before recovery). data_path is d/'s canonical path, for
	 * naming records' targets. */
	struct lfs_journal *journal;
	char *data_path;
	/* What the backing filesystem can do (cluster/backing.h), probed at
	 * mount; NULL: a local filesystem's everything (fsck, tests). */
	const struct lfs_backing *backing;
	struct lfs_inode root;
	pthread_mutex_t table_lock;
	struct lfs_inode **buckets;
	struct lfs_inode *unhashed; /* inodes no longer in the buckets */
	size_t nbuckets;
	size_t ninodes;   /* in the buckets */
	size_t nunhashed; /* on the unhashed list */
	/* The sets a lock or a shred walks instead of every inode (table_lock):
	 * see lfs_fs_for_each_in. */
	struct lfs_inode *dirs, *opened;
#define LFS_STAGE_LISTS 64
	struct lfs_inode *stage_lists[LFS_STAGE_LISTS];
	/* Inodes come from slabs that are unmapped once empty, so memory goes
	 * back to the system when the kernel forgets (fs/slab.h). */
	struct lfs_slab inode_slab;
	/* Forgotten removed files' last descriptors close here (closer.h). */
	struct lfs_closer closer;
	/* The entries of a READDIRPLUS reply are looked up on these helpers
	 * and the handler's thread at once (fs/ops_dir.c, workpool.h). */
	struct lfs_workpool lookups;
#ifndef LFS_LOOKUP_HELPERS /* (-D for measurements) */
#define LFS_LOOKUP_HELPERS 3
#endif
	/* The whole blocks of a large write are sealed on these helpers and
	 * the handler's thread at once (fs/fileio_seal.c): one helper per
	 * further online CPU, at most LFS_SEAL_HELPERS_MAX. */
	struct lfs_workpool sealers;
#ifndef LFS_SEAL_HELPERS_MAX /* (-D for measurements; 0: no helpers) */
#define LFS_SEAL_HELPERS_MAX 3
#endif
	/* Descriptor budget: the kernel may remember far more inodes than the
	 * process may hold descriptors, so the least recently used unpinned
	 * O_PATH descriptors are closed ("parked") past fd_budget and reopened
	 * from their file handle on demand. */
	pthread_mutex_t fd_lock;
	struct lfs_inode *lru_head, *lru_tail;
	size_t open_fds;
	size_t fd_budget;
	int handle_mount_fd; /* for open_by_handle_at; -1: no handles */
	bool park_by_path;   /* parking reopens by parent and name instead */
	double entry_timeout;
	double attr_timeout;
	uid_t euid;     /* the daemon's, fixed at start */
	bool writeback; /* kernel writeback cache */
	/* Other hosts write the vault too (-o shared): no kernel page cache
	 * kept across opens, cached headers checked before use, and
	 * cross-host locks on backing files (fs/filelock.h). */
	bool shared;
	/* Shared mounts: WRITEs acknowledged once queued (fs/sharedwb.h);
	 * off with -o shared_sync. The list of queues (swb_lock), how many
	 * are being written, and the bytes their buffers take. */
	bool shared_wb;
	pthread_mutex_t swb_lock;
	struct lfs_swb *swb_list;
	_Atomic long swb_running;
	_Atomic size_t swb_bytes;
	bool acl; /* POSIX ACLs (default; -o noacl turns them off) */
	/* -o iattr on an exclusive mount whose backing store keeps user.
	 * xattrs: new regular files get an inode attribute (FORMAT.md 14.9),
	 * and lookups read it instead of the header. (A file whose header
	 * says it has one is served from it on every mount.) */
	bool iattr;
	/* -o powersafe: a rewrite in place that could cost bytes an fsync
	 * made durable, were the power to fail during it, goes through the
	 * journal durably (fs/durable.h, FORMAT.md 12.11). */
	bool powersafe;
	bool allow_dev;     /* -o dev: device nodes of the backing store are served */
	unsigned max_write; /* 0: libfuse's default */
	/* -o random_ra_kb: a small read that finds its ciphertext not cached
	 * first has the kernel read the aligned range of this many bytes
	 * around it (fs/directread.h); 0: only the kernel's own read-ahead. */
	size_t random_ra;
	bool debug;
	struct lfs_op_counters requests; /* FUSE requests by operation (fs/gate.c) */
};

int lfs_fs_init(struct lfs_fs *fs, struct lfs_keyring *kr, int data_dir_fd, const char *vault_path);
void lfs_fs_destroy(struct lfs_fs *fs);

/* Inode table (fs/inode.c). lfs_inode_get finds or adds the inode for the
 * backing object fd refers to (taking ownership of fd) and counts one
 * lookup. lfs_inode_forget drops n lookups, freeing at zero. */
struct lfs_inode *lfs_inode_get(struct lfs_fs *fs, int fd, const struct stat *st, int *err);
/* lfs_inode_get for a lookup that pins the inode next: an inode it adds
 * comes pinned already (*pinned set; lfs_inode_unpin it), which spares
 * a new inode the round through fd_lock of a pin right after it was
 * made; a known one comes unpinned (*pinned false), to be pinned. */
struct lfs_inode *lfs_inode_get_pinned(struct lfs_fs *fs, int fd, const struct stat *st, int *err,
                                       bool *pinned);
void lfs_inode_forget(struct lfs_fs *fs, struct lfs_inode *inode, uint64_t n);
/* For work beside the FUSE requests (rotation): the inode of the backing
 * object dirfd/name (name NULL: the root) with one lookup counted, so that
 * requests on it share its locks and caches; NULL with errno set when it
 * cannot be opened. lfs_inode_release drops what lfs_inode_hold counted. */
struct lfs_inode *lfs_inode_hold(struct lfs_fs *fs, int dirfd, const char *name);
/* The inode of the backing object st describes, when the table holds one
 * (with one lookup counted, for lfs_inode_release); else NULL. */
struct lfs_inode *lfs_inode_find(struct lfs_fs *fs, const struct stat *st);
void lfs_inode_release(struct lfs_fs *fs, struct lfs_inode *inode);
/* lfs_inode_find for the object open on fd (st its stat), telling a stale
 * entry of a reused inode number apart (its file handle): the table's
 * inode of exactly that object, with one lookup counted, or NULL. */
struct lfs_inode *lfs_inode_find_fd(struct lfs_fs *fs, int fd, const struct stat *st);
/* A rotation replaced the object of inode in by a new backing object
 * under the same name (a format-1 symlink or node converted: a new object
 * renamed over it, fs/inode_repoint.c). in now stands for the new object,
 * open on fd (O_PATH; taken over, also on failure) with stat st, so that
 * the kernel's inode keeps working instead of reaching the unlinked old
 * object. fmt 2: rec and h are its record and header. The caller holds
 * in->io_lock exclusively (requests on such an inode take it shared,
 * fs/gate.c). 0, or -EBUSY when the descriptor could not be swapped
 * while a request used it (nothing changed: the caller makes the kernel
 * forget the name instead). */
int lfs_inode_repoint(struct lfs_fs *fs, struct lfs_inode *in, int fd, const struct stat *st,
                      uint8_t fmt, const struct lfs_irec *rec, const struct lfs_file_header *h);
/* One more lookup counted on inode, which the caller knows is alive (a
 * request names it), for lfs_inode_release: it then outlives the request's
 * reply, after which the kernel may forget it. */
void lfs_inode_ref(struct lfs_fs *fs, struct lfs_inode *inode);

/* Uses what the backing filesystem can do (cluster/backing.h): where file
 * handles do not outlive the kernel's inode, parked descriptors are
 * reopened by parent and name, and journal records carry no handle. */
void lfs_fs_use_backing(struct lfs_fs *fs, const struct lfs_backing *b);
/* Records where inode was found (parent's backing entry bname), for
 * reopening it by path; a no-op unless parking by path. */
void lfs_inode_set_path(struct lfs_fs *fs, struct lfs_inode *inode, struct lfs_inode *parent,
                        const char *bname);
/* After a rename: the object now at dirfd/bname (parent's) is recorded
 * there, if the table knows it. */
void lfs_inode_moved(struct lfs_fs *fs, struct lfs_inode *parent, int dirfd, const char *bname);

/* Returns the inode's O_PATH descriptor (reopening a parked one) and keeps
 * it open until the matching lfs_inode_unpin. -ESTALE if the backing object
 * is gone. */
int lfs_inode_pin(struct lfs_fs *fs, struct lfs_inode *inode);
void lfs_inode_unpin(struct lfs_fs *fs, struct lfs_inode *inode);
/* Parks some unpinned descriptors now (after EMFILE). False if none could. */
bool lfs_fs_shed_fds(struct lfs_fs *fs);

/* Calls fn on every inode the kernel knows (the root included), with a
 * temporary reference held so that a concurrent forget cannot free it. fn
 * runs without the table lock. */
void lfs_fs_for_each_inode(struct lfs_fs *fs,
                           void (*fn)(struct lfs_fs *, struct lfs_inode *, void *), void *arg);

/* The same over a subset only (fs/inode_sets.c), so that a lock or a shred
 * costs what it concerns and not the whole table:
 *  - LFS_SET_PAGED: the root, every directory, and every regular file opened
 *    since the kernel looked it up (pages only enter the kernel's cache
 *    through an open file: directories are opened without cache_readdir and
 *    symlinks are not cached: ops_dir.c, and no FUSE_CAP_CACHE_SYMLINKS in
 *    ops.c);
 *  - LFS_SET_DIRS: the root and every directory (names the kernel caches);
 *  - LFS_SET_STAGE: the inodes whose stage_id is stage_id. */
enum lfs_inode_set { LFS_SET_PAGED, LFS_SET_DIRS, LFS_SET_STAGE };
void lfs_fs_for_each_in(struct lfs_fs *fs, enum lfs_inode_set set, uint32_t stage_id,
                        void (*fn)(struct lfs_fs *, struct lfs_inode *, void *), void *arg);
/* A file handle was opened on inode: it joins LFS_SET_PAGED. */
void lfs_inode_note_open(struct lfs_fs *fs, struct lfs_inode *inode);
/* Sets the inode's staging id (and stage_root), moving it between lists.
 * Returns whether the id changed. */
bool lfs_inode_set_stage(struct lfs_fs *fs, struct lfs_inode *inode, uint32_t stage_id,
                         bool stage_root);
/* How many inodes the kernel holds a lookup of (status: inodes_cached). */
size_t lfs_fs_inodes_cached(struct lfs_fs *fs);

/* Drops every inode's cached header and directory metadata, and the
 * tail_broken marks: after a recovery changed files under the daemon. Takes
 * each inode's io_lock, so no operation is in the middle of using them. */
void lfs_fs_forget_cached_metadata(struct lfs_fs *fs);

/* Backing path of an inode for *at() calls that cannot take an O_PATH fd. */
#define LFS_PROC_PATH_MAX 64
void lfs_proc_path(int fd, char out[LFS_PROC_PATH_MAX]);

/* Format-1 objects: converts a backing stat into the plaintext view
 * (sizes of regular files and symlinks, st_blocks of regular files: see
 * holes.h). Objects of either format: lfs_attr_stat (fs/attr.h). */
void lfs_stat_to_plain(const struct lfs_fs *fs, struct stat *st);

#endif
