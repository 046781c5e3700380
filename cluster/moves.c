/* SPDX-License-Identifier: Apache-2.0 */
/* Renames and links on other hosts, for a rotation's retirement check:
 * moves.h says how. */
#define _GNU_SOURCE
#include "moves.h"
#include "rangelock.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../common/monotonic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char magic[8] = {'l', 'f', 's', 'm', 'o', 'v', 'e', '1'};

/* Writes the count of runs into this host's record. */
static int publish(struct lfs_xmoves *m)
{
	uint8_t buf[LFS_MOVES_LEN];
	memcpy(buf, magic, sizeof(magic));
	for (int i = 0; i < 8; i++)
		buf[8 + i] = (uint8_t)(m->runs >> (8 * i));
	return lfs_pwrite_full(m->hostfd, buf, sizeof(buf), LFS_MOVES_OFFSET);
}

int lfs_xmoves_open(struct lfs_xmoves *m, int vault_dirfd, int hostfd)
{
	memset(m, 0, sizeof(*m));
	m->lockfd = -1;
	m->hostfd = hostfd;
	int fd = openat(vault_dirfd, LFS_LEASE_FILE_NAME, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	int r = publish(m);
	if (r < 0) {
		close(fd);
		return r;
	}
	m->lockfd = fd;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->idle, NULL);
	return 0;
}

void lfs_xmoves_close(struct lfs_xmoves *m)
{
	if (m->lockfd < 0)
		return;
	close(m->lockfd);
	m->lockfd = -1;
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->idle);
}

int lfs_xmoves_begin(struct lfs_xmoves *m)
{
	pthread_mutex_lock(&m->lock);
	/* A long run takes no more moves: it ends, so that a walker waiting
	 * for byte 5 gets it (moves on this host could overlap for ever). */
	while (m->busy > 0 && lfs_monotonic_seconds() - m->run_start > LFS_MOVES_RUN_MS / 1000.0)
		pthread_cond_wait(&m->idle, &m->lock);
	int r = 0;
	if (m->busy == 0) {
		/* Bytes 5 and 6: waits while a walker holds either (its barrier);
		 * byte 6 is let go at once, so that the walker's wait for it ends
		 * whatever runs here. */
		if (!m->held &&
		    (r = lfs_range_lock(m->lockfd, false, LFS_LEASE_MOVES, 2, true)) == 0)
			m->held = true;
		if (r == 0)
			lfs_range_unlock(m->lockfd, LFS_LEASE_MOVES_INTENT, 1);
		m->run_start = lfs_monotonic_seconds();
	}
	if (r == 0)
		m->busy++;
	pthread_mutex_unlock(&m->lock);
	return r;
}

void lfs_xmoves_end(struct lfs_xmoves *m)
{
	pthread_mutex_lock(&m->lock);
	if (m->busy > 0 && --m->busy == 0) {
		m->runs++;
		/* The count first: a walker that finds byte 5 free after the run
		 * finds the new count. Not written: byte 5 stays held (every
		 * count sees a move under way) until the next run writes it. */
		int r = publish(m);
		if (r == 0) {
			lfs_range_unlock(m->lockfd, LFS_LEASE_MOVES, 1);
			m->held = false;
		} else if (!m->warned) {
			m->warned = true;
			lfs_warn("cannot write this host's count of renames into its record: %s; a "
			         "rotation keeps its older epochs until it can",
			         strerror(-r));
		}
		pthread_cond_broadcast(&m->idle);
	}
	pthread_mutex_unlock(&m->lock);
}

/* 64-bit FNV-1a. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct look {
	int dirfd;
	struct lfs_xmoves_view *v;
};

static int look_one(const struct lfs_host_info *h, void *arg)
{
	struct look *lk = arg;
	char name[sizeof(LFS_HOST_FILE_PREFIX) + LFS_HOST_NAME_MAX];
	snprintf(name, sizeof(name), "%s%s", LFS_HOST_FILE_PREFIX, h->host);
	uint8_t buf[LFS_MOVES_LEN];
	size_t got = 0;
	int fd = openat(lk->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	bool have = fd >= 0 && lfs_pread_full(fd, buf, sizeof(buf), LFS_MOVES_OFFSET, &got) == 0 &&
	            got == sizeof(buf) && memcmp(buf, magic, sizeof(magic)) == 0;
	if (fd >= 0)
		close(fd);
	if (!have)
		memset(buf, 0, sizeof(buf));
	if (!have && h->live && !strcmp(h->mode, "shared") && !lk->v->silent[0])
		snprintf(lk->v->silent, sizeof(lk->v->silent), "%s", h->host);
	uint8_t live = h->live;
	uint64_t d = fnv(14695981039346656037ULL, h->host, strlen(h->host) + 1);
	d = fnv(d, &live, 1);
	d = fnv(d, buf, sizeof(buf));
	lk->v->digest += d; /* the order of the listing does not matter */
	lk->v->hosts++;
	return 0;
}

static int probe(int leasefd, struct lfs_xmoves_view *v)
{
	bool held = false;
	int r = lfs_range_held(leasefd, true, LFS_LEASE_MOVES, 1, &held);
	if (r == 0 && held)
		v->busy = true;
	return r;
}

int lfs_xmoves_look(int vault_dirfd, int leasefd, bool probe_first, struct lfs_xmoves_view *v)
{
	memset(v, 0, sizeof(*v));
	struct look lk = {vault_dirfd, v};
	int r = probe_first ? probe(leasefd, v) : 0;
	if (r == 0) {
		int n = lfs_hosts_list(vault_dirfd, look_one, &lk);
		r = n < 0 ? n : 0;
	}
	if (r == 0 && !probe_first)
		r = probe(leasefd, v);
	return r;
}

int lfs_xmoves_barrier(int leasefd, unsigned timeout_ms)
{
	double end = lfs_monotonic_seconds() + timeout_ms / 1000.0;
	int r = lfs_range_lock_timed(leasefd, true, LFS_LEASE_MOVES_INTENT, 1, timeout_ms);
	if (r < 0)
		return r;
	double left = end - lfs_monotonic_seconds();
	r = lfs_range_lock_timed(leasefd, true, LFS_LEASE_MOVES, 1,
	                         left > 0 ? (unsigned)(left * 1000) : 0);
	if (r < 0)
		lfs_range_unlock(leasefd, LFS_LEASE_MOVES_INTENT, 1);
	return r;
}

void lfs_xmoves_barrier_end(int leasefd)
{
	lfs_range_unlock(leasefd, LFS_LEASE_MOVES, 2);
}
