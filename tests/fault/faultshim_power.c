/* SPDX-License-Identifier: Apache-2.0 */
/* Fault-injection shim, power-cut mode (docs/TESTING.md, "A power cut").
 *
 * A process crash (_exit) keeps every write in the page cache. A power cut
 * keeps on disk what was synced plus any subset of the page writebacks
 * since: each 4 KiB page of a file independently, and the file's length
 * either old or new. This module models that for the files under the
 * vault: before a tracked call changes a file it keeps, once per page per
 * sync interval, the page's bytes as they were (its pre-image) and the
 * file's length before its first change; a sync of the file forgets them
 * (that state is now on disk). At the cut it picks, with a seeded PRNG, for
 * every remembered page the new bytes or the pre-image, and for every file
 * the new or the old length, writes that state into the files and returns
 * to the core, which _exits. The next mount then finds what a disk could
 * hold after the power came back.
 *
 * Everything here runs under the core's lock, so no tracked call runs
 * between a pre-image and the change it precedes, or during the cut.
 * Directory operations are not tracked: they are kept, as an ext4 metadata
 * journal keeps them in order (the model's limit). */
#define _GNU_SOURCE
#include "faultshim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE          4096LL
#define DEFAULT_MAX   (256LL << 20)
#define OVERFLOW_EXIT 99

struct page {
	long long index;
	unsigned char *old; /* PAGE bytes: what the page held at the last sync */
};

/* One file changed since its last sync. */
struct tracked {
	dev_t dev;
	ino_t ino;
	int fd;             /* our own descriptor: the daemon may close its own */
	long long old_len;  /* the length at its first change since the sync */
	struct page *pages; /* sorted by index */
	size_t npages, cap;
	char rel[PATH_MAX]; /* path below the vault when first changed, for the log */
};

static struct {
	struct tracked *files;
	size_t nfiles, cap;
	long long bytes, max_bytes;
	uint64_t rng;
} P;

void power_init(void)
{
	const char *seed = getenv("LFS_FAULT_SEED");
	P.rng = seed ? strtoull(seed, NULL, 10) : 1;
	const char *max = getenv("LFS_FAULT_POWER_MAX_MB");
	P.max_bytes = max && *max ? strtoll(max, NULL, 10) << 20 : DEFAULT_MAX;
	if (P.max_bytes <= 0)
		P.max_bytes = DEFAULT_MAX;
}

/* splitmix64: a fixed, seeded sequence, so that (N, seed) names one state. */
static bool coin(void)
{
	uint64_t z = (P.rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return ((z ^ (z >> 31)) >> 63) != 0;
}

/* Pre-images beyond the bound would let one test eat the machine; a run
 * that needs more must sync more often or raise LFS_FAULT_POWER_MAX_MB, so
 * stop loudly rather than model the cut wrongly. */
static void overflow(void)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg),
	                 "faultshim: power-cut: pre-images would exceed %lld MiB "
	                 "(LFS_FAULT_POWER_MAX_MB); refusing to go on (exit %d)\n",
	                 P.max_bytes >> 20, OVERFLOW_EXIT);
	if (n > 0 && real_write(2, msg, (size_t)n) < 0)
		n = 0; /* nothing more to do: we exit either way */
	shim_log_text("power-cut-overflow");
	_exit(OVERFLOW_EXIT);
}

static struct tracked *find(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < P.nfiles; i++)
		if (P.files[i].dev == dev && P.files[i].ino == ino)
			return &P.files[i];
	return NULL;
}

static void forget(struct tracked *t)
{
	for (size_t i = 0; i < t->npages; i++) {
		free(t->pages[i].old);
		P.bytes -= PAGE;
	}
	free(t->pages);
	if (t->fd >= 0)
		close(t->fd);
	*t = P.files[--P.nfiles];
}

/* The entry of the regular file open as fd (made at its first change, with
 * a descriptor of our own that can read and write it), or NULL when fd is
 * not a regular file or cannot be reopened. */
static struct tracked *track_fd(int fd, const char *rel)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	struct tracked *t = find(st.st_dev, st.st_ino);
	if (t)
		return t;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	/* The magic link reopens the very file (even unlinked): no O_NOFOLLOW. */
	int own = real_open(proc, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (own < 0)
		return NULL;
	if (P.nfiles == P.cap) {
		size_t cap = P.cap ? 2 * P.cap : 64;
		struct tracked *f = realloc(P.files, cap * sizeof(*f));
		if (!f) {
			close(own);
			overflow();
		}
		P.files = f;
		P.cap = cap;
	}
	t = &P.files[P.nfiles++];
	memset(t, 0, sizeof(*t));
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->fd = own;
	t->old_len = st.st_size;
	snprintf(t->rel, sizeof(t->rel), "%s", rel ? rel : "?");
	return t;
}

/* The same for a path (truncate(2), an open with O_TRUNC): only an
 * existing regular file, never opened if it is anything else (a FIFO
 * planted in the vault must not block the daemon). */
static struct tracked *track_path(const char *path, const char *rel)
{
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	int fd = real_open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct tracked *t = track_fd(fd, rel);
	close(fd);
	return t;
}

/* Index in t->pages where page idx is or would go. */
static size_t page_slot(const struct tracked *t, long long idx)
{
	size_t lo = 0, hi = t->npages;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->pages[mid].index < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Keeps the pre-image of every page of [off, end) not kept yet. */
static void note_range(struct tracked *t, long long off, long long end)
{
	if (off < 0 || end <= off)
		return;
	for (long long idx = off / PAGE; idx * PAGE < end; idx++) {
		size_t at = page_slot(t, idx);
		if (at < t->npages && t->pages[at].index == idx)
			continue;
		if (P.bytes + PAGE > P.max_bytes)
			overflow();
		unsigned char *old = calloc(1, PAGE);
		if (!old)
			overflow();
		/* What is beyond the end reads as zeros, which a disk that kept
		 * a longer length without this page's data would show too. */
		ssize_t got = pread(t->fd, old, PAGE, idx * PAGE);
		if (got < 0) {
			free(old); /* unreadable now: nothing to put back later */
			continue;
		}
		if (t->npages == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 16;
			struct page *p = realloc(t->pages, cap * sizeof(*p));
			if (!p) {
				free(old);
				overflow();
			}
			t->pages = p;
			t->cap = cap;
		}
		memmove(&t->pages[at + 1], &t->pages[at], (t->npages - at) * sizeof(*t->pages));
		t->pages[at].index = idx;
		t->pages[at].old = old;
		t->npages++;
		P.bytes += PAGE;
	}
}

static long long file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long long)st.st_size : -1;
}

void power_before(const struct call *c)
{
	struct tracked *t;
	long long size;
	switch (c->pc) {
	case PC_WRITE:
		if (!(t = track_fd(c->fd, c->rel)))
			return;
		note_range(t, c->off, c->off + c->len);
		return;
	case PC_TRUNCATE:
		t = c->fd >= 0 ? track_fd(c->fd, c->rel) : track_path(c->path, c->rel);
		if (t && (size = file_size(t->fd)) > c->off)
			note_range(t, c->off, size); /* a cut: the bytes it drops */
		return;
	case PC_OPEN_TRUNC:
		if ((t = track_path(c->path, c->rel)) && (size = file_size(t->fd)) > 0)
			note_range(t, 0, size);
		return;
	case PC_FALLOCATE:
		/* KEEP_SIZE alone only reserves space: nothing visible changes.
		 * Growing changes the length only. Punching, zeroing, collapsing
		 * and inserting change bytes (the last two all after off). */
		if (c->flags == FALLOC_FL_KEEP_SIZE || !(t = track_fd(c->fd, c->rel)))
			return;
		size = file_size(t->fd);
		if (c->flags & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))
			note_range(t, c->off, size);
		else if (c->flags & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
			note_range(t, c->off, c->off + c->len < size ? c->off + c->len : size);
		return;
	default:
		return;
	}
}

/* The pages of [off, end) reached the disk (and the length with them). */
static void durable_range(struct tracked *t, long long off, long long end, bool length)
{
	size_t keep = 0;
	for (size_t i = 0; i < t->npages; i++) {
		long long p = t->pages[i].index * PAGE;
		if (p + PAGE > off && p < end) {
			free(t->pages[i].old);
			P.bytes -= PAGE;
		} else {
			t->pages[keep++] = t->pages[i];
		}
	}
	t->npages = keep;
	if (length)
		t->old_len = file_size(t->fd);
}

void power_after(const struct call *c, long ret)
{
	struct stat st;
	if (ret < 0 || c->fd < 0 || fstat(c->fd, &st) < 0)
		return;
	struct tracked *t = find(st.st_dev, st.st_ino);
	switch (c->pc) {
	case PC_SYNC: /* fsync, fdatasync: data and length on disk */
		if (t)
			forget(t);
		return;
	case PC_SYNCFS: /* every file of that file system */
		for (size_t i = 0; i < P.nfiles;)
			if (P.files[i].dev == st.st_dev)
				forget(&P.files[i]);
			else
				i++;
		return;
	case PC_SYNC_RANGE: /* written and waited for: those pages, not the length */
		if (t && (c->flags & SYNC_FILE_RANGE_WRITE) &&
		    (c->flags & SYNC_FILE_RANGE_WAIT_AFTER))
			durable_range(t, c->off, c->len ? c->off + c->len : LLONG_MAX, false);
		return;
	case PC_WRITE: {
		/* O_DSYNC / O_SYNC descriptors and RWF_DSYNC / RWF_SYNC writes
		 * return once the pages they wrote and the length are on disk. */
		int fl = fcntl(c->fd, F_GETFL);
		bool sync = (fl >= 0 && (fl & O_DSYNC)) || (c->flags & (RWF_DSYNC | RWF_SYNC));
		if (t && sync)
			durable_range(t, c->off, c->off + ret, true);
		return;
	}
	default:
		return;
	}
}

/* Appends "a-b," ranges of page indexes to buf. */
static void list_pages(char *buf, size_t size, const long long *idx, size_t n)
{
	size_t used = strlen(buf);
	for (size_t i = 0; i < n && used + 32 < size;) {
		size_t j = i;
		while (j + 1 < n && idx[j + 1] == idx[j] + 1)
			j++;
		int w = i == j
		            ? snprintf(buf + used, size - used, "%s%lld", used ? "," : "", idx[i])
		            : snprintf(buf + used, size - used, "%s%lld-%lld", used ? "," : "",
		                       idx[i], idx[j]);
		if (w < 0)
			return;
		used += (size_t)w;
		i = j + 1;
	}
}

/* Puts one file in the state a disk may hold: the new or the old length,
 * each remembered page new or old. Logs what it chose. */
static void cut_file(struct tracked *t)
{
	long long cur = file_size(t->fd);
	if (cur < 0)
		return;
	bool keep_len = coin();
	long long final = keep_len ? cur : t->old_len;
	char line[2 * PATH_MAX];
	char olds[PATH_MAX / 2] = "";
	long long *reverted = calloc(t->npages + 1, sizeof(*reverted));
	size_t nrev = 0;
	int err = 0;
	if (final > cur && real_ftruncate(t->fd, final) < 0)
		err = errno;
	for (size_t i = 0; i < t->npages; i++) {
		long long p = t->pages[i].index * PAGE;
		/* A page wholly past the current end exists only in its
		 * pre-image: a shrink dropped it. A disk that kept the old length
		 * did not commit the shrink, and a file system frees blocks in
		 * the same transaction as it shrinks, so the page is as it was
		 * (not zeros). Any other page: kept or put back by the draw. */
		if (p < cur && coin())
			continue; /* this page was written back */
		if (p >= final)
			continue; /* beyond the end the disk keeps: nothing to put back */
		size_t n = (size_t)(final - p < PAGE ? final - p : PAGE);
		if (real_pwrite(t->fd, t->pages[i].old, n, p) != (ssize_t)n)
			err = errno ? errno : EIO;
		if (reverted)
			reverted[nrev++] = t->pages[i].index;
	}
	if (final < cur && real_ftruncate(t->fd, final) < 0)
		err = errno;
	if (reverted)
		list_pages(olds, sizeof(olds), reverted, nrev);
	free(reverted);
	snprintf(line, sizeof(line),
	         "power-cut\t%s\tlen %lld->%lld kept %lld\tpages %zu old=%s%s%s", t->rel,
	         t->old_len, cur, final, t->npages, olds[0] ? olds : "-", err ? " error=" : "",
	         err ? strerror(err) : "");
	shim_log_text(line);
}

void power_cut(void)
{
	for (size_t i = 0; i < P.nfiles; i++)
		cut_file(&P.files[i]);
}
