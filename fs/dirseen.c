/* SPDX-License-Identifier: Apache-2.0 */
#include "dirseen.h"

#include <stdlib.h>
#include <string.h>

void lfs_dirseen_init(struct lfs_dirseen *s)
{
	memset(s, 0, sizeof(*s));
	crypto_shorthash_keygen(s->key);
}

void lfs_dirseen_free(struct lfs_dirseen *s)
{
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
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		uint64_t *h = realloc(s->h, cap * sizeof(*h));
		if (!h) {
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
