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
#include <unistd.h>
#include <sodium.h>

/* Slot states in j->busy. */
#define SLOT_FREE  0
#define SLOT_INUSE 1 /* an update in flight */
#define SLOT_KEPT  2 /* a failed update's record, left for the next recovery */

static const uint8_t file_magic[8] = {'L', 'T', 'H', 'J', 'R', 'N', 'L', '1'};
static const uint8_t rec_magic[4] = {'L', 'T', 'H', 'R'};
#define REC_VERSION 1u
/* Domain separation: a journal MAC is never a MAC of anything else. */
static const char mac_domain[] = "lethefs journal record v1";

static off_t slot_offset(unsigned slot)
{
	return (off_t)LFS_JOURNAL_HDR_LEN + (off_t)slot * LFS_JOURNAL_SLOT_LEN;
}

static void compute_mac(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                        unsigned slot, const uint8_t *rec, size_t len, uint8_t mac[32])
{
	crypto_generichash_state st;
	uint8_t slot_le[4];
	put_le32(slot_le, slot);
	crypto_generichash_init(&st, key, LFS_JOURNAL_KEY_LEN, 32);
	crypto_generichash_update(&st, (const uint8_t *)mac_domain, sizeof(mac_domain));
	crypto_generichash_update(&st, uuid, 16);
	crypto_generichash_update(&st, slot_le, sizeof(slot_le));
	crypto_generichash_update(&st, rec, len);
	crypto_generichash_final(&st, mac, 32);
	sodium_memzero(&st, sizeof(st));
}

/* A path recovery may open below the vault: relative, no NUL, no empty,
 * "." or ".." component (so it cannot leave the vault). */
static bool path_ok(const char *p, size_t len)
{
	if (len == 0)
		return true;
	if (p[0] == '/' || memchr(p, '\0', len))
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		size_t n = i - start;
		if (n == 0 || (n == 1 && p[start] == '.') ||
		    (n == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

int lfs_journal_encode(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                       unsigned slot, const struct lfs_journal_record *r, uint8_t *out)
{
	const struct lfs_journal_target *t = &r->target;
	if (r->kind == 0 || r->kind > LFS_JK_MAX || t->handle_len > LFS_JOURNAL_HANDLE_MAX ||
	    t->path_len > LFS_JOURNAL_PATH_MAX || r->payload_len > LFS_JOURNAL_PAYLOAD_MAX ||
	    !path_ok(t->path, t->path_len))
		return -EINVAL;
	memset(out, 0, LFS_JOURNAL_SLOT_LEN);
	memcpy(out, rec_magic, 4);
	out[4] = REC_VERSION;
	out[5] = r->kind;
	put_le64(out + 8, r->seq);
	put_le64(out + 16, t->dev);
	put_le64(out + 24, t->ino);
	put_le32(out + 32, (uint32_t)t->handle_type);
	put_le32(out + 36, t->handle_len);
	memcpy(out + 40, t->handle, t->handle_len);
	put_le32(out + 168, t->path_len);
	put_le32(out + 172, r->payload_len);
	size_t len = LFS_JOURNAL_REC_FIXED;
	memcpy(out + len, t->path, t->path_len);
	len += t->path_len;
	memcpy(out + len, r->payload, r->payload_len);
	len += r->payload_len;
	compute_mac(key, uuid, slot, out, len, out + len);
	return 0;
}

/* Length of the record in a slot (MAC included), from its fixed part. */
static int record_len(const uint8_t *in, size_t len, size_t *total)
{
	if (len < LFS_JOURNAL_REC_FIXED)
		return -EINVAL;
	uint32_t path_len = get_le32(in + 168), payload_len = get_le32(in + 172);
	if (path_len > LFS_JOURNAL_PATH_MAX || payload_len > LFS_JOURNAL_PAYLOAD_MAX)
		return -EINVAL;
	*total = LFS_JOURNAL_REC_FIXED + path_len + payload_len + LFS_JOURNAL_MAC_LEN;
	return *total <= len ? 0 : -EINVAL;
}

int lfs_journal_decode(const uint8_t key[LFS_JOURNAL_KEY_LEN], const uint8_t uuid[16],
                       unsigned slot, const uint8_t *in, size_t len, struct lfs_journal_record *r)
{
	static const uint8_t free_slot[4];
	if (len < 4 || memcmp(in, free_slot, 4) == 0)
		return -ENOENT;
	size_t total;
	if (memcmp(in, rec_magic, 4) != 0 || record_len(in, len, &total) < 0)
		return -EINVAL;
	/* Authenticate before trusting any field beyond the lengths. */
	size_t body = total - LFS_JOURNAL_MAC_LEN;
	uint8_t mac[32];
	compute_mac(key, uuid, slot, in, body, mac);
	int ok = sodium_memcmp(mac, in + body, sizeof(mac)) == 0;
	sodium_memzero(mac, sizeof(mac));
	if (!ok)
		return -EBADMSG;
	/* Authentic, so written by lethefs; still check it as strictly as if
	 * it were not, so that a bug cannot turn into a wild recovery. */
	struct lfs_journal_target *t = &r->target;
	memset(t, 0, sizeof(*t));
	r->kind = in[5];
	t->handle_len = get_le32(in + 36);
	t->path_len = get_le32(in + 168);
	r->payload_len = get_le32(in + 172);
	if (in[4] != REC_VERSION || r->kind == 0 || r->kind > LFS_JK_MAX || get_le16(in + 6) != 0 ||
	    get_le64(in + 176) != 0 || t->handle_len > LFS_JOURNAL_HANDLE_MAX ||
	    !sodium_is_zero(in + 40 + t->handle_len, LFS_JOURNAL_HANDLE_MAX - t->handle_len))
		return -EINVAL;
	r->seq = get_le64(in + 8);
	t->dev = get_le64(in + 16);
	t->ino = get_le64(in + 24);
	t->handle_type = (int32_t)get_le32(in + 32);
	memcpy(t->handle, in + 40, t->handle_len);
	memcpy(t->path, in + LFS_JOURNAL_REC_FIXED, t->path_len);
	t->path[t->path_len] = '\0';
	if (!path_ok(t->path, t->path_len))
		return -EINVAL;
	memcpy(r->payload, in + LFS_JOURNAL_REC_FIXED + t->path_len, r->payload_len);
	return 0;
}

static void encode_header(const uint8_t uuid[16], unsigned nslots, uint8_t *h)
{
	memset(h, 0, LFS_JOURNAL_HDR_LEN);
	memcpy(h, file_magic, sizeof(file_magic));
	put_le16(h + 8, 1);
	put_le32(h + 12, LFS_JOURNAL_SLOT_LEN);
	put_le32(h + 16, nslots);
	memcpy(h + 24, uuid, 16);
}

static int create_journal(int vault_dirfd, const char *name, const uint8_t uuid[16],
                          unsigned nslots)
{
	uint8_t *h = calloc(1, LFS_JOURNAL_HDR_LEN);
	if (!h)
		return -ENOMEM;
	encode_header(uuid, nslots, h);
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
	if (fallocate(fd, 0, 0, slot_offset(nslots)) < 0 && errno != EOPNOTSUPP &&
	    errno != ENOSYS && errno != EINVAL) {
		r = -errno;
		close(fd);
		return r;
	}
	if (ftruncate(fd, slot_offset(nslots)) < 0 || fsync(fd) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int check_header(int fd, const uint8_t uuid[16], unsigned *nslots)
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
	    get_le32(h + 12) != LFS_JOURNAL_SLOT_LEN || get_le32(h + 20) != 0 ||
	    !sodium_is_zero(h + 40, sizeof(h) - 40))
		return -EINVAL;
	if (memcmp(h + 24, uuid, 16) != 0)
		return -EINVAL;
	unsigned n = get_le32(h + 16);
	if (n < LFS_JOURNAL_MIN_SLOTS || n > LFS_JOURNAL_MAX_SLOTS)
		return -EINVAL;
	*nslots = n;
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
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == '_'))
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
	unsigned n = 0;
	int r = check_header(fd, uuid, &n);
	if (r < 0) {
		close(fd);
		return r;
	}
	j->busy = calloc(n, 1);
	if (!j->busy) {
		close(fd);
		return -ENOMEM;
	}
	j->fd = fd;
	j->read_only = ro;
	j->nslots = n;
	j->next_seq = 1;
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
	free(j->busy);
	j->busy = NULL;
	pthread_cond_destroy(&j->freed);
	pthread_mutex_destroy(&j->lock);
}

/* Slot states in j->busy. */
#define SLOT_FREE  0
#define SLOT_INUSE 1 /* an update in flight */
#define SLOT_KEPT  2 /* a failed update's record, left for the next recovery */

static int take_slot(struct lfs_journal *j, uint64_t *seq, unsigned *slot)
{
	pthread_mutex_lock(&j->lock);
	for (;;) {
		unsigned inuse = 0;
		for (unsigned i = 0; i < j->nslots; i++) {
			if (j->busy[i] == SLOT_FREE) {
				j->busy[i] = SLOT_INUSE;
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
		/* More updates in flight than slots (nslots is far above the
		 * worker thread count): wait for one to finish. */
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

static void release_slot(struct lfs_journal *j, unsigned slot)
{
	pthread_mutex_lock(&j->lock);
	j->busy[slot] = SLOT_FREE;
	if (j->waiting)
		pthread_cond_signal(&j->freed);
	pthread_mutex_unlock(&j->lock);
}

int lfs_journal_begin(struct lfs_journal *j, const uint8_t key[LFS_JOURNAL_KEY_LEN],
                      struct lfs_journal_record *r, bool sync, unsigned *slot)
{
	if (j->fd < 0)
		return -EROFS;
	uint8_t *buf = malloc(LFS_JOURNAL_SLOT_LEN);
	if (!buf)
		return -ENOMEM;
	unsigned s;
	int e = take_slot(j, &r->seq, &s);
	if (e < 0) {
		free(buf);
		return e;
	}
	e = lfs_journal_encode(key, j->uuid, s, r, buf);
	if (e == 0) {
		size_t total = 0;
		record_len(buf, LFS_JOURNAL_SLOT_LEN, &total);
		e = lfs_pwrite_full(j->fd, buf, total, slot_offset(s));
	}
	if (e == 0 && sync && fdatasync(j->fd) < 0)
		e = -errno;
	free(buf);
	if (e < 0) {
		/* A partly written record does not authenticate; clear it
		 * anyway so that nobody reports it as a torn update. */
		static const uint8_t zero[4];
		if (lfs_pwrite_full(j->fd, zero, sizeof(zero), slot_offset(s)) == 0)
			release_slot(j, s);
		return e;
	}
	*slot = s;
	return 0;
}

int lfs_journal_end(struct lfs_journal *j, unsigned slot)
{
	static const uint8_t zero[4];
	int e = lfs_pwrite_full(j->fd, zero, sizeof(zero), slot_offset(slot));
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
	if (dirty && fdatasync(j->fd) < 0)
		return -errno;
	return 0;
}

/* Calls fn(arg, slot, raw, len) for every non-free slot. */
static int for_each_used(struct lfs_journal *j,
                         int (*fn)(void *arg, unsigned slot, const uint8_t *raw, size_t len),
                         void *arg)
{
	uint8_t *buf = malloc(LFS_JOURNAL_SLOT_LEN);
	if (!buf)
		return -ENOMEM;
	int r = 0;
	for (unsigned s = 0; r == 0 && s < j->nslots; s++) {
		size_t got;
		r = lfs_pread_full(j->fd, buf, LFS_JOURNAL_SLOT_LEN, slot_offset(s), &got);
		if (r == 0 && got >= 4 && !sodium_is_zero(buf, 4))
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

struct collect {
	const uint8_t *key;
	struct lfs_journal *j;
	unsigned *slots;
	uint64_t *seqs;
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
	c->slots[c->n] = slot;
	c->seqs[c->n] = c->rec->seq;
	c->n++;
	return 0;
}

int lfs_journal_replay(struct lfs_journal *j, const uint8_t key[LFS_JOURNAL_KEY_LEN],
                       lfs_journal_apply_fn fn, void *arg, unsigned *rejected)
{
	*rejected = 0;
	if (j->fd < 0)
		return 0;
	struct collect c = {.key = key, .j = j};
	c.slots = calloc(j->nslots, sizeof(*c.slots));
	c.seqs = calloc(j->nslots, sizeof(*c.seqs));
	c.rec = malloc(sizeof(*c.rec));
	int r = c.slots && c.seqs && c.rec ? for_each_used(j, collect_one, &c) : -ENOMEM;
	/* Oldest first; few records, so a simple insertion sort. */
	for (unsigned i = 1; r == 0 && i < c.n; i++)
		for (unsigned k = i; k > 0 && c.seqs[k - 1] > c.seqs[k]; k--) {
			uint64_t ts = c.seqs[k];
			unsigned tl = c.slots[k];
			c.seqs[k] = c.seqs[k - 1], c.slots[k] = c.slots[k - 1];
			c.seqs[k - 1] = ts, c.slots[k - 1] = tl;
		}
	int applied = 0;
	uint8_t *buf = r == 0 ? malloc(LFS_JOURNAL_SLOT_LEN) : NULL;
	if (r == 0 && !buf)
		r = -ENOMEM;
	for (unsigned i = 0; r == 0 && i < c.n; i++) {
		size_t got;
		unsigned s = c.slots[i];
		r = lfs_pread_full(j->fd, buf, LFS_JOURNAL_SLOT_LEN, slot_offset(s), &got);
		if (r < 0 || lfs_journal_decode(key, j->uuid, s, buf, got, c.rec) < 0)
			continue;
		if (c.rec->seq >= j->next_seq)
			j->next_seq = c.rec->seq + 1;
		if (fn(arg, c.rec) < 0)
			continue; /* kept: the next recovery tries again */
		static const uint8_t zero[4];
		if ((r = lfs_pwrite_full(j->fd, zero, sizeof(zero), slot_offset(s))) == 0) {
			applied++;
			/* A slot kept by a failed update is free again. */
			pthread_mutex_lock(&j->lock);
			if (j->busy[s] == SLOT_KEPT)
				j->busy[s] = SLOT_FREE;
			pthread_mutex_unlock(&j->lock);
		}
	}
	if (r == 0 && applied && fdatasync(j->fd) < 0)
		r = -errno;
	free(buf);
	free(c.rec);
	free(c.seqs);
	free(c.slots);
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
	static const uint8_t zero[4];
	int r = lfs_pwrite_full(c->j->fd, zero, sizeof(zero), slot_offset(slot));
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
	if (r == 0 && c.cleared && fdatasync(j->fd) < 0)
		r = -errno;
	return r < 0 ? r : c.cleared;
}
