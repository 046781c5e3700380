/* SPDX-License-Identifier: Apache-2.0 */
#include "dirseen.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* All listings' sets together stay under this (8 bytes per returned
 * entry): a local user holding many listings of a huge directory open
 * cannot grow the daemon without bound. Past it a listing stops keeping
 * names (its restart may then repeat some, and says so). */
#define BUDGET_BYTES ((size_t)64 << 20)
static atomic_size_t bytes_in_use;

static bool reserve(size_t n)
{
	size_t cur = atomic_load(&bytes_in_use);
	do {
		if (cur + n > BUDGET_BYTES)
			return false;
	} while (!atomic_compare_exchange_weak(&bytes_in_use, &cur, cur + n));
	return true;
}

void lfs_dirseen_init(struct lfs_dirseen *s)
{
	memset(s, 0, sizeof(*s));
	crypto_shorthash_keygen(s->key);
}

size_t lfs_dirseen_bytes_in_use(void)
{
	return atomic_load(&bytes_in_use);
}

void lfs_dirseen_free(struct lfs_dirseen *s)
{
	atomic_fetch_sub(&bytes_in_use, s->cap * sizeof(*s->h));
	free(s->h);
	sodium_memzero(s, sizeof(*s));
}

void lfs_dirseen_clear(struct lfs_dirseen *s)
{
	s->n = 0;
	s->sorted = 0;
	s->filtering = false;
	s->lost = false;
}

static uint64_t hash_of(const struct lfs_dirseen *s, const char *name)
{
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, (const unsigned char *)name, strlen(name), s->key);
	uint64_t v;
	memcpy(&v, out, sizeof(v));
	return v;
}

void lfs_dirseen_add(struct lfs_dirseen *s, const char *name)
{
	if (s->lost)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		if (!reserve((cap - s->cap) * sizeof(*s->h))) {
			s->lost = true;
			return;
		}
		uint64_t *h = realloc(s->h, cap * sizeof(*h));
		if (!h) {
			atomic_fetch_sub(&bytes_in_use, (cap - s->cap) * sizeof(*s->h));
			s->lost = true;
			return;
		}
		s->h = h;
		s->cap = cap;
	}
	s->h[s->n++] = hash_of(s, name);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

bool lfs_dirseen_restart(struct lfs_dirseen *s)
{
	if (s->n > 0) /* (no array yet when nothing was returned: qsort wants one) */
		qsort(s->h, s->n, sizeof(*s->h), cmp_u64);
	s->sorted = s->n;
	s->filtering = s->n > 0;
	return !s->lost;
}

bool lfs_dirseen_has(const struct lfs_dirseen *s, const char *name)
{
	if (!s->filtering)
		return false;
	uint64_t v = hash_of(s, name);
	return bsearch(&v, s->h, s->sorted, sizeof(*s->h), cmp_u64) != NULL;
}
