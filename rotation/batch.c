/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's batches of small files (batch.h). */
#define _GNU_SOURCE
#include "batch.h"
#include "convert.h"
#include "record.h"
#include "refile.h"
#include "pass.h"
#include "../common/log.h"
#include "../journal/target.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <sodium.h>

/* The finisher's stack below its loop, wiped when it ends: one file's
 * re-sealing (refile.c: a block of plaintext, the file keys) and the
 * library frames under it. */
#define LFS_ROT_FINISHER_WIPE (64 * 1024)

struct member {
	struct lfs_rot_file f;
	struct lfs_file_header nh;
	uint8_t new_raw[LFS_FILE_HDR_MAX];
	struct lfs_journal_target t; /* also its path for messages */
	unsigned rec;                /* the record that holds its entry */
	int err;
	bool undone; /* its conversion failed and was undone (err says why) */
};

/* One batch: its files, and its records (at most one per member). */
struct set {
	bool use_syncfs; /* syncfs_suffices, asked once per batch */
	unsigned n;
	uint64_t bytes;
	struct member m[LFS_ROT_BATCH_FILES];
	unsigned slot[LFS_ROT_BATCH_FILES];
	bool keep[LFS_ROT_BATCH_FILES];
	unsigned nrec;
	/* The records its members' entries will fill (write_records packs
	 * them in order): how many, and the bytes in the last one. */
	unsigned nrec_planned;
	size_t last_rec_len;
	uint8_t *key;                  /* the journal's MAC key (sodium_malloc) */
	struct lfs_journal_record rec; /* the one being filled */
};

/* A pass's batches: the walker fills one while the finisher thread (the
 * second core) re-seals, syncs and releases the other. */
struct lfs_rot_batch {
	struct walk *w;
	struct set *fill;   /* the walker's */
	struct set *flight; /* handed to the finisher; NULL when it is idle */
	struct set sets[2];
	bool threaded, stop;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static const char *path_of(const struct member *m)
{
	return m->t.path_len ? m->t.path : "(by handle)";
}

static bool still_going(void *ctx)
{
	return lfs_rot_keep_going(ctx);
}

/* Step 1: every member's entry in a record, the records written, the
 * journal synced once (with the last one). nrec: how many were begun. */
static int write_records(struct walk *w, struct set *b, const uint8_t *key, unsigned *nrec)
{
	struct lfs_journal_record *r = &b->rec;
	size_t hdr_len = 0;
	*nrec = 0;
	memset(r, 0, offsetof(struct lfs_journal_record, payload));
	r->bulk = NULL;
	r->bulk_len = 0;
	r->kind = LFS_JK_ROTATE_BATCH;
	for (unsigned i = 0; i <= b->n; i++) {
		struct member *m = i < b->n ? &b->m[i] : NULL;
		int e = 0;
		if (m) {
			hdr_len = lfs_header_len(m->f.oh.version);
			e = lfs_rot_batch_put(r->payload, &r->payload_len, &m->t, m->f.old_raw,
			                      m->new_raw, hdr_len);
			if (e == 0) {
				m->rec = *nrec;
				continue;
			}
			if (e != -E2BIG)
				return e;
		}
		/* This record is full (or the last): written; the last one
		 * synced, which makes every one before it durable too. */
		e = lfs_journal_begin(w->fs->journal, key, r, m == NULL, &b->slot[*nrec]);
		if (e < 0)
			return e;
		b->keep[*nrec] = false;
		(*nrec)++;
		if (!m)
			break;
		r->payload_len = 0;
		if ((e = lfs_rot_batch_put(r->payload, &r->payload_len, &m->t, m->f.old_raw,
		                           m->new_raw, hdr_len)) < 0)
			return e;
		m->rec = *nrec;
	}
	return 0;
}

/* Step 2: a member re-sealed in place, its new header written. */
static int reseal(struct walk *w, struct member *m, const uint8_t *key)
{
	struct lfs_fs *fs = w->fs;
	struct lfs_layout l;
	lfs_layout_init(&l, fs->layout.cipher, m->f.oh.version);
	/* In the durable order, as a single file's (convert_file.c,
	 * sealer_open): the batch's syncfs comes too late for a block torn
	 * after its record was cleared. */
	struct lfs_overwriter ow = {
	    .journal = fs->journal, .key = key, .target = &m->t, .kr = fs->kr, .durable = true};
	uint64_t plain = m->f.plain;
	int e = lfs_refile_unsynced(&l, fs->kr, &ow, m->f.fd, &m->f.oh, &m->nh, m->new_raw, false,
	                            still_going, w, &plain);
	if (e == 0 && ow.kept)
		e = -EIO; /* converted, but a block record stays: finish at recovery */
	if (e == 0 && ow.sync_err)
		e = -ow.sync_err; /* not known to be durable: settled as a failure */
	return e;
}

/* A member whose re-sealing failed half way, other than by a lock (the
 * keys may be gone: the unlock's recovery finishes it), is settled on the
 * live mount as a single file is (convert_file.c): finished from its entry
 * (synced), else undone. Neither: its entry stays for the next recovery. */
static void settle(struct walk *w, struct member *m)
{
	if (m->err == 0 || m->err == -EINTR || m->err == -EACCES)
		return;
	int s = lfs_rot_file_settle(w, &m->f, &m->nh, m->new_raw);
	if (s > 0) {
		lfs_info("rotation: the conversion of %s was finished after a failure (%s)",
		         path_of(m), strerror(-m->err));
		m->err = 0;
	} else if (s == 0) {
		lfs_warn("rotation: the conversion of %s failed (%s) and was undone; the next "
		         "pass tries again",
		         path_of(m), strerror(-m->err));
		m->undone = true;
	}
}

/* Whether one syncfs makes a batch durable and reports its write errors:
 * a local disk filesystem (on a network or FUSE backing, as a shared
 * vault's GlusterFS, syncfs may do nothing) and Linux 5.8 or later, whose
 * syncfs reports writeback errors met since the descriptor was opened. */
static bool syncfs_suffices(int fd)
{
	static const unsigned long local[] = {
	    0xEF53,     /* ext2, ext3, ext4 */
	    0x58465342, /* xfs */
	    0x9123683E, /* btrfs */
	    0xF2F52010, /* f2fs */
	    0x01021994, /* tmpfs: nothing to make durable */
	};
	struct statfs sf;
	struct utsname u;
	unsigned major = 0, minor = 0;
	if (fstatfs(fd, &sf) < 0 || uname(&u) < 0 ||
	    sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	if (major < 5 || (major == 5 && minor < 8))
		return false;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if ((unsigned long)sf.f_type == local[i])
			return true;
	return false;
}

/* Step 3: the data of every member made durable: one syncfs of the backing
 * filesystem (one cache flush for the whole batch) where that is enough,
 * else writeback started for all of them, then each one's fdatasync. */
static void sync_members(struct set *b)
{
	int fd = -1;
	for (unsigned i = 0; i < b->n && fd < 0; i++)
		if (b->m[i].err == 0)
			fd = b->m[i].f.fd;
	if (fd < 0)
		return;
	if (b->use_syncfs) {
		/* A write error of any file of the filesystem fails it: every
		 * member then keeps its record, as a failed fdatasync does. */
		if (syncfs(fd) == 0)
			return;
		int e = -errno;
		for (unsigned i = 0; i < b->n; i++)
			if (b->m[i].err == 0)
				b->m[i].err = e;
		return;
	}
	for (unsigned i = 0; i < b->n; i++)
		if (b->m[i].err == 0)
			sync_file_range(b->m[i].f.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	for (unsigned i = 0; i < b->n; i++)
		if (b->m[i].err == 0 && fdatasync(b->m[i].f.fd) < 0)
			b->m[i].err = -errno;
}

/* The files closed and unlocked; what failed is still in the members,
 * for report(). */
static void release(struct walk *w, struct set *b)
{
	for (unsigned i = 0; i < b->n; i++)
		lfs_rot_file_close(w, &b->m[i].f);
}

/* The walker's side, once the set is done: its failures counted in the
 * pass (the finisher must not touch the walk's counts), the set emptied. */
static void report(struct walk *w, struct set *b)
{
	for (unsigned i = 0; i < b->n; i++)
		if (b->m[i].err)
			lfs_rot_file_error(w, path_of(&b->m[i]), b->m[i].err);
	b->n = 0;
	b->bytes = 0;
}

/* Step 1, the walker's: the records written and synced. Nothing is
 * converted when it fails (every member then carries the error). */
static int begin(struct walk *w, struct set *b)
{
	b->key = sodium_malloc(LFS_JOURNAL_KEY_LEN);
	b->nrec = 0;
	int e = b->key ? lfs_keyring_copy_journal_key(w->fs->kr, b->key) : -ENOMEM;
	if (e == 0)
		e = write_records(w, b, b->key, &b->nrec);
	if (e == 0)
		return 0;
	/* The records begun are void. */
	for (unsigned k = 0; k < b->nrec; k++)
		lfs_journal_end(w->fs->journal, b->slot[k]);
	for (unsigned i = 0; i < b->n; i++)
		b->m[i].err = e;
	if (b->key)
		sodium_free(b->key);
	b->key = NULL;
	release(w, b);
	return e;
}

/* Steps 2 to 5, the finisher's (or the walker's without a second thread):
 * it touches only the set's files, their inodes and the rotation's counts
 * under its lock. */
static void finish(struct walk *w, struct set *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		struct member *m = &b->m[i];
		m->undone = false;
		m->err = reseal(w, m, b->key);
		settle(w, m);
	}
	sodium_free(b->key);
	b->key = NULL;
	sync_members(b);
	for (unsigned i = 0; i < b->n; i++) {
		struct member *m = &b->m[i];
		if (m->err == 0) {
			lfs_rot_file_done(w, &m->f, &m->nh, m->t.path);
			continue;
		}
		/* Undone: as it was, under its old header (synced by the undo);
		 * its entry is void and the next pass tries again. */
		if (m->undone)
			continue;
		/* Half converted, or not known to be durable: its record stays
		 * for the next recovery, which finishes it; until then nothing
		 * else may change the file. */
		b->keep[m->rec] = true;
		lfs_rot_file_broken(&m->f);
	}
	for (unsigned k = 0; k < b->nrec; k++) {
		if (b->keep[k])
			lfs_journal_keep(w->fs->journal, b->slot[k]);
		else
			lfs_rot_record_end(w->fs, b->slot[k]);
	}
	/* The files stay locked: an io_lock is released by the thread that
	 * took it (the walker: drain). */
}

static void *finisher(void *arg)
{
	struct lfs_rot_batch *b = arg;
	pthread_mutex_lock(&b->lock);
	while (!b->stop || b->flight) {
		if (!b->flight) {
			pthread_cond_wait(&b->cond, &b->lock);
			continue;
		}
		struct set *s = b->flight;
		pthread_mutex_unlock(&b->lock);
		finish(b->w, s);
		pthread_mutex_lock(&b->lock);
		b->flight = NULL;
		pthread_cond_broadcast(&b->cond);
	}
	pthread_mutex_unlock(&b->lock);
	/* File keys and plaintext blocks were on this stack (refile.c). */
	sodium_stackzero(LFS_ROT_FINISHER_WIPE);
	return NULL;
}

/* Waits until the finisher is idle, then releases the files of the set it
 * finished (their io_locks are the walker's: glibc's rwlock takes an unlock
 * by another thread for a reader's) and reports its failures. Afterwards
 * the walker holds no lock but those of the set it fills. */
static void drain(struct lfs_rot_batch *b)
{
	if (!b->threaded)
		return;
	pthread_mutex_lock(&b->lock);
	while (b->flight)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	struct set *done = b->fill == &b->sets[0] ? &b->sets[1] : &b->sets[0];
	release(b->w, done);
	report(b->w, done);
}

/* Whether the walker holds io_locks of a set other than the one it fills
 * (in flight, or finished and not yet released). */
static bool holding(struct lfs_rot_batch *b)
{
	return b->threaded && (b->fill == &b->sets[0] ? &b->sets[1] : &b->sets[0])->n > 0;
}

struct lfs_rot_batch *lfs_rot_batch_new(struct walk *w)
{
	struct lfs_rot_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->w = w;
	b->fill = &b->sets[0];
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->threaded = pthread_create(&b->thread, NULL, finisher, b) == 0;
	if (!b->threaded)
		lfs_warn("rotation: no second thread for batches: converting on one");
	return b;
}

void lfs_rot_batch_free(struct lfs_rot_batch *b)
{
	if (!b)
		return;
	lfs_rot_batch_run(b->w);
	drain(b);
	if (b->threaded) {
		pthread_mutex_lock(&b->lock);
		b->stop = true;
		pthread_cond_broadcast(&b->cond);
		pthread_mutex_unlock(&b->lock);
		pthread_join(b->thread, NULL);
	}
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b);
}

void lfs_rot_batch_run(struct walk *w)
{
	struct lfs_rot_batch *pb = w->batch;
	struct set *b = pb ? pb->fill : NULL;
	if (!b || b->n == 0)
		return;
	if (!lfs_rot_keep_going(w)) {
		release(w, b); /* untouched: the next pass after the unlock */
		b->n = 0;
		b->bytes = 0;
		return;
	}
	if (begin(w, b) < 0) {
		report(w, b);
		return;
	}
	if (!pb->threaded) {
		finish(w, b);
		release(w, b);
		report(w, b);
		return;
	}
	/* One set in flight at a time: the finisher's previous one first. */
	drain(pb);
	pthread_mutex_lock(&pb->lock);
	pb->flight = b;
	pb->fill = b == &pb->sets[0] ? &pb->sets[1] : &pb->sets[0];
	pthread_cond_broadcast(&pb->cond);
	pthread_mutex_unlock(&pb->lock);
}

void lfs_rot_batch_drain(struct walk *w)
{
	if (!w->batch)
		return;
	lfs_rot_batch_run(w);
	drain(w->batch);
}

/* Whether an entry of need bytes can join set b: in its last record, or
 * in one more within LFS_ROT_BATCH_RECORDS. */
static bool entry_fits(const struct set *b, size_t need)
{
	return b->n == 0 || b->last_rec_len + need <= LFS_JOURNAL_PAYLOAD_MAX ||
	       b->nrec_planned < LFS_ROT_BATCH_RECORDS;
}

static void entry_added(struct set *b, size_t need)
{
	if (b->n == 0 || b->last_rec_len + need > LFS_JOURNAL_PAYLOAD_MAX) {
		b->nrec_planned = b->n == 0 ? 1 : b->nrec_planned + 1;
		b->last_rec_len = 4 + need; /* (the record's count) */
	} else {
		b->last_rec_len += need;
	}
}

int lfs_rot_batch_add(struct walk *w, int dirfd, const char *name, const char *rel)
{
	struct set *b = w->batch ? w->batch->fill : NULL;
	struct lfs_rot_file f;
	/* While the walker holds io_locks (of the batch it fills, or of the
	 * one in flight), another file's is only tried: a FUSE request holding
	 * it may wait for one of them. */
	int e = lfs_rot_file_open(w, dirfd, name, b && (b->n > 0 || holding(w->batch)), &f);
	if (e == -EBUSY) {
		lfs_rot_batch_drain(w);
		b = w->batch->fill;
		e = lfs_rot_file_open(w, dirfd, name, false, &f);
	}
	if (e != 0)
		return e > 0 ? 0 : e;
	if (!b || f.plain > LFS_ROT_BATCH_FILE_MAX || lfs_rot_file_upconverts(w, &f)) {
		e = lfs_rot_file_convert(w, &f, rel);
		lfs_rot_file_close(w, &f);
		return e;
	}
	struct member *m = &b->m[b->n];
	m->f = f;
	m->err = 0;
	e = lfs_rot_file_new_header(w, &m->f, &m->nh, m->new_raw);
	if (e >= 0) /* the header's length */
		e = lfs_journal_target_of(m->f.fd, w->fs->data_path ? w->fs->data_path : "",
		                          w->fs->handle_mount_fd >= 0, &m->t);
	if (e < 0) {
		lfs_rot_file_close(w, &m->f);
		return e;
	}
	(void)rel; /* the target's path, from the descriptor, is what recovery uses */
	size_t need = lfs_rot_batch_entry_len(&m->t, lfs_header_len(m->f.oh.version));
	if (!entry_fits(b, need)) {
		/* The batch runs without it (its records are as many as a batch
		 * may hold), and it begins the next one. */
		struct member moved = *m;
		lfs_rot_batch_run(w);
		b = w->batch->fill; /* empty now */
		b->m[0] = moved;
		m = &b->m[0];
	}
	entry_added(b, need);
	b->n++;
	b->bytes += f.plain;
	if (b->n == 1)
		b->use_syncfs = syncfs_suffices(m->f.fd);
	if (b->n == LFS_ROT_BATCH_FILES)
		lfs_rot_batch_run(w);
	return 0;
}
