/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "fs.h"
#include "holes.h"
#include "inode_int.h"
#include "longlink.h"
#include "prefetch.h"
#include "sharedwb.h"
#include "../cluster/backing.h"
#include "names.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LFS_MIN_BUCKETS 1024

static size_t hash_key(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev;
	return (size_t)(h >> 16) & (nbuckets - 1);
}

/* Bucket arrays are mapped directly, so that a shrunk table's old array
 * goes back to the system (the heap cannot give back locked pages). */
static struct lfs_inode **buckets_alloc(size_t n)
{
	void *m = mmap(NULL, n * sizeof(struct lfs_inode *), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

static void buckets_free(struct lfs_inode **b, size_t n)
{
	if (b)
		munmap(b, n * sizeof(*b));
}

int lfs_fs_init(struct lfs_fs *fs, struct lfs_keyring *kr, int data_dir_fd, const char *vault_path)
{
	struct stat st;
	memset(fs, 0, sizeof(*fs));
	if (fstat(data_dir_fd, &st) < 0)
		return -errno;
	fs->kr = kr;
	fs->vault_path = vault_path;
	lfs_layout_init(&fs->layout, kr->cipher, LFS_FILE_V1);
	pthread_mutex_init(&fs->table_lock, NULL);
	if (lfs_slab_init(&fs->inode_slab, sizeof(struct lfs_inode)) < 0)
		return -EINVAL;
	pthread_mutex_init(&fs->report_lock, NULL);
	pthread_mutex_init(&fs->swb_lock, NULL);
	fs->nbuckets = LFS_MIN_BUCKETS;
	fs->buckets = buckets_alloc(fs->nbuckets);
	fs->reported = calloc(LFS_REPORTED_MAX, sizeof(*fs->reported));
	fs->fd_budget = lfs_fdpark_budget();
	/* The closer's queue holds descriptors the budget no longer counts:
	 * an eighth of the limit at most (the budget is half of it). */
	if (!fs->buckets || !fs->reported ||
	    lfs_closer_init(&fs->closer, lfs_closer_capacity(fs->fd_budget)) < 0) {
		if (fs->buckets)
			buckets_free(fs->buckets, fs->nbuckets);
		free(fs->reported);
		lfs_slab_destroy(&fs->inode_slab);
		return -ENOMEM;
	}
	fs->root.fd = data_dir_fd;
	fs->root.wfd = -1;
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	fs->root.type = S_IFDIR;
	fs->root.nlookup = 2; /* never freed */
	pthread_rwlock_init(&fs->root.io_lock, NULL);
	pthread_mutex_init(&fs->root.meta_lock, NULL);
	fs->entry_timeout = 1.0;
	fs->attr_timeout = 1.0;
	fs->root.fd_pins = 1; /* never parked */
	fs->euid = geteuid();
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	fs->last_active = now.tv_sec;
	pthread_mutex_init(&fs->fd_lock, NULL);
	fs->open_fds = 1;
	fs->handle_mount_fd = lfs_fdpark_handles_usable(data_dir_fd);
	lfs_workpool_init(&fs->lookups, LFS_LOOKUP_HELPERS);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned sealers = cpus > 1 ? (unsigned)(cpus - 1) : 0, max = LFS_SEAL_HELPERS_MAX;
	lfs_workpool_init(&fs->sealers, sealers < max ? sealers : max);
	return 0;
}

static void inode_init_locks(struct lfs_inode *inode)
{
	pthread_rwlock_init(&inode->io_lock, NULL);
	pthread_mutex_init(&inode->meta_lock, NULL);
	/* Monotonic: a wall-clock step must not stretch a gap wait. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&inode->size_changed, &ca);
	pthread_condattr_destroy(&ca);
}

static void inode_destroy_locks(struct lfs_inode *inode)
{
	pthread_rwlock_destroy(&inode->io_lock);
	pthread_mutex_destroy(&inode->meta_lock);
	pthread_cond_destroy(&inode->size_changed);
}

static void inode_free(struct lfs_fs *fs, struct lfs_inode *inode)
{
	pthread_mutex_lock(&fs->fd_lock);
	lfs_fdpark_drop(fs, inode);
	int fd = inode->fd;
	inode->fd = -1;
	if (fd >= 0)
		fs->open_fds--;
	pthread_mutex_unlock(&fs->fd_lock);
	/* Closed outside fd_lock: the last reference to a removed file makes
	 * this close free its blocks (with -o discard, a synchronous discard
	 * of them), and every pin and unpin of every request waits for
	 * fd_lock (docs/PERFORMANCE.md, "Tree work at many files"). */
	if (fd >= 0)
		lfs_closer_close(&fs->closer, fd);
	lfs_swb_destroy(fs, inode);
	if (inode->fh != (struct file_handle *)inode->fh_inline)
		free(inode->fh);
	free(inode->bname);
	inode_destroy_locks(inode);
	lfs_slab_free(&fs->inode_slab, inode);
}

void lfs_fs_destroy(struct lfs_fs *fs)
{
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct lfs_inode *n = fs->buckets[i];
		while (n) {
			struct lfs_inode *next = n->hash.next;
			inode_free(fs, n);
			n = next;
		}
	}
	while (fs->unhashed) {
		struct lfs_inode *next = fs->unhashed->hash.next;
		inode_free(fs, fs->unhashed);
		fs->unhashed = next;
	}
	lfs_closer_destroy(&fs->closer);
	lfs_workpool_destroy(&fs->lookups);
	lfs_workpool_destroy(&fs->sealers);
	buckets_free(fs->buckets, fs->nbuckets);
	lfs_slab_destroy(&fs->inode_slab);
	free(fs->reported);
	fs->reported = NULL;
	close(fs->root.fd);
	if (fs->handle_mount_fd >= 0)
		close(fs->handle_mount_fd);
	pthread_mutex_destroy(&fs->fd_lock);
	pthread_mutex_destroy(&fs->report_lock);
	pthread_mutex_destroy(&fs->swb_lock);
}

/* Rehashes into nb buckets: twice as many when the table grows past one
 * inode per bucket, a quarter when it falls below one per eight (after the
 * kernel forgot), never below LFS_MIN_BUCKETS. */
static void resize_table(struct lfs_fs *fs, size_t nb)
{
	struct lfs_inode **b = buckets_alloc(nb);
	if (!b)
		return; /* keep the old table: slower or larger, still correct */
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct lfs_inode *n = fs->buckets[i];
		while (n) {
			struct lfs_inode *next = n->hash.next;
			n->hash.pprev = NULL;
			lfs_list_add(&b[hash_key(n->dev, n->ino, nb)], n, LFS_HASH_LINK);
			n = next;
		}
	}
	buckets_free(fs->buckets, fs->nbuckets);
	fs->buckets = b;
	fs->nbuckets = nb;
}

/* Whether table entry n still is the object fd refers to. An inode whose
 * descriptor is open keeps its backing inode alive, so its number cannot
 * have been reused. A parked one holds no reference: its object may have
 * been deleted and its number given to a new file, which the file handle
 * (it carries a generation) tells apart. Called with table_lock held. */
static bool same_object(struct lfs_fs *fs, struct lfs_inode *n, int fd)
{
	pthread_mutex_lock(&fs->fd_lock);
	bool same = n->fd >= 0 || !n->fh;
	if (!same) {
		struct lfs_handle_buf hb;
		struct file_handle *fh = &hb.fh;
		int mount_id;
		fh->handle_bytes = MAX_HANDLE_SZ;
		same = name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) < 0 ||
		       (fh->handle_type == n->fh->handle_type &&
		        fh->handle_bytes == n->fh->handle_bytes &&
		        memcmp(fh->f_handle, n->fh->f_handle, fh->handle_bytes) == 0);
	}
	pthread_mutex_unlock(&fs->fd_lock);
	return same;
}

/* Moves a stale entry to the unhashed list, where the kernel's remaining
 * lookups keep it until forgotten (and unmount frees it). */
static void unhash(struct lfs_fs *fs, struct lfs_inode *inode)
{
	lfs_list_del(inode, LFS_HASH_LINK);
	fs->ninodes--;
	inode->unhashed = true;
	lfs_list_add(&fs->unhashed, inode, LFS_HASH_LINK);
	fs->nunhashed++;
}

/* Takes a forgotten inode off every list, in O(1) (table_lock held). */
static void drop_from_table(struct lfs_fs *fs, struct lfs_inode *inode)
{
	lfs_list_del(inode, LFS_HASH_LINK);
	if (inode->unhashed)
		fs->nunhashed--;
	else
		fs->ninodes--;
	lfs_list_del(inode, LFS_SET_LINK);
	lfs_list_del(inode, LFS_STAGE_LINK);
	if (fs->nbuckets > LFS_MIN_BUCKETS && fs->ninodes < fs->nbuckets / 8)
		resize_table(fs, fs->nbuckets / 4 > LFS_MIN_BUCKETS ? fs->nbuckets / 4
		                                                    : LFS_MIN_BUCKETS);
}

/* The table's entry for the object st describes (fd open on it), or NULL;
 * a stale entry of that number is unhashed. Called with table_lock held. */
static struct lfs_inode *find_known(struct lfs_fs *fs, const struct stat *st, int fd, size_t h)
{
	for (struct lfs_inode *n = fs->buckets[h]; n; n = n->hash.next) {
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			if (same_object(fs, n, fd))
				return n;
			unhash(fs, n);
			return NULL;
		}
	}
	return NULL;
}

struct lfs_inode *lfs_inode_get(struct lfs_fs *fs, int fd, const struct stat *st, int *err)
{
	return lfs_inode_get_pinned(fs, fd, st, err, NULL);
}

struct lfs_inode *lfs_inode_get_pinned(struct lfs_fs *fs, int fd, const struct stat *st, int *err,
                                       bool *pinned)
{
	if (pinned)
		*pinned = false;
	if (st->st_dev == fs->root.dev && st->st_ino == fs->root.ino) {
		close(fd);
		pthread_mutex_lock(&fs->table_lock);
		fs->root.nlookup++;
		pthread_mutex_unlock(&fs->table_lock);
		return &fs->root;
	}
	/* A new inode is made outside table_lock, which every lookup takes: a
	 * new slab is an mmap, and the other lookups of a listing
	 * (fs->lookups) waited for it (perf of a du of 100,000 files on -o
	 * iattr: table_lock's waits were a tenth of the daemon's CPU). So the
	 * table is searched, and searched again once the inode is made (the
	 * object may have come in meanwhile); a known object costs one. */
	struct lfs_inode *inode = NULL;
	size_t h;
	for (;;) {
		pthread_mutex_lock(&fs->table_lock);
		h = hash_key(st->st_dev, st->st_ino, fs->nbuckets);
		struct lfs_inode *n = find_known(fs, st, fd, h);
		if (n) {
			n->nlookup++;
			pthread_mutex_unlock(&fs->table_lock);
			close(fd);
			if (inode) {
				inode_destroy_locks(inode);
				lfs_slab_free(&fs->inode_slab, inode);
			}
			return n;
		}
		if (inode)
			break; /* table_lock held */
		pthread_mutex_unlock(&fs->table_lock);
		inode = lfs_slab_alloc(&fs->inode_slab);
		if (!inode) {
			close(fd);
			*err = ENOMEM;
			return NULL;
		}
		inode_init_locks(inode);
		lfs_fdpark_prepare(fs, inode, fd);
	}
	inode->fd = fd;
	inode->wfd = -1;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->type = st->st_mode & S_IFMT;
	inode->nlookup = 1;
	/* Pinned before anyone else can see it: its unpin lets it join the
	 * LRU list (and parks the list's tail when over budget). */
	inode->fd_pins = pinned ? 1 : 0;
	lfs_list_add(&fs->buckets[h], inode, LFS_HASH_LINK);
	if (inode->type == S_IFDIR)
		lfs_list_add(&fs->dirs, inode, LFS_SET_LINK);
	pthread_mutex_lock(&fs->fd_lock);
	fs->open_fds++;
	if (!pinned)
		lfs_fdpark_release(fs, inode);
	pthread_mutex_unlock(&fs->fd_lock);
	if (pinned)
		*pinned = true;
	if (++fs->ninodes > fs->nbuckets)
		resize_table(fs, fs->nbuckets * 2);
	pthread_mutex_unlock(&fs->table_lock);
	return inode;
}

void lfs_inode_forget(struct lfs_fs *fs, struct lfs_inode *inode, uint64_t n)
{
	/* A freed inode releases the lookup it held of its parent (parking by
	 * path), which may free that one too: a loop, not a recursion. */
	while (inode) {
		pthread_mutex_lock(&fs->table_lock);
		if (n > inode->nlookup) {
			/* The kernel never forgets more than it looked up; if it
			 * did our counting is broken and continuing risks a
			 * use-after-free. */
			fprintf(stderr, "lethefs: lookup count underflow\n");
			abort();
		}
		inode->nlookup -= n;
		if (inode->nlookup != 0 || inode == &fs->root) {
			pthread_mutex_unlock(&fs->table_lock);
			return;
		}
		drop_from_table(fs, inode);
		struct lfs_inode *parent = inode->parent;
		pthread_mutex_unlock(&fs->table_lock);
		inode_free(fs, inode);
		inode = parent;
		n = 1;
	}
}

void lfs_inode_set_path(struct lfs_fs *fs, struct lfs_inode *in, struct lfs_inode *parent,
                        const char *bname)
{
	if (!fs->park_by_path || in == &fs->root || in == parent)
		return;
	pthread_mutex_lock(&fs->fd_lock);
	bool same = in->parent == parent && in->bname && strcmp(in->bname, bname) == 0;
	pthread_mutex_unlock(&fs->fd_lock);
	if (same)
		return;
	char *copy = strdup(bname);
	if (!copy)
		return;
	pthread_mutex_lock(&fs->table_lock);
	parent->nlookup++;
	pthread_mutex_lock(&fs->fd_lock);
	struct lfs_inode *old = in->parent;
	char *old_name = in->bname;
	in->parent = parent;
	in->bname = copy;
	pthread_mutex_unlock(&fs->fd_lock);
	pthread_mutex_unlock(&fs->table_lock);
	free(old_name);
	if (old)
		lfs_inode_forget(fs, old, 1);
}

void lfs_inode_moved(struct lfs_fs *fs, struct lfs_inode *parent, int dirfd, const char *bname)
{
	struct stat st;
	if (!fs->park_by_path || fstatat(dirfd, bname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	pthread_mutex_lock(&fs->table_lock);
	struct lfs_inode *found = NULL;
	size_t h = hash_key(st.st_dev, st.st_ino, fs->nbuckets);
	for (struct lfs_inode *n = fs->buckets[h]; n; n = n->hash.next)
		if (n->dev == st.st_dev && n->ino == st.st_ino)
			found = n;
	if (found)
		found->nlookup++; /* kept while its path is set */
	pthread_mutex_unlock(&fs->table_lock);
	if (found) {
		lfs_inode_set_path(fs, found, parent, bname);
		lfs_inode_forget(fs, found, 1);
	}
}

void lfs_fs_use_backing(struct lfs_fs *fs, const struct lfs_backing *b)
{
	fs->backing = b;
	if (fs->iattr && b && b->probed && !b->user_xattrs) {
		/* Headers then, as before: an attribute could not be kept. */
		lfs_info("inode attributes off: the backing filesystem (%s) keeps no user. xattrs",
		         b->fstype);
		fs->iattr = false;
	}
	lfs_prefetch_enable(!fs->iattr);
	/* Without a header read per file a lookup is CPU work, and helpers
	 * beyond the online CPUs only queue for the table's and the pool's
	 * locks: one helper per CPU (with the handler, one thread more than
	 * CPUs, for the inode reads that still wait on the disk). 2 CPUs, du
	 * of 100,000 files on -o iattr: about half the context switches and
	 * a tenth less CPU than 3 helpers (docs/PERFORMANCE.md). */
	if (fs->iattr) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		lfs_workpool_cap(&fs->lookups, cpus > 0 ? (unsigned)cpus : 1);
	}
	if (!b || !b->probed || b->handles_persistent)
		return;
	if (fs->handle_mount_fd >= 0)
		close(fs->handle_mount_fd);
	fs->handle_mount_fd = -1;
	fs->park_by_path = true;
}

void lfs_proc_path(int fd, char out[LFS_PROC_PATH_MAX])
{
	snprintf(out, LFS_PROC_PATH_MAX, "/proc/self/fd/%d", fd);
}

void lfs_stat_to_plain(const struct lfs_fs *fs, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		uint64_t plain;
		lfs_plain_size(&fs->layout, (uint64_t)st->st_size, &plain);
		st->st_blocks = lfs_holes_blocks(&fs->layout, st);
		st->st_size = (off_t)plain;
	} else if (S_ISLNK(st->st_mode) && st->st_size != LFS_LONGLINK_REF_LEN) {
		/* (a long target's reference: lfs_link_fix_size knows its size) */
		st->st_size = (off_t)lfs_link_plain_len((size_t)st->st_size);
	}
}

struct lfs_inode *lfs_inode_hold(struct lfs_fs *fs, int dirfd, const char *name)
{
	if (!name)
		return &fs->root;
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	/* lfs_inode_get owns fd from here, also when it fails. */
	int err = 0;
	struct lfs_inode *in = lfs_inode_get(fs, fd, &st, &err);
	if (!in)
		errno = err;
	return in;
}

struct lfs_inode *lfs_inode_find(struct lfs_fs *fs, const struct stat *st)
{
	if (st->st_dev == fs->root.dev && st->st_ino == fs->root.ino)
		return &fs->root;
	pthread_mutex_lock(&fs->table_lock);
	struct lfs_inode *found = NULL;
	size_t h = hash_key(st->st_dev, st->st_ino, fs->nbuckets);
	for (struct lfs_inode *n = fs->buckets[h]; n && !found; n = n->hash.next)
		if (n->dev == st->st_dev && n->ino == st->st_ino)
			found = n;
	if (found)
		found->nlookup++;
	pthread_mutex_unlock(&fs->table_lock);
	return found;
}

struct lfs_inode *lfs_inode_find_fd(struct lfs_fs *fs, int fd, const struct stat *st)
{
	if (st->st_dev == fs->root.dev && st->st_ino == fs->root.ino)
		return &fs->root;
	pthread_mutex_lock(&fs->table_lock);
	struct lfs_inode *found =
	    find_known(fs, st, fd, hash_key(st->st_dev, st->st_ino, fs->nbuckets));
	if (found)
		found->nlookup++;
	pthread_mutex_unlock(&fs->table_lock);
	return found;
}

void lfs_inode_rekey(struct lfs_fs *fs, struct lfs_inode *in, const struct stat *st)
{
	pthread_mutex_lock(&fs->table_lock);
	size_t h = hash_key(st->st_dev, st->st_ino, fs->nbuckets);
	/* The object is new (made by the caller): an entry of its number is
	 * of an object deleted since, whose number was given again. */
	struct lfs_inode *n = fs->buckets[h];
	while (n) {
		struct lfs_inode *next = n->hash.next;
		if (n != in && n->dev == st->st_dev && n->ino == st->st_ino)
			unhash(fs, n);
		n = next;
	}
	bool hashed = !in->unhashed;
	if (hashed)
		lfs_list_del(in, LFS_HASH_LINK);
	pthread_mutex_lock(&fs->fd_lock); /* reopen_by_path reads them under it */
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	pthread_mutex_unlock(&fs->fd_lock);
	if (hashed)
		lfs_list_add(&fs->buckets[h], in, LFS_HASH_LINK);
	pthread_mutex_unlock(&fs->table_lock);
}

void lfs_inode_ref(struct lfs_fs *fs, struct lfs_inode *inode)
{
	if (inode == &fs->root)
		return;
	pthread_mutex_lock(&fs->table_lock);
	inode->nlookup++;
	pthread_mutex_unlock(&fs->table_lock);
}

void lfs_inode_release(struct lfs_fs *fs, struct lfs_inode *inode)
{
	if (inode != &fs->root)
		lfs_inode_forget(fs, inode, 1);
}

static void forget_cached(struct lfs_fs *fs, struct lfs_inode *in, void *arg)
{
	(void)fs, (void)arg;
	pthread_rwlock_wrlock(&in->io_lock);
	pthread_mutex_lock(&in->meta_lock);
	in->have_header = false;
	in->have_dirmeta = false;
	in->have_rec = false;
	in->iattr_src = false;
	in->iattr_bound = false;
	in->tail_broken = false;
	in->noacl = 0;
	in->acl_gen++;
	pthread_mutex_unlock(&in->meta_lock);
	pthread_rwlock_unlock(&in->io_lock);
}

void lfs_fs_forget_cached_metadata(struct lfs_fs *fs)
{
	lfs_fs_for_each_inode(fs, forget_cached, NULL);
}
