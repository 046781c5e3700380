/* SPDX-License-Identifier: Apache-2.0 */
/* Slabs are LFS_SLAB_BYTES long and aligned to their size, so the slab of an
 * object is its address rounded down. A slab's header holds its free list;
 * objects never handed out are taken in order ("fresh") before the free
 * list is built, so a new slab costs no pass over its objects. */
#define _GNU_SOURCE
#include "slab.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define LFS_SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LFS_SLAB_ASAN 1
#endif
#endif
#ifdef LFS_SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* 16 KiB: small enough that a few inodes the kernel keeps (the ones in use)
 * pin little memory once it forgets the rest. */
#ifndef LFS_SLAB_BYTES /* (-D for measurements) */
#define LFS_SLAB_BYTES 16384u
#endif
#define HEADER_BYTES 64u

struct lfs_slab_page {
	struct lfs_slab_page *next, *prev; /* in s->partial while not full */
	void *free;                        /* objects given back */
	size_t used;                       /* objects handed out */
	size_t fresh;                      /* objects never handed out start here */
	bool in_partial;
};

_Static_assert(sizeof(struct lfs_slab_page) <= HEADER_BYTES, "slab header too large");

int lfs_slab_init(struct lfs_slab *s, size_t obj_size)
{
	memset(s, 0, sizeof(*s));
	s->obj_size = (obj_size + 15) & ~(size_t)15;
	if (obj_size == 0 || s->obj_size > (LFS_SLAB_BYTES - HEADER_BYTES) / 4)
		return -EINVAL;
	s->per_page = (LFS_SLAB_BYTES - HEADER_BYTES) / s->obj_size;
	pthread_mutex_init(&s->lock, NULL);
	return 0;
}

static void partial_add(struct lfs_slab *s, struct lfs_slab_page *p)
{
	p->prev = NULL;
	p->next = s->partial;
	if (s->partial)
		s->partial->prev = p;
	s->partial = p;
	p->in_partial = true;
}

static void partial_remove(struct lfs_slab *s, struct lfs_slab_page *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		s->partial = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	p->in_partial = false;
}

/* A new slab, aligned to its size. The kernel usually places a mapping
 * right below the previous one, which is then aligned too and merges with
 * its neighbours into one mapping: at a million inodes, 25,000 separate
 * slabs would come near vm.max_map_count (65,530), past which mmap fails.
 * When it is not aligned: map twice the size and unmap the rest (the hole
 * this leaves is where the next slab will fit). */
static struct lfs_slab_page *page_map(void)
{
	uint8_t *m =
	    mmap(NULL, LFS_SLAB_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (((uintptr_t)m & (LFS_SLAB_BYTES - 1)) == 0) {
		POISON(m + HEADER_BYTES, LFS_SLAB_BYTES - HEADER_BYTES);
		return (struct lfs_slab_page *)m;
	}
	munmap(m, LFS_SLAB_BYTES);
	size_t len = 2 * (size_t)LFS_SLAB_BYTES;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	uintptr_t start = ((uintptr_t)m + LFS_SLAB_BYTES - 1) & ~(uintptr_t)(LFS_SLAB_BYTES - 1);
	size_t head = start - (uintptr_t)m;
	if (head)
		munmap(m, head);
	if (len - head > LFS_SLAB_BYTES)
		munmap((uint8_t *)start + LFS_SLAB_BYTES, len - head - LFS_SLAB_BYTES);
	struct lfs_slab_page *p = (struct lfs_slab_page *)start;
	/* (mmap gives zeroed memory) */
	POISON((uint8_t *)p + HEADER_BYTES, LFS_SLAB_BYTES - HEADER_BYTES);
	return p;
}

/* (ASan keeps the poison of unmapped memory: it would hit whatever is
 * mapped there next.) */
static void page_unmap(struct lfs_slab_page *p)
{
	UNPOISON(p, LFS_SLAB_BYTES);
	munmap(p, LFS_SLAB_BYTES);
}

void *lfs_slab_alloc(struct lfs_slab *s)
{
	pthread_mutex_lock(&s->lock);
	struct lfs_slab_page *p = s->partial;
	if (!p) {
		/* Mapped outside the lock (under mlockall the mmap also faults
		 * the slab in): the other lookups of a listing allocate too. A
		 * slab another thread added meanwhile is used first; this one
		 * joins the partial list all the same. */
		pthread_mutex_unlock(&s->lock);
		p = page_map();
		pthread_mutex_lock(&s->lock);
		if (!p) {
			p = s->partial;
			if (!p) {
				pthread_mutex_unlock(&s->lock);
				return NULL;
			}
		} else {
			s->pages++;
			partial_add(s, p);
		}
	}
	uint8_t *obj;
	if (p->free) {
		obj = p->free;
		UNPOISON(obj, s->obj_size);
		memcpy(&p->free, obj, sizeof(p->free));
	} else {
		obj = (uint8_t *)p + HEADER_BYTES + p->fresh * s->obj_size;
		UNPOISON(obj, s->obj_size);
		p->fresh++;
	}
	if (++p->used == s->per_page)
		partial_remove(s, p);
	s->live++;
	pthread_mutex_unlock(&s->lock);
	memset(obj, 0, s->obj_size);
	return obj;
}

void lfs_slab_free(struct lfs_slab *s, void *obj)
{
	if (!obj)
		return;
	struct lfs_slab_page *p =
	    (struct lfs_slab_page *)((uintptr_t)obj & ~(uintptr_t)(LFS_SLAB_BYTES - 1));
	pthread_mutex_lock(&s->lock);
	s->live--;
	/* An empty slab is unmapped, unless it would be the only one with
	 * room: then it stays for the next allocation (no map and unmap per
	 * create and forget at a slab's edge). */
	if (--p->used == 0 && (s->partial != p || p->next)) {
		if (p->in_partial)
			partial_remove(s, p);
		s->pages--;
		page_unmap(p);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	memcpy(obj, &p->free, sizeof(p->free));
	p->free = obj;
	POISON(obj, s->obj_size);
	if (!p->in_partial)
		partial_add(s, p);
	pthread_mutex_unlock(&s->lock);
}

void lfs_slab_destroy(struct lfs_slab *s)
{
	/* Full slabs are on no list: only the caller knows its objects. The
	 * inode table frees every inode before destroying its slab, so all
	 * slabs are gone by then; what is left here is a leak we can still
	 * unmap only if it is partial. */
	while (s->partial) {
		struct lfs_slab_page *p = s->partial;
		partial_remove(s, p);
		s->pages--;
		page_unmap(p);
	}
	pthread_mutex_destroy(&s->lock);
}
