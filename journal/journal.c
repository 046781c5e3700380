/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "journal.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <sodium.h>

/* Slot states in j->busy. */
#define SLOT_FREE  0
#define SLOT_INUSE 1 /* an update in flight */
#define SLOT_KEPT  2 /* a failed update's record, or one a replay has not applied yet */

static const uint8_t file_magic[8] = {'L', 'T', 'H', 'J', 'R', 'N', 'L', '1'};

static off_t slot_offset(const struct lfs_journal *j, unsigned slot)
{
	if (slot < j->nslots)
		return (off_t)LFS_JOURNAL_HDR_LEN + (off_t)slot * LFS_JOURNAL_SLOT_LEN;
	return (off_t)LFS_JOURNAL_HDR_LEN + (off_t)j->nslots * LFS_JOURNAL_SLOT_LEN +
	       (off_t)(slot - j->nslots) * LFS_JOURNAL_LARGE_LEN;
}

static size_t slot_len(const struct lfs_journal *j, unsigned slot)
{
	return slot < j->nslots ? LFS_JOURNAL_SLOT_LEN : LFS_JOURNAL_LARGE_LEN;
}

static off_t file_len(unsigned nslots, unsigned nlarge)
{
	return (off_t)LFS_JOURNAL_HDR_LEN + (off_t)nslots * LFS_JOURNAL_SLOT_LEN +
	       (off_t)nlarge * LFS_JOURNAL_LARGE_LEN;
}

static void encode_header(const uint8_t uuid[16], unsigned nslots, unsigned nlarge, uint8_t *h)
{
	memset(h, 0, LFS_JOURNAL_HDR_LEN);
	memcpy(h, file_magic, sizeof(file_magic));
	put_le16(h + 8, 1);
	put_le32(h + 12, LFS_JOURNAL_SLOT_LEN);
	put_le32(h + 16, nslots);
	put_le32(h + 20, nlarge);
	memcpy(h + 24, uuid, 16);
	put_le32(h + 40, nlarge ? LFS_JOURNAL_LARGE_LEN : 0);
}

static int create_journal(int vault_dirfd, const char *name, const uint8_t uuid[16],
                          unsigned nslots)
{
	unsigned nlarge = LFS_JOURNAL_LARGE_FOR(nslots);
	uint8_t *h = calloc(1, LFS_JOURNAL_HDR_LEN);
	if (!h)
		return -ENOMEM;
	encode_header(uuid, nslots, nlarge, h);
	/* Atomically, so that a crash never leaves a half-written header;
	 * the slots are a sparse tail the size covers. */
	int r = lfs_replace_file(vault_dirfd, name, h, LFS_JOURNAL_HDR_LEN, 0600);
	free(h);
	if (r < 0)
		return r;
	int fd = openat(vault_dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Allocated now where the filesystem can (a full disk must never keep
	 * an update from writing its record), else a sparse tail. */
	off_t len = file_len(nslots, nlarge);
	if (fallocate(fd, 0, 0, len) < 0 && errno != EOPNOTSUPP && errno != ENOSYS &&
	    errno != EINVAL) {
		r = -errno;
		close(fd);
		return r;
	}
	if (ftruncate(fd, len) < 0 || fsync(fd) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int check_header(int fd, const uint8_t uuid[16], unsigned *nslots, unsigned *nlarge)
{
	struct stat st;
	uint8_t h[64];
	size_t got;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	int r = lfs_pread_full(fd, h, sizeof(h), 0, &got);
	if (r < 0)
		return r;
	if (got != sizeof(h) || memcmp(h, file_magic, sizeof(file_magic)) != 0 ||
	    get_le16(h + 8) != 1 || get_le16(h + 10) != 0 ||
	    get_le32(h + 12) != LFS_JOURNAL_SLOT_LEN || !sodium_is_zero(h + 44, sizeof(h) - 44))
		return -EINVAL;
	if (memcmp(h + 24, uuid, 16) != 0)
		return -EINVAL;
	unsigned n = get_le32(h + 16), nl = get_le32(h + 20);
	uint32_t large_len = get_le32(h + 40);
	if (n < LFS_JOURNAL_MIN_SLOTS || n > LFS_JOURNAL_MAX_SLOTS || nl > LFS_JOURNAL_MAX_SLOTS ||
	    large_len != (nl ? LFS_JOURNAL_LARGE_LEN : 0))
		return -EINVAL;
	*nslots = n;
	*nlarge = nl;
	return 0;
}

/* Opens the journal only if it is a regular file: whoever can write the
 * vault could put a device node or a FIFO under its name, and merely
 * opening some devices has effects. The name is resolved once (O_PATH),
 * checked, and the same inode reopened through /proc. */
static int open_regular(int vault_dirfd, const char *name, int flags)
{
	int pfd = openat(vault_dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	struct stat st;
	int fd = fstat(pfd, &st) < 0 ? -errno : 0;
	if (fd == 0 && !S_ISREG(st.st_mode))
		fd = -EINVAL;
	if (fd == 0) {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
		fd = open(proc, flags | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	close(pfd);
	return fd;
}

/* Calls fn(arg, slot, raw, len) for every non-free slot. */
static int for_each_used(struct lfs_journal *j,
                         int (*fn)(void *arg, unsigned slot, const uint8_t *raw, size_t len),
                         void *arg)
{
	uint8_t *buf = malloc(j->nlarge ? LFS_JOURNAL_LARGE_LEN : LFS_JOURNAL_SLOT_LEN);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	for (unsigned s = 0; r == 0 && s < j->nslots + j->nlarge; s++) {
		size_t got;
		/* Is the slot used at all? Most are not: read 4 bytes first. */
		r = lfs_pread_full(j->fd, buf, 4, slot_offset(j, s), &got);
		if (r < 0 || got < 4 || sodium_is_zero(buf, 4))
			continue;
		r = lfs_pread_full(j->fd, buf, slot_len(j, s), slot_offset(j, s), &got);
		if (r == 0)
			r = fn(arg, s, buf, got);
	}
	free(buf);
	return r;
}

static int count_used(void *arg, unsigned slot, const uint8_t *raw, size_t len)
{
	(void)slot, (void)raw, (void)len;
	(*(unsigned *)arg)++;
	return 0;
}

int lfs_journal_pending(struct lfs_journal *j, unsigned *count)
{
	*count = 0;
	return j->fd < 0 ? 0 : for_each_used(j, count_used, count);
}

/* A journal made by an earlier build, or for fewer worker threads, is made
 * anew at a mount when it holds no record (nothing to lose). */
static bool want_anew(struct lfs_journal *j, unsigned want_slots)
{
	if (j->read_only ||
	    (j->nslots >= want_slots && j->nlarge >= LFS_JOURNAL_LARGE_FOR(want_slots)))
		return false;
	unsigned used = 0;
	return lfs_journal_pending(j, &used) == 0 && used == 0;
}

static int open_fd(struct lfs_journal *j, int fd, const uint8_t uuid[16])
{
	unsigned n = 0, nl = 0;
	int r = check_header(fd, uuid, &n, &nl);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* One allocation: synced_at, then busy. */
	j->synced_at = calloc(n + nl, sizeof(*j->synced_at) + 1);
	if (!j->synced_at) {
		close(fd);
		return -ENOMEM;
	}
	j->busy = (uint8_t *)(j->synced_at + n + nl);
	j->fd = fd;
	j->nslots = n;
	j->nlarge = nl;
	j->next_seq = 1;
	return 0;
}

int lfs_journal_open(struct lfs_journal *j, int vault_dirfd, const uint8_t uuid[16], bool create,
                     unsigned want_slots)
{
	return lfs_journal_open_named(j, vault_dirfd, LFS_JOURNAL_FILE_NAME, uuid, create,
	                              want_slots);
}

bool lfs_journal_name_ok(const char *name)
{
	size_t pl = strlen(LFS_JOURNAL_FILE_NAME);
	if (!strcmp(name, LFS_JOURNAL_FILE_NAME))
		return true;
	if (strncmp(name, LFS_JOURNAL_FILE_NAME ".", pl + 1) != 0 || !name[pl + 1] ||
	    strlen(name) > pl + 1 + 64)
		return false;
	for (const char *p = name + pl + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			return false;
	return name[pl + 1] != '.';
}

int lfs_journal_list(int vault_dirfd, int (*fn)(const char *name, void *arg), void *arg)
{
	int err;
	DIR *d = lfs_opendir_fd(vault_dirfd, &err);
	if (!d)
		return err;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!lfs_journal_name_ok(de->d_name))
			continue;
		n++;
		if (fn(de->d_name, arg))
			break;
	}
	closedir(d);
	return n;
}

int lfs_journal_open_named(struct lfs_journal *j, int vault_dirfd, const char *name,
                           const uint8_t uuid[16], bool create, unsigned want_slots)
{
	if (!lfs_journal_name_ok(name))
		return -EINVAL;
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	memcpy(j->uuid, uuid, 16);
	if (want_slots < LFS_JOURNAL_MIN_SLOTS)
		want_slots = LFS_JOURNAL_MIN_SLOTS;
	if (want_slots > LFS_JOURNAL_MAX_SLOTS)
		want_slots = LFS_JOURNAL_MAX_SLOTS;
	bool ro = false;
	int fd = open_regular(vault_dirfd, name, O_RDWR);
	if (fd == -EROFS || fd == -EACCES) {
		fd = open_regular(vault_dirfd, name, O_RDONLY);
		ro = fd >= 0;
	}
	if (fd == -ENOENT && create)
		fd = create_journal(vault_dirfd, name, uuid, want_slots);
	if (fd < 0)
		return fd;
	j->read_only = ro;
	int r = open_fd(j, fd, uuid);
	if (r == 0 && create && want_anew(j, want_slots)) {
		fd = create_journal(vault_dirfd, name, uuid, want_slots);
		if (fd >= 0) {
			close(j->fd);
			free(j->synced_at);
			r = open_fd(j, fd, uuid);
		}
		/* else: keep the journal as it is, which still works */
	}
	if (r < 0) {
		j->fd = -1;
		return r;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->freed, NULL);
	return 0;
}

void lfs_journal_close(struct lfs_journal *j)
{
	if (j->fd < 0)
		return;
	close(j->fd);
	j->fd = -1;
	free(j->synced_at);
	j->synced_at = NULL;
	j->busy = NULL;
	pthread_cond_destroy(&j->freed);
	pthread_mutex_destroy(&j->lock);
}

/* A free slot among [from, to). */
static int take_slot(struct lfs_journal *j, unsigned from, unsigned to, uint64_t *seq,
                     unsigned *slot)
{
	pthread_mutex_lock(&j->lock);
	for (;;) {
		unsigned inuse = 0;
		for (unsigned i = from; i < to; i++) {
			if (j->busy[i] == SLOT_FREE) {
				j->busy[i] = SLOT_INUSE;
				j->synced_at[i] = j->syncs;
				*seq = j->next_seq++;
				j->dirty = true;
				pthread_mutex_unlock(&j->lock);
				*slot = i;
				return 0;
			}
			inuse += j->busy[i] == SLOT_INUSE;
		}
		/* Every slot holds a failed update's record: nothing will free
		 * one before the next recovery. */
		if (inuse == 0) {
			pthread_mutex_unlock(&j->lock);
			return -ENOSPC;
		}
		/* More updates in flight than slots (there are more slots of
		 * each size than worker threads): wait for one to finish. */
		j->waiting++;
		pthread_cond_wait(&j->freed, &j->lock);
		j->waiting--;
	}
}

void lfs_journal_keep(struct lfs_journal *j, unsigned slot)
{
	pthread_mutex_lock(&j->lock);
	j->busy[slot] = SLOT_KEPT;
	if (j->waiting)
		pthread_cond_broadcast(&j->freed);
	pthread_mutex_unlock(&j->lock);
}

/* fdatasync of the journal, counted when it starts and when it ends: a
 * record written before it ends may be on disk. */
static int sync_journal(struct lfs_journal *j)
{
	pthread_mutex_lock(&j->lock);
	j->syncs++;
	j->syncing++;
	pthread_mutex_unlock(&j->lock);
	int r = fdatasync(j->fd) < 0 ? -errno : 0;
	pthread_mutex_lock(&j->lock);
	j->syncing--;
	j->syncs++;
	pthread_mutex_unlock(&j->lock);
	return r;
}

/* Its record cleared: if a sync ran since it was written, the record may
 * be on disk and its clearing not. */
static void release_slot(struct lfs_journal *j, unsigned slot)
{
	pthread_mutex_lock(&j->lock);
	if (j->busy[slot] == SLOT_INUSE && (j->synced_at[slot] != j->syncs || j->syncing))
		j->stale = true;
	j->busy[slot] = SLOT_FREE;
	if (j->waiting)
		pthread_cond_broadcast(&j->freed);
	pthread_mutex_unlock(&j->lock);
}

static int clear_slot(struct lfs_journal *j, unsigned slot)
{
	static const uint8_t zero[4];
	return lfs_pwrite_full(j->fd, zero, sizeof(zero), slot_offset(j, slot));
}

/* The record's head, then its bulk, with one system call. */
static int write_record(struct lfs_journal *j, unsigned s, const uint8_t *head, size_t head_len,
                        const struct lfs_journal_record *r)
{
	if (!r->bulk_len)
		return lfs_pwrite_full(j->fd, head, head_len, slot_offset(j, s));
	struct iovec v[2] = {{.iov_base = (void *)head, .iov_len = head_len},
	                     {.iov_base = (void *)r->bulk, .iov_len = r->bulk_len}};
	size_t want = head_len + r->bulk_len;
	ssize_t n = pwritev(j->fd, v, 2, slot_offset(j, s));
	if (n < 0)
		return -errno;
	if ((size_t)n == want)
		return 0;
	/* Short: finish from where it stopped. */
	size_t done = (size_t)n;
	int e = 0;
	if (done < head_len) {
		e = lfs_pwrite_full(j->fd, head + done, head_len - done,
		                    slot_offset(j, s) + (off_t)done);
		done = head_len;
	}
	if (e == 0)
		e = lfs_pwrite_full(j->fd, r->bulk + (done - head_len), want - done,
		                    slot_offset(j, s) + (off_t)done);
	return e;
}

int lfs_journal_begin(struct lfs_journal *j, const uint8_t key[LFS_JOURNAL_KEY_LEN],
                      struct lfs_journal_record *r, bool sync, unsigned *slot)
{
	if (j->fd < 0)
		return -EROFS;
	bool large = r->bulk_len != 0;
	if (large && (j->nlarge == 0 || r->payload_len > LFS_JOURNAL_PAYLOAD_MAX ||
	              r->bulk_len > LFS_JOURNAL_BULK_ROOM(r->target.path_len, r->payload_len)))
		return -E2BIG;
	uint8_t *buf = malloc(LFS_JOURNAL_SLOT_LEN);
	if (!buf)
		return -ENOMEM;
	unsigned s;
	int e = large ? take_slot(j, j->nslots, j->nslots + j->nlarge, &r->seq, &s)
	              : take_slot(j, 0, j->nslots, &r->seq, &s);
	if (e < 0) {
		free(buf);
		return e;
	}
	ssize_t n = lfs_journal_encode_head(key, j->uuid, s, r, buf);
	e = n < 0 ? (int)n : write_record(j, s, buf, (size_t)n, r);
	if (e == 0 && sync)
		e = sync_journal(j);
	free(buf);
	if (e < 0) {
		/* A partly written record does not authenticate; clear it
		 * anyway so that nobody reports it as a torn update. */
		if (clear_slot(j, s) == 0)
			release_slot(j, s);
		return e;
	}
	*slot = s;
	return 0;
}

int lfs_journal_end(struct lfs_journal *j, unsigned slot)
{
	int e = clear_slot(j, slot);
	if (e < 0) {
		lfs_journal_keep(j, slot); /* its record is still there */
		return e;
	}
	release_slot(j, slot);
	return 0;
}

int lfs_journal_sync(struct lfs_journal *j)
{
	if (j->fd < 0)
		return 0;
	pthread_mutex_lock(&j->lock);
	bool dirty = j->dirty;
	j->dirty = false;
	pthread_mutex_unlock(&j->lock);
	return dirty ? sync_journal(j) : 0;
}

int lfs_journal_settle(struct lfs_journal *j)
{
	if (j->fd < 0 || j->read_only)
		return 0;
	pthread_mutex_lock(&j->lock);
	bool stale = j->stale;
	j->stale = false;
	pthread_mutex_unlock(&j->lock);
	if (!stale)
		return 0;
	int r = sync_journal(j);
	if (r < 0) {
		pthread_mutex_lock(&j->lock);
		j->stale = true;
		pthread_mutex_unlock(&j->lock);
	}
	return r;
}

struct found {
	unsigned slot;
	bool images; /* LFS_JK_OVERWRITE: applied first */
	uint64_t seq;
};

struct collect {
	const uint8_t *key;
	struct lfs_journal *j;
	struct found *found;
	unsigned n;
	unsigned rejected;
	struct lfs_journal_record *rec;
};

static int collect_one(void *arg, unsigned slot, const uint8_t *raw, size_t len)
{
	struct collect *c = arg;
	if (lfs_journal_decode(c->key, c->j->uuid, slot, raw, len, c->rec) < 0) {
		c->rejected++;
		return 0;
	}
	c->found[c->n].slot = slot;
	c->found[c->n].images = c->rec->kind == LFS_JK_OVERWRITE;
	c->found[c->n].seq = c->rec->seq;
	c->n++;
	return 0;
}

static bool applies_before(const struct found *a, const struct found *b)
{
	if (a->images != b->images)
		return a->images;
	return a->seq < b->seq;
}

static void set_state(struct lfs_journal *j, unsigned slot, uint8_t state)
{
	pthread_mutex_lock(&j->lock);
	j->busy[slot] = state;
	if (state == SLOT_FREE && j->waiting)
		pthread_cond_broadcast(&j->freed);
	pthread_mutex_unlock(&j->lock);
}

int lfs_journal_replay(struct lfs_journal *j, const uint8_t key[LFS_JOURNAL_KEY_LEN],
                       lfs_journal_apply_fn fn, void *arg, unsigned *rejected)
{
	*rejected = 0;
	if (j->fd < 0)
		return 0;
	struct collect c = {.key = key, .j = j};
	c.found = calloc(j->nslots + j->nlarge, sizeof(*c.found));
	c.rec = malloc(sizeof(*c.rec));
	int r = c.found && c.rec ? for_each_used(j, collect_one, &c) : -ENOMEM;
	/* Few records: a simple insertion sort. */
	for (unsigned i = 1; r == 0 && i < c.n; i++)
		for (unsigned k = i; k > 0 && applies_before(&c.found[k], &c.found[k - 1]); k--) {
			struct found t = c.found[k];
			c.found[k] = c.found[k - 1];
			c.found[k - 1] = t;
		}
	/* Records fn writes while it runs must not land in a slot whose
	 * record is still to be applied. */
	for (unsigned i = 0; r == 0 && i < c.n; i++)
		if (j->busy[c.found[i].slot] == SLOT_FREE)
			set_state(j, c.found[i].slot, SLOT_KEPT);
	int applied = 0;
	uint8_t *buf =
	    r == 0 ? malloc(j->nlarge ? LFS_JOURNAL_LARGE_LEN : LFS_JOURNAL_SLOT_LEN) : NULL;
	if (r == 0 && !buf)
		r = -ENOMEM;
	for (unsigned i = 0; r == 0 && i < c.n; i++) {
		size_t got;
		unsigned s = c.found[i].slot;
		r = lfs_pread_full(j->fd, buf, slot_len(j, s), slot_offset(j, s), &got);
		if (r < 0 || lfs_journal_decode(key, j->uuid, s, buf, got, c.rec) < 0)
			continue;
		if (c.rec->seq >= j->next_seq)
			j->next_seq = c.rec->seq + 1;
		if (fn(arg, c.rec) < 0)
			continue; /* kept: the next recovery tries again */
		if ((r = clear_slot(j, s)) == 0) {
			applied++;
			set_state(j, s, SLOT_FREE);
		}
	}
	if (r == 0 && applied)
		r = sync_journal(j);
	free(buf);
	free(c.rec);
	free(c.found);
	*rejected = c.rejected;
	return r < 0 ? r : applied;
}

struct clear_ctx {
	const uint8_t *key;
	struct lfs_journal *j;
	struct lfs_journal_record *rec;
	int cleared;
};

static int clear_if_rejected(void *arg, unsigned slot, const uint8_t *raw, size_t len)
{
	struct clear_ctx *c = arg;
	if (lfs_journal_decode(c->key, c->j->uuid, slot, raw, len, c->rec) == 0)
		return 0;
	int r = clear_slot(c->j, slot);
	if (r == 0)
		c->cleared++;
	return r;
}

int lfs_journal_clear_rejected(struct lfs_journal *j, const uint8_t key[LFS_JOURNAL_KEY_LEN])
{
	if (j->fd < 0)
		return 0;
	struct clear_ctx c = {.key = key, .j = j, .rec = malloc(sizeof(struct lfs_journal_record))};
	if (!c.rec)
		return -ENOMEM;
	int r = for_each_used(j, clear_if_rejected, &c);
	free(c.rec);
	if (r == 0 && c.cleared)
		r = sync_journal(j);
	return r < 0 ? r : c.cleared;
}
