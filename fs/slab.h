/* SPDX-License-Identifier: Apache-2.0 */
/* A slab allocator of fixed-size zeroed objects whose memory goes back to
 * the system as soon as a slab empties (munmap). The inode table allocates
 * from it: the daemon runs under mlockall, where glibc's malloc_trim cannot
 * discard free pages in the middle of the heap (madvise fails on locked
 * pages), so a freed inode's memory stayed resident for the daemon's life
 * (docs/PERFORMANCE.md, "Memory"). */
#ifndef LETHEFS_SLAB_H
#define LETHEFS_SLAB_H

#include <pthread.h>
#include <stddef.h>

struct lfs_slab_page;

struct lfs_slab {
	pthread_mutex_t lock;
	size_t obj_size;               /* rounded up to 16 bytes */
	size_t per_page;               /* objects per slab */
	struct lfs_slab_page *partial; /* slabs with a free object */
	size_t pages;                  /* slabs mapped */
	size_t live;                   /* objects handed out */
};

/* Fails (-EINVAL) for objects too large for a slab. */
int lfs_slab_init(struct lfs_slab *s, size_t obj_size);
/* Unmaps every slab; objects still live are gone with them. */
void lfs_slab_destroy(struct lfs_slab *s);
/* A zeroed object, or NULL when no memory could be mapped. */
void *lfs_slab_alloc(struct lfs_slab *s);
/* Gives an object back; its slab is unmapped once it holds none. */
void lfs_slab_free(struct lfs_slab *s, void *obj);

#endif
